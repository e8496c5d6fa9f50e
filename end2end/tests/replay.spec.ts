import { expect, Page, test } from "@playwright/test";
import * as path from "node:path";
import { drawn, openDashboard, paintedPixels, screenshot, startRunViaApi, waitUntilFinished } from "./helpers";
import { bannerTime, readRecording, seqAt, startReplay, stopReplays } from "./replay-server";

/** The recording shipped with the project: a 500-item run on the seed-demo profile. */
const SHIPPED = path.resolve(__dirname, "..", "..", "docs", "recordings", "seed-demo-500.json.gz");

test.afterEach(async () => {
  await stopReplays();
});

/**
 * Watches the queue chart for `ms` and fails if it draws any sample other than `seq`: an
 * observation window, polled, not a pause before an assertion.
 */
async function drawsNothingNewFor(page: Page, seq: number, ms: number) {
  const until = Date.now() + ms;
  await expect
    .poll(
      async () => {
        const now = await drawn(page);
        if (now.last !== seq) return `drew sample ${now.last} after ${seq}`;
        return Date.now() >= until ? "still" : "watching";
      },
      { intervals: [100], timeout: ms + 10_000 },
    )
    .toBe("still");
}

test("a finished run is downloaded from its page, replayed, sought, paused and sped up", async ({ page, request }) => {
  test.setTimeout(180_000);
  const id = await startRunViaApi(request, 20, 0);
  await waitUntilFinished(request, id);

  // The run's page offers its recording once it has finished.
  await openDashboard(page, `/runs/${id}`);
  const link = page.getByTestId("download-recording");
  await expect(link).toBeVisible();
  await expect(link).toHaveAttribute("href", `/api/runs/${id}/recording`);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(download.suggestedFilename()).toBe(`scaleboard-${id}.json.gz`);
  const file = test.info().outputPath(download.suggestedFilename());
  await download.saveAs(file);
  const recording = readRecording(file);
  expect(recording.run.instanceId).toBe(id);
  expect(recording.samples.length).toBeGreaterThan(3);

  const replay = await startReplay(file);
  await openDashboard(page, replay.url);
  await expect(page.getByTestId("replay-banner")).toHaveText(
    new RegExp(`^Replay of ${id.slice(0, 8)} recorded ${bannerTime(recording.recordedMs)} on the local model`),
  );
  // A replay starts no run.
  await expect(page.getByTestId("start-run")).toHaveCount(0);
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(0);
  await expect.poll(() => paintedPixels(page)).toBeGreaterThan(100);

  // Pause, then seek to the middle: the chart shows exactly the samples up to there.
  const pause = page.getByTestId("replay-pause");
  await pause.click();
  await expect(pause).toHaveText("Resume");
  const seek = page.getByTestId("replay-seek");
  const length = Number(await seek.getAttribute("max"));
  const middle = Math.floor(length / 2 / 1000) * 1000;
  const expected = seqAt(recording, middle);
  expect(expected).toBeGreaterThan(recording.samples[0].sample.seq);
  await seek.fill(String(middle));
  await expect.poll(async () => (await drawn(page)).last).toBe(expected);
  expect((await drawn(page)).first).toBe(recording.samples[0].sample.seq);

  // Paused: nothing new is drawn over several recorded intervals.
  await drawsNothingNewFor(page, expected, 3 * recording.intervalMs + 500);

  // Resumed at 10×: samples come again, and the speed shows as chosen.
  await page.getByTestId("replay-speed-10").click();
  await expect(page.getByTestId("replay-speed-10")).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("replay-speed-1")).toHaveAttribute("aria-pressed", "false");
  await pause.click();
  await expect(pause).toHaveText("Pause");
  await expect.poll(async () => (await drawn(page)).last).toBeGreaterThan(expected);
  for (const speed of [1, 2, 5]) {
    await page.getByTestId(`replay-speed-${speed}`).click();
    await expect(page.getByTestId(`replay-speed-${speed}`)).toHaveAttribute("aria-pressed", "true");
  }
  // Sought to near the end, the replay plays on to the recording's last sample and stops there.
  await seek.fill(String(Math.floor(length / 1000) * 1000));
  const last = recording.samples[recording.samples.length - 1].sample.seq;
  await expect.poll(async () => (await drawn(page)).last).toBe(last);
  await drawsNothingNewFor(page, last, 2 * recording.intervalMs);
});

test("the shipped recording at 5× shows the queue rise to its peak and drain", async ({ page }) => {
  test.setTimeout(150_000);
  const recording = readRecording(SHIPPED);
  const lengths = recording.samples.map((s: { sample: { queue_length: number } }) => s.sample.queue_length);
  const peak = Math.max(...lengths);
  expect(peak).toBe(468);

  const replay = await startReplay(SHIPPED, 5);
  await openDashboard(page, replay.url);
  await expect(page.getByTestId("replay-banner")).toHaveText(
    `Replay of ${recording.run.instanceId.slice(0, 8)} recorded ${bannerTime(recording.recordedMs)} on the local model (seed-demo profile)`,
  );
  await expect(page.getByTestId("replay-speed-5")).toHaveAttribute("aria-pressed", "true");
  // The queue rises to its peak (44 recorded seconds: 9 s at 5×)…
  await expect.poll(async () => (await drawn(page)).peak, { timeout: 40_000 }).toBe(peak);
  await screenshot(page, "replay-server.png");
  // …and drains to nothing (186 recorded seconds: 37 s at 5×).
  await expect.poll(async () => (await drawn(page)).latest, { timeout: 90_000 }).toBe(0);
  expect((await drawn(page)).peak).toBe(peak);
  expect(await paintedPixels(page)).toBeGreaterThan(100);
});
