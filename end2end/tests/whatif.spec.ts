import { expect, Page, test } from "@playwright/test";
import { expectNoAxeViolations } from "./a11y";
import { openDashboard, screenshot, startRunViaApi, waitUntilFinished } from "./helpers";

/** The figures of one policy's row in the comparison table. */
async function row(page: Page, key: string) {
  const tr = page.getByTestId(`whatif-row-${key}`);
  return {
    peakDesired: Number(await tr.getByTestId("peak-desired").textContent()),
    peakNodes: Number(await tr.getByTestId("peak-nodes").textContent()),
    nodeHours: Number(await tr.getByTestId("node-hours").textContent()),
  };
}

test("the what-if lab compares three policies on a finished run, and its address shares them", async ({
  page,
  request,
}) => {
  test.setTimeout(180_000);
  // Enough work for the queue to hold more than one replica's worth for a while.
  const id = await startRunViaApi(request, 120, 20_000);
  await waitUntilFinished(request, id);

  await openDashboard(page, `/runs/${id}`);
  const lab = page.getByTestId("whatif");
  await expect(lab).toBeVisible();
  await expect(lab.getByRole("heading", { name: "What if…" })).toBeVisible();

  // A: the policy in force. B: at most one replica. C: the AKS preset, conservative, 3 nodes.
  await page.getByTestId("whatif-add").click();
  await page.getByTestId("whatif-b-profile").selectOption("demo");
  await page.getByTestId("whatif-b-maxReplicaCount").fill("1");
  await page.getByTestId("whatif-add").click();
  await expect(page.getByTestId("whatif-add")).toBeDisabled();
  await page.getByTestId("whatif-c-profile").selectOption("aks");
  await page.getByTestId("whatif-c-behavior").selectOption("conservative");
  await page.getByTestId("whatif-c-maxNodes").fill("3");
  await page.getByTestId("whatif-compare").click();

  const table = page.getByTestId("whatif-table");
  await expect(table.locator("tbody tr")).toHaveCount(3);
  const [a, b, c] = [await row(page, "a"), await row(page, "b"), await row(page, "c")];
  expect(a.peakDesired).toBeGreaterThan(1);
  expect(b.peakDesired).toBe(1);
  expect(c.peakNodes).toBeLessThanOrEqual(3);
  for (const r of [a, b, c]) expect(r.nodeHours).toBeGreaterThan(0);
  await expect(page.getByTestId("whatif-row-c")).toContainText("aks");

  // The chart is the server's drawing of the same comparison, loaded and described.
  const chart = page.getByTestId("whatif-chart");
  await expect.poll(() => chart.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1200);
  await expect(chart).toHaveAttribute("alt", /policy B peaks at 1 desired replicas/);

  // The address is the link to this comparison.
  const expected = "a=profile:cluster&b=profile:demo,maxReplicaCount:1&c=profile:aks,behavior:conservative,maxNodes:3";
  await expect(page).toHaveURL(new RegExp(`/runs/${id}\\?${expected.replace(/[+?]/g, "\\$&")}$`));

  // The CSV has every policy's rows; the PNG is a PNG.
  const csv = await request.get((await page.getByTestId("whatif-csv").getAttribute("href"))!);
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split("\n");
  expect(lines[0]).toMatch(/^policy,seconds,queue_length,desired_replicas/);
  expect(new Set(lines.slice(1).map((l) => l.split(",")[0]))).toEqual(new Set(["a", "b", "c"]));
  const png = await request.get((await page.getByTestId("whatif-png").getAttribute("href"))!);
  expect((await png.body()).subarray(0, 4)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47]));

  await table.evaluate((el) => el.scrollIntoView({ block: "start" }));
  await page.evaluate(() => window.scrollBy(0, -40));
  await screenshot(page, "whatif-lab.png", "whatif-lab.png");
  await expectNoAxeViolations(page, "what-if lab");

  // Opened from the link, the page fills the forms and compares again.
  const shared = page.url();
  const other = await page.context().newPage();
  await openDashboard(other, shared);
  await expect(other.getByTestId("whatif-table").locator("tbody tr")).toHaveCount(3);
  await expect(other.getByTestId("whatif-b-maxReplicaCount")).toHaveValue("1");
  await expect(other.getByTestId("whatif-c-behavior")).toHaveValue("conservative");
  expect((await row(other, "b")).peakDesired).toBe(1);

  // A policy the model refuses is named, and the last comparison stays.
  await other.getByTestId("whatif-b-minReplicaCount").fill("9");
  await other.getByTestId("whatif-compare").click();
  await expect(other.getByTestId("whatif-error")).toContainText("not valid");
  await expect(other.getByTestId("whatif-table").locator("tbody tr")).toHaveCount(3);
  await other.getByTestId("whatif-b-minReplicaCount").fill("many");
  await other.getByTestId("whatif-compare").click();
  await expect(other.getByTestId("whatif-error")).toContainText("Min replicas (minReplicaCount) must be a whole number");
});
