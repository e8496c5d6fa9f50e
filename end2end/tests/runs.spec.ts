import { expect, test } from "@playwright/test";
import {
  attr,
  drawn,
  instanceIds,
  openDashboard,
  paintedPixels,
  runRow,
  runStatus,
  screenshot,
  START,
  startRunFromForm,
  startRunViaApi,
  waitUntilFinished,
  waitForIdle,
  workQueue,
} from "./helpers";

// About 50 ms of SHA-256 per item: 200 items make pods and nodes move for a minute.
const COST = "150000";

test.afterEach(async () => {
  // A terminated run leaves its items on the queue; the next test starts from an empty one.
  await workQueue().clearMessages();
});

test("a run started from the form completes while pods rise above one and fall back", async ({ page, request }) => {
  test.setTimeout(240_000);
  const errors = await openDashboard(page);
  await page.getByTestId("window-1").click();
  await waitForIdle(page);

  // Hold the start request to see the button disabled while it is in flight.
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(`**${START}*`, async (route) => {
    await held;
    await route.continue();
  });
  const button = page.getByTestId("start-run");
  await page.getByLabel("Items", { exact: true }).fill("200");
  await page.getByLabel("Cost / item").fill(COST);
  const accepted = page.waitForResponse((r) => r.url().includes(START));
  await button.click();
  await expect(button).toBeDisabled();
  await expect(button).toHaveText("Starting…");
  release();
  const response = await accepted;
  expect(response.status()).toBe(202);
  const { id } = await response.json();
  await page.unroute(`**${START}*`);
  await expect(button).toBeEnabled();

  // The run is in the table at once, then follows the feed.
  const row = runRow(page, id);
  await expect(row).toBeVisible();
  await expect(row).toHaveAttribute("data-total", "200");

  // Pods rise above one: the tile and the chart say so.
  const pods = page.getByTestId("pods-running");
  await expect.poll(() => attr(pods, "data-total"), { timeout: 60_000 }).toBeGreaterThan(1);
  await expect.poll(async () => (await drawn(page, "pods-chart")).peak).toBeGreaterThan(1);
  expect(await paintedPixels(page, "pods-chart")).toBeGreaterThan(1000);
  await expect.poll(() => attr(row, "data-completed"), { timeout: 60_000 }).toBeGreaterThan(0);
  await screenshot(page, "dashboard-mid-run.png");

  await expect(row).toHaveAttribute("data-status", "Completed", { timeout: 120_000 });
  await expect(row).toHaveAttribute("data-completed", "200");
  await expect(row.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "200");
  const status = await runStatus(request, id);
  expect(status.runtimeStatus).toBe("Completed");
  expect(status.customStatus.completed).toBe(200);

  // After the cooldown the pods fall back; the chart still shows the peak it had.
  await expect.poll(() => attr(pods, "data-total"), { timeout: 120_000 }).toBeLessThanOrEqual(1);
  await expect.poll(async () => (await drawn(page, "pods-chart")).latest).toBeLessThanOrEqual(1);
  expect((await drawn(page, "pods-chart")).peak).toBeGreaterThan(1);
  await expect(page.getByTestId("timeline-event").first()).toBeVisible();
  await expect(page.locator('[data-testid="timeline-event"][data-kind="scale_up"]').first()).toBeVisible();
  await screenshot(page, "dashboard-after-run.png", "dashboard.png");
  expect(errors).toEqual([]);
});

test("the value tiles match the API", async ({ page, request }) => {
  await openDashboard(page);
  const cluster = await (await request.get("/api/cluster")).json();
  expect(cluster.source).toBe("local");
  const profile = cluster.profile;

  await expect(page.getByTestId("cluster-source")).toContainText(`${profile.name} profile`);
  await expect(page.getByTestId("queue-target")).toHaveAttribute(
    "data-value",
    String(profile.scaled_object.queue_length),
  );
  const nodes = page.getByTestId("nodes-ready");
  const ready = await attr(nodes, "data-ready");
  expect(ready).toBeGreaterThanOrEqual(profile.node_pool.min_nodes);
  expect(ready + (await attr(nodes, "data-provisioning"))).toBeLessThanOrEqual(profile.node_pool.max_nodes);
  const pods = page.getByTestId("pods-running");
  expect(await attr(pods, "data-desired")).toBeLessThanOrEqual(profile.scaled_object.max_replicas);
  expect(await attr(pods, "data-running")).toBeLessThanOrEqual(await attr(pods, "data-total"));

  // The queue tile shows what the queue holds (the queue is empty between tests).
  const length = (await workQueue().getProperties()).approximateMessagesCount ?? -1;
  await expect(page.getByTestId("queue-length")).toHaveAttribute("data-value", String(length));

  // Every finished run in the table has the status and counts the instances API reports.
  const rows = page.getByTestId("run-row");
  const count = await rows.count();
  for (let i = 0; i < count; i++) {
    const row = rows.nth(i);
    const status = await row.getAttribute("data-status");
    if (!status || !/^(Completed|Failed|Terminated)$/.test(status)) continue;
    const doc = await runStatus(request, (await row.getAttribute("data-run-id"))!);
    expect(doc.runtimeStatus).toBe(status);
    expect(String(doc.customStatus.completed)).toBe(await row.getAttribute("data-completed"));
    expect(String(doc.customStatus.total)).toBe(await row.getAttribute("data-total"));
  }
});

test("bad item counts are explained next to the field and start nothing", async ({ page, request }) => {
  const errors = await openDashboard(page);
  const before = await instanceIds(request);
  const posts: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().includes(START)) posts.push(r.url());
  });
  const input = page.getByLabel("Items", { exact: true });
  const error = page.getByTestId("start-error");

  for (const [text, says] of [
    ["0", "at least 1"],
    ["-1", "at least 1"],
    ["abc", "not a whole number"],
    ["20000000", "At most 10,000,000"],
    ["", "Enter how many"],
  ]) {
    await input.fill(text);
    await page.getByTestId("start-run").click();
    await expect(error).toBeVisible();
    await expect(error).toContainText(says);
    await expect(input).toHaveAttribute("aria-invalid", "true");
  }
  expect(posts).toEqual([]);

  // Within the page's bounds but over the server's limit: the server's own words, inline.
  await input.fill("10000000");
  const answered = page.waitForResponse((r) => r.url().includes(START));
  await page.getByTestId("start-run").click();
  expect((await answered).status()).toBe(400);
  await expect(error).toContainText("inputCount must be between 1 and");
  expect(posts).toHaveLength(1);

  expect(await instanceIds(request)).toEqual(before);
  // A good count clears the error.
  await input.fill("5");
  await page.getByLabel("Cost / item").fill("1000");
  const ok = page.waitForResponse((r) => r.url().includes(START));
  await page.getByTestId("start-run").click();
  const { id } = await (await ok).json();
  await expect(error).toBeHidden();
  await waitUntilFinished(request, id);
  // The server reports 400 responses to the console as failed loads; nothing else.
  expect(errors.filter((e) => !e.includes("400"))).toEqual([]);
});

test("a run can be terminated from the table", async ({ page, request }) => {
  test.setTimeout(120_000);
  await openDashboard(page);
  // Many light items: the run is still going when it is stopped, without starving the
  // machine's two cores (heavy items on twelve in-process pods slow Azurite to a crawl).
  const id = await startRunFromForm(page, "1000", "20000");
  const row = runRow(page, id);
  await expect(row).toHaveAttribute("data-status", /Pending|Running/);
  const stop = row.getByTestId("terminate-run");
  await expect(stop).toBeVisible();
  await stop.click();
  await expect(row).toHaveAttribute("data-status", "Terminated", { timeout: 30_000 });
  await expect(stop).toBeHidden();
  const status = await runStatus(request, id);
  expect(status.runtimeStatus).toBe("Terminated");
  expect(status.customStatus.completed).toBeLessThan(1000);
});

test("a second browser sees the same run live", async ({ browser, request }) => {
  test.setTimeout(180_000);
  const presenter = await browser.newPage();
  const audience = await (await browser.newContext()).newPage();
  await openDashboard(presenter);
  const errors = await openDashboard(audience);

  const id = await startRunFromForm(presenter, "200", COST);
  const row = runRow(audience, id);
  // The other browser learns of the run from the live feed alone.
  await expect(row).toBeVisible({ timeout: 15_000 });
  await expect.poll(() => attr(row, "data-completed"), { timeout: 60_000 }).toBeGreaterThan(0);
  await expect(row).toHaveAttribute("data-status", "Completed", { timeout: 120_000 });
  await expect(row).toHaveAttribute("data-completed", "200");
  await expect(runRow(presenter, id)).toHaveAttribute("data-status", "Completed");

  // Both draw the same samples.
  const [a, b] = [await drawn(presenter), await drawn(audience)];
  expect(Math.abs(a.last - b.last)).toBeLessThanOrEqual(2);
  expect(errors).toEqual([]);
  await presenter.close();
  await audience.context().close();
});

test("a run's page shows its status, its charts and its exports", async ({ page, request }) => {
  test.setTimeout(120_000);
  const id = await startRunViaApi(request, 40, 1000);
  await waitUntilFinished(request, id);
  const errors = await openDashboard(page);
  await runRow(page, id).getByTestId("run-link").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${id}$`));
  await expect(page.getByTestId("run-status")).toHaveText("Completed");
  await expect(page.getByTestId("run-completed")).toHaveText("40");
  await expect(page.getByTestId("run-json")).toContainText(`"instanceId": "${id}"`);
  await expect.poll(async () => (await drawn(page, "queue-chart")).count).toBeGreaterThan(0);
  await expect(page.getByTestId("export-samples-csv")).toHaveAttribute("href", `/api/export/samples.csv?run=${id}`);
  await screenshot(page, "run-page.png");

  // Opened directly, too.
  await page.goto(`/runs/${id}`);
  await expect(page.getByTestId("run-status")).toHaveText("Completed");
  await page.goto("/runs/no-such-run");
  await expect(page.getByTestId("run-error")).toContainText("no-such-run");
  expect(errors.filter((e) => !e.includes("404"))).toEqual([]);
});
