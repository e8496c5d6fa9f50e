import { expect, test } from "@playwright/test";
import { drawn, openDashboard, report, screenshot } from "./helpers";

// The read-only dashboard, as the audience opens it: the server with an operator key.
const keyed = process.env.SCALEBOARD_KEYED_BASE_URL;

/** The first live frame's budget: a snapshot of the newest minute of samples and the recent
 * runs, so a phone on a slow link draws its charts from one small frame (the older samples
 * follow in bounded history frames). */
const FIRST_FRAME_MAX_BYTES = 32 * 1024;

test("the read-only dashboard works on a 390 px phone over a slow link", async ({ browser }) => {
  expect(keyed, "SCALEBOARD_KEYED_BASE_URL names the server with an operator key").toBeTruthy();
  test.setTimeout(90_000);
  const context = await browser.newContext({
    baseURL: keyed,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
  });
  const page = await context.newPage();
  // A slow mobile link: 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trips.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  });
  const frames: string[] = [];
  page.on("websocket", (socket) => {
    if (!socket.url().endsWith("/ws/live")) return;
    socket.on("framereceived", ({ payload }) => frames.push(payload.toString()));
  });

  const errors = await openDashboard(page);
  await expect(page.getByTestId("read-only")).toBeVisible();
  await expect.poll(() => frames.length).toBeGreaterThan(0);
  const first = frames[0];
  expect(JSON.parse(first).type).toBe("snapshot");
  const firstBytes = Buffer.byteLength(first);
  report("first live frame (bytes)", String(firstBytes));
  expect(firstBytes).toBeLessThanOrEqual(FIRST_FRAME_MAX_BYTES);

  // No horizontal scroll.
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(scrollWidth).toBeLessThanOrEqual(390);

  // Three charts, drawn, each nearly the screen's width.
  for (const slug of ["queue", "pods", "nodes"]) {
    const chart = page.getByTestId(`${slug}-chart`);
    await chart.scrollIntoViewIfNeeded();
    await expect(chart).toBeVisible();
    await expect.poll(async () => (await drawn(page, `${slug}-chart`)).count).toBeGreaterThan(0);
    const box = (await chart.boundingBox())!;
    expect(box.width, `${slug} chart width`).toBeGreaterThanOrEqual(350);
    expect(box.height, `${slug} chart height`).toBeGreaterThanOrEqual(150);
  }

  // Tiles readable: large values, nothing cut off.
  const tiles = await page.locator(".tile-label, .tile-value, .tile-unit").evaluateAll((elements) =>
    elements.map((e) => ({
      text: (e.textContent ?? "").trim(),
      fontSize: parseFloat(getComputedStyle(e).fontSize),
      fits: e.scrollWidth <= e.clientWidth + 1,
      right: e.getBoundingClientRect().right,
    })),
  );
  expect(tiles.length).toBe(12);
  expect(tiles.filter((t) => !t.fits || t.right > 390)).toEqual([]);
  expect(Math.min(...tiles.map((t) => t.fontSize))).toBeGreaterThanOrEqual(12);
  for (const id of ["queue-length", "nodes-ready", "throughput"]) {
    const size = await page.getByTestId(id).evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    expect(size, id).toBeGreaterThanOrEqual(32);
  }

  // The header's controls wrap onto more lines rather than run off the screen.
  const controls = await page.locator(".topbar :is(a, button, .badge, .context)").evaluateAll((elements) =>
    elements
      .filter((e) => (e as HTMLElement).offsetParent !== null)
      .map((e) => {
        const rect = e.getBoundingClientRect();
        return { text: (e.textContent ?? "").trim(), left: rect.left, right: rect.right, top: rect.top };
      }),
  );
  expect(controls.length).toBeGreaterThanOrEqual(8);
  expect(controls.filter((c) => c.left < 0 || c.right > 390)).toEqual([]);
  expect(new Set(controls.map((c) => Math.round(c.top))).size, "header rows").toBeGreaterThan(1);
  const header = await page.locator(".topbar").evaluate((e) => e.scrollWidth - e.clientWidth);
  expect(header).toBeLessThanOrEqual(0);

  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, "viewer-390.png", "viewer-390.png");
  expect(errors).toEqual([]);
  await context.close();
});
