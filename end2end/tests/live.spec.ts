import { expect, test, WebSocketRoute } from "@playwright/test";
import { drawn, openDashboard, paintedPixels, workQueue } from "./helpers";

test.beforeEach(async () => {
  await workQueue().clearMessages();
});

test("the queue tile and chart follow the real queue", async ({ page }) => {
  const errors = await openDashboard(page);
  const tile = page.getByTestId("queue-length");
  await expect(tile).toHaveText("0");

  const queue = workQueue();
  for (let i = 0; i < 7; i++) {
    await queue.sendMessage(Buffer.from(JSON.stringify({ item: i })).toString("base64"));
  }
  await expect(tile).toHaveText("7");

  // The canvas was drawn for a recent sample and holds a chart, not a blank rectangle.
  await expect.poll(async () => (await drawn(page)).last).toBeGreaterThan(1);
  expect(await paintedPixels(page)).toBeGreaterThan(1000);
  await page.screenshot({ path: test.info().outputPath("dashboard-queue-7.png"), fullPage: true });

  await queue.clearMessages();
  await expect(tile).toHaveText("0");
  expect(errors).toEqual([]);
});

test("a dropped socket shows reconnecting, recovers by itself and leaves no gap", async ({ page }) => {
  let blocked = false;
  let refused = 0;
  const sockets: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws\/live$/, (socket) => {
    if (blocked) {
      // The network is "down": refuse the reconnect attempt.
      refused++;
      socket.close();
      return;
    }
    socket.connectToServer();
    sockets.push(socket);
  });
  await openDashboard(page);
  const badge = page.getByTestId("connection");
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(1);
  const before = await drawn(page);

  // Cut the socket and keep the network down for a few samples.
  blocked = true;
  await sockets[sockets.length - 1].close();
  await expect(badge).toHaveAttribute("data-state", "reconnecting");
  await expect(badge).toHaveText("reconnecting");
  // Three refused attempts with backoff take several seconds: samples are missed meanwhile.
  await expect.poll(() => refused, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
  blocked = false;

  await expect(badge).toHaveAttribute("data-state", "live", { timeout: 20_000 });
  // After the reconnect the chart has the samples taken while the socket was down: the
  // sequence numbers run without a hole from the first to the last.
  await expect.poll(async () => (await drawn(page)).last).toBeGreaterThan(before.last + 3);
  const after = await drawn(page);
  expect(after.first).toBeLessThanOrEqual(before.first);
  expect(after.last - after.first + 1).toBe(after.count);
});

test("the page is served with its assets and an icon", async ({ request }) => {
  for (const path of ["/", "/pkg/scaleboard.js", "/pkg/scaleboard_bg.wasm", "/pkg/scaleboard.css", "/favicon.ico"]) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(200);
  }
  const health = await request.get("/healthz");
  expect(await health.json()).toEqual({ status: "ok" });
  const ready = await request.get("/readyz");
  expect(ready.status()).toBe(200);
  expect((await ready.json()).status).toBe("ready");
});
