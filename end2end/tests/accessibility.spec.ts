import { expect, Page, test } from "@playwright/test";
import { expectNoAxeViolations } from "./a11y";
import { drawn, openDashboard, screenshot, startRunViaApi, waitUntilFinished, workQueue } from "./helpers";

const keyed = process.env.SCALEBOARD_KEYED_BASE_URL;

test("the dashboard has no axe violations, in either theme and in presenter mode", async ({ page }) => {
  const errors = await openDashboard(page);
  // Wait for the charts to be drawn, so their names and descriptions hold values.
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(0);
  await expectNoAxeViolations(page, "the dashboard (dark)");

  await page.getByTestId("theme-toggle").click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  await expectNoAxeViolations(page, "the dashboard (light)");

  await page.getByTestId("presenter-toggle").click();
  await expect(page.locator("html")).toHaveAttribute("data-presenter", "on");
  await expectNoAxeViolations(page, "the dashboard (presenter, light)");
  await page.getByTestId("theme-toggle").click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expectNoAxeViolations(page, "the dashboard (presenter, dark)");
  expect(errors).toEqual([]);
});

test("the read-only dashboard an audience sees has no axe violations", async ({ browser }) => {
  expect(keyed, "SCALEBOARD_KEYED_BASE_URL names the server with an operator key").toBeTruthy();
  const context = await browser.newContext({ baseURL: keyed });
  const page = await context.newPage();
  await openDashboard(page);
  await expect(page.getByTestId("read-only")).toBeVisible();
  await expectNoAxeViolations(page, "the read-only dashboard");
  await context.close();
});

test("a finished run's page has no axe violations, nor the decisions list it leaves, which the keyboard scrolls", async ({ page, request }) => {
  test.setTimeout(180_000);
  const id = await startRunViaApi(request, 3, 0);
  await waitUntilFinished(request, id, 150_000);
  await openDashboard(page, `/runs/${id}`);
  await expect(page.getByTestId("run-status")).toHaveText("Completed");
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(0);
  await expectNoAxeViolations(page, "a finished run's page");
  // With the status document open, too (it scrolls, so it takes the keyboard's focus).
  await page.getByText("Status document").click();
  await expect(page.getByTestId("run-json")).toBeVisible();
  await expectNoAxeViolations(page, "a finished run's page, status document open");

  // The run's scaling decisions are on the dashboard's list. A long demo makes it scroll; here
  // it is made short enough to scroll with the decisions there are.
  await openDashboard(page);
  await expect.poll(() => page.getByTestId("timeline-event").count()).toBeGreaterThan(0);
  await page.addStyleTag({ content: '[data-testid="timeline"] { max-height: 1rem !important; }' });
  const timeline = page.getByTestId("timeline");
  await expect.poll(() => timeline.evaluate((e) => e.scrollHeight > e.clientHeight)).toBe(true);
  await expectNoAxeViolations(page, "the dashboard with a scrolling decisions list");
  await expect(timeline).toHaveAttribute("tabindex", "0");
  await expect(timeline).toHaveAccessibleName("Scaling decisions");
  await timeline.focus();
  await expect(timeline).toBeFocused();
  await page.keyboard.press("End");
  await expect.poll(() => timeline.evaluate((e) => e.scrollTop)).toBeGreaterThan(0);
  await workQueue().clearMessages();
});

test("the charts are images named and described with their current values", async ({ page }) => {
  await openDashboard(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(/Scaleboard/);
  for (const [slug, title] of [
    ["queue", "Queue length"],
    ["pods", "Worker pods"],
    ["nodes", "Nodes"],
  ]) {
    const chart = page.getByTestId(`${slug}-chart`);
    await expect(chart).toHaveRole("img");
    await expect(chart).toHaveAccessibleName(new RegExp(`^${title} over \\d+ minutes?: now \\d+`));
    await expect(chart).toHaveAccessibleDescription(new RegExp(`^${title} over the last 5 minutes\\. Now: .+\\. Highest shown: \\d+`));
  }
  // The description follows the queue as it changes.
  const queue = workQueue();
  await queue.clearMessages();
  const description = page.getByTestId("queue-chart");
  await expect(description).toHaveAccessibleDescription(/Now: queue length 0,/);
  for (let i = 0; i < 4; i++) await queue.sendMessage(Buffer.from(`{"item":${i}}`).toString("base64"));
  await expect(description).toHaveAccessibleDescription(/Now: queue length 4,/);
  await queue.clearMessages();
  // The window picker's buttons are named by what they show.
  await expect(page.getByRole("button", { name: "Last 60 min" })).toHaveAttribute("aria-pressed", "false");
});

/**
 * Presenter mode on a 1280×720 projector with the browser zoomed to 150 %. Browser zoom is
 * emulated as what it is: a CSS viewport of 1280/1.5 × 720/1.5 = 853×480 px drawn at 1.5
 * device pixels per CSS pixel, so the layout reflows and the media queries apply exactly as
 * in a zoomed browser. (CDP's page scale factor is pinch zoom: it magnifies without reflowing,
 * so it could not show a label clipped by the zoomed layout.)
 *
 * The smallest label must be 16 CSS px: at 150 % that is 24 projector lines, 1/30 of a
 * 720-line image — the share of the screen 18 pt type takes on a 16:9 slide, the smallest size
 * usually advised for slides read across a room. The big numbers must be twice that.
 */
test("presenter mode at 150 % zoom clips no label and keeps them large", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 853, height: 480 }, deviceScaleFactor: 1.5 });
  await context.addInitScript(() => window.localStorage.setItem("scaleboard.presenter", "on"));
  const page = await context.newPage();
  const errors = await openDashboard(page);
  await expect(page.locator("html")).toHaveAttribute("data-presenter", "on");
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(0);

  const labels = [
    ".tile-label", ".tile-value", ".tile-unit", ".chart-title", ".legend li", ".badge",
    ".topbar button", ".brand", ".panel h2", ".runs th", ".field label",
  ];
  const measured = await measure(page, labels.join(", "));
  expect(measured.length).toBeGreaterThan(20);
  const clipped = measured.filter((m) => m.scrollWidth > m.clientWidth + 1 || m.right > 853.5 || m.left < -0.5);
  expect(clipped, "labels wider than their box or the screen").toEqual([]);
  const small = measured.filter((m) => m.fontSize < 16);
  expect(small, "labels under 16 CSS px").toEqual([]);
  const values = await measure(page, ".tile-value");
  expect(values.length).toBe(4);
  for (const value of values) expect(value.fontSize).toBeGreaterThanOrEqual(32);

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "horizontal scroll").toBeLessThanOrEqual(0);
  for (const slug of ["queue", "pods", "nodes"]) await expectUncovered(page, `${slug}-chart`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, "presenter-150.png");
  expect(errors).toEqual([]);
  await context.close();
});

/** Size and font of every visible element matching `selector`. */
async function measure(page: Page, selector: string) {
  return page.locator(selector).evaluateAll((elements) =>
    elements
      .filter((e) => (e as HTMLElement).offsetParent !== null && getComputedStyle(e).display !== "inline")
      .map((e) => {
        const rect = e.getBoundingClientRect();
        return {
          text: (e.textContent ?? "").trim().slice(0, 40),
          className: e.className,
          fontSize: parseFloat(getComputedStyle(e).fontSize),
          scrollWidth: e.scrollWidth,
          clientWidth: e.clientWidth,
          left: rect.left,
          right: rect.right,
        };
      }),
  );
}

/** Nothing covers the chart: at points all over it, the canvas is what the page shows. */
export async function expectUncovered(page: Page, testId: string) {
  const chart = page.getByTestId(testId);
  await chart.scrollIntoViewIfNeeded();
  const covered = await chart.evaluate((canvas) => {
    const rect = canvas.getBoundingClientRect();
    const hits: string[] = [];
    for (const fx of [0.02, 0.25, 0.5, 0.75, 0.98]) {
      for (const fy of [0.02, 0.5, 0.98]) {
        const x = rect.left + rect.width * fx;
        const y = rect.top + rect.height * fy;
        const top = document.elementFromPoint(x, y);
        if (top !== canvas) hits.push(`${fx},${fy}: ${top?.tagName}.${top?.className}`);
      }
    }
    return hits;
  });
  expect(covered, `what covers ${testId}`).toEqual([]);
}
