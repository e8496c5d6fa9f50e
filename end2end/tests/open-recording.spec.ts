import { expect, test } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { drawn, openDashboard, paintedPixels, screenshot } from "./helpers";
import { bannerTime, readRecording } from "./replay-server";

/** The recording shipped with the project: a 500-item run on the seed-demo profile. */
const SHIPPED = path.resolve(__dirname, "..", "..", "docs", "recordings", "seed-demo-500.json.gz");

/** Chooses a file with the dashboard's "Open recording…" button. */
async function choose(page: import("@playwright/test").Page, name: string, buffer: Buffer) {
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByTestId("open-recording").click()]);
  await chooser.setFiles({ name, mimeType: "application/gzip", buffer });
}

test("a recording opened in the dashboard replays there, marked as a replay", async ({ page }) => {
  const errors = await openDashboard(page);
  const recording = readRecording(SHIPPED);
  await choose(page, "seed-demo-500.json.gz", fs.readFileSync(SHIPPED));

  await expect(page.getByTestId("replay-banner")).toContainText(
    `Replay of ${recording.run.instanceId.slice(0, 8)} recorded ${bannerTime(recording.recordedMs)} on the local model (seed-demo profile)`,
  );
  await expect(page.getByTestId("replay-source")).toContainText("seed-demo-500.json.gz");
  await expect(page.getByTestId("replay-source")).toContainText("not live");
  // The badge and the top bar describe the recording, not the server.
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "replay");
  await expect(page.getByTestId("connection")).toHaveText("replay");
  // A replay starts no run.
  await expect(page.getByTestId("start-run")).toHaveCount(0);
  // The charts draw the recording, from its first sample on.
  const first = recording.samples[0].sample.seq;
  await expect.poll(async () => (await drawn(page)).first).toBe(first);
  await expect.poll(async () => (await drawn(page)).last).toBeGreaterThan(first);
  await expect.poll(() => paintedPixels(page)).toBeGreaterThan(100);

  // The controls move the page's own replay: to the peak at 10×, then to the end.
  await page.getByTestId("replay-speed-10").click();
  await expect(page.getByTestId("replay-speed-10")).toHaveAttribute("aria-pressed", "true");
  await expect.poll(async () => (await drawn(page)).peak, { timeout: 30_000 }).toBe(468);
  // The recorded run is still running at its peak, and a replay has nothing to stop.
  await expect(page.locator(`[data-testid="run-row"][data-run-id="${recording.run.instanceId}"]`)).toHaveAttribute(
    "data-status",
    "Running",
  );
  await expect(page.getByTestId("terminate-run")).toBeHidden();
  await screenshot(page, "replay-banner.png", "replay-banner.png");
  await page.getByTestId("replay-pause").click();
  await expect(page.getByTestId("replay-pause")).toHaveText("Resume");
  const seek = page.getByTestId("replay-seek");
  const end = Math.floor(Number(await seek.getAttribute("max")) / 1000) * 1000;
  await seek.fill(String(end));
  const last = recording.samples[recording.samples.length - 1].sample;
  await expect.poll(async () => (await drawn(page)).last).toBe(last.seq);
  expect((await drawn(page)).latest).toBe(0);
  expect(errors).toEqual([]);

  // Back to live: the page's own feed again, with the start form.
  await page.getByTestId("replay-back-to-live").click();
  await expect(page.getByTestId("replay-banner")).toHaveCount(0);
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  await expect(page.getByTestId("start-run")).toBeVisible();
});

test("a damaged recording or another version is refused with a reason, and the dashboard stays live", async ({ page }) => {
  await openDashboard(page);
  const error = page.getByTestId("open-recording-error");

  // Not gzip at all.
  await choose(page, "notes.json.gz", Buffer.from("these are not the bytes you are looking for"));
  await expect(error).toBeVisible();
  await expect(error).toHaveText(/^notes\.json\.gz cannot be replayed: the recording is damaged: not a gzip file/);

  // A recording cut short.
  const shipped = fs.readFileSync(SHIPPED);
  await choose(page, "cut.json.gz", shipped.subarray(0, Math.floor(shipped.length / 2)));
  await expect(error).toHaveText(/^cut\.json\.gz cannot be replayed: the recording is damaged/);

  // Gzip, JSON, but another schema version.
  const future = { ...readRecording(SHIPPED), schemaVersion: 2 };
  await choose(page, "future.json.gz", zlib.gzipSync(JSON.stringify(future)));
  await expect(error).toHaveText(
    "future.json.gz cannot be replayed: the recording has schema version 2; this build of Scaleboard reads version 1",
  );

  // Nothing replaced the live dashboard: no banner, the form is there, samples still arrive.
  await expect(page.getByTestId("replay-bar")).toHaveCount(0);
  await expect(page.getByTestId("start-run")).toBeVisible();
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  const now = (await drawn(page)).last;
  await expect.poll(async () => (await drawn(page)).last).toBeGreaterThan(now);
});
