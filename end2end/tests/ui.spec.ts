import { expect, test } from "@playwright/test";
import { drawn, openDashboard, screenshot } from "./helpers";

test("presenter mode and theme are toggled in the header and remembered", async ({ page }) => {
  const errors = await openDashboard(page);
  const html = page.locator("html");
  await expect(html).toHaveAttribute("data-theme", "dark");
  await expect(html).toHaveAttribute("data-presenter", "off");
  const presenter = page.getByTestId("presenter-toggle");
  await expect(presenter).toHaveAttribute("aria-pressed", "false");

  const before = await page.getByTestId("queue-length").evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
  const drawnBefore = (await drawn(page)).last;
  await presenter.click();
  await page.getByTestId("theme-toggle").click();
  await expect(html).toHaveAttribute("data-presenter", "on");
  await expect(html).toHaveAttribute("data-theme", "light");
  const after = await page.getByTestId("queue-length").evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
  expect(after).toBeGreaterThan(before);
  // The charts are redrawn in the new look at once, not at the next sample only.
  await expect.poll(async () => (await drawn(page)).last).toBeGreaterThanOrEqual(drawnBefore);
  await screenshot(page, "dashboard-presenter-light.png");

  await page.reload();
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  await expect(html).toHaveAttribute("data-presenter", "on");
  await expect(html).toHaveAttribute("data-theme", "light");
  await expect(presenter).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("theme-toggle")).toHaveAccessibleName("Switch to the Dark theme");
  await page.getByTestId("window-15").click();
  await page.reload();
  await expect(page.getByTestId("window-15")).toHaveAttribute("aria-pressed", "true");
  expect(errors).toEqual([]);
});

test("the dashboard fits a phone", async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const errors = await openDashboard(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  for (const id of ["queue-length", "pods-running", "nodes-ready", "throughput", "start-run"]) {
    await expect(page.getByTestId(id)).toBeVisible();
  }
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(0);
  const box = await page.getByTestId("queue-chart").boundingBox();
  expect(box!.width).toBeGreaterThan(300);
  await screenshot(page, "dashboard-phone.png");
  expect(errors).toEqual([]);
  await context.close();
});

test("controls have accessible names", async ({ page }) => {
  await openDashboard(page);
  await expect(page.getByRole("textbox", { name: "Items", exact: true })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Cost / item" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Start run" })).toBeVisible();
  await expect(page.getByRole("group", { name: "Chart time window" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Last 60 min" })).toBeVisible();
  await expect(page.getByRole("img", { name: /^Queue length over/ })).toBeVisible();
  await expect(page.getByRole("status").first()).toBeVisible();
});
