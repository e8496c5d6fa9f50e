import { expect, Page, test } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { expectNoAxeViolations } from "./a11y";
import { drawn, openDashboard } from "./helpers";
import { readRecording, seqAt, startReplay, stopReplays } from "./replay-server";

/** The recording shipped with the project: a 500-item run on the seed-demo profile. */
const SHIPPED = path.resolve(__dirname, "..", "..", "docs", "recordings", "seed-demo-500.json.gz");

test.afterEach(async () => {
  await stopReplays();
});

/** Opens the shipped recording in the page with the "Open recording…" button. */
async function openShipped(page: Page, name = "seed-demo-500.json.gz") {
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByTestId("open-recording").click()]);
  await chooser.setFiles({ name, mimeType: "application/gzip", buffer: fs.readFileSync(SHIPPED) });
  await expect(page.getByTestId("replay-source")).toContainText(name);
}

/** Drops a file with `bytes` on the page as a browser would; whether each event's default was prevented. */
async function drop(page: Page, name: string, bytes: Buffer) {
  return page.evaluate(
    ({ name, base64 }) => {
      const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], name, { type: "application/gzip" }));
      const fire = (type: string) => {
        const event = new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true });
        document.body.dispatchEvent(event);
        return event.defaultPrevented;
      };
      return { dragover: fire("dragover"), drop: fire("drop") };
    },
    { name, base64: bytes.toString("base64") },
  );
}

/** The replay's controls as they are: pressed speed, pause label, the seek bar's value. */
async function expectControlsNamed(page: Page) {
  const seek = page.getByTestId("replay-seek");
  await expect(seek).toHaveRole("slider");
  await expect(seek).toHaveAccessibleName("Position in the recording");
  await expect(seek).toHaveAttribute("aria-valuetext", /^\d+ (min|s).* of \d+ min/);
  for (const speed of [1, 2, 5, 10]) {
    const button = page.getByTestId(`replay-speed-${speed}`);
    await expect(button).toHaveAccessibleName(new RegExp(`^${speed}×`));
    await expect(button).toHaveAttribute("aria-pressed", /^(true|false)$/);
  }
}

test("the replay server's banner and controls have no axe violations, playing and paused, in either theme", async ({ page }) => {
  const replay = await startReplay(SHIPPED, 1);
  const errors = await openDashboard(page, replay.url);
  await expect(page.getByTestId("replay-banner")).toBeVisible();
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(0);
  await expectNoAxeViolations(page, "the replay server's view, playing (dark)");
  await expectControlsNamed(page);

  const pause = page.getByTestId("replay-pause");
  await pause.click();
  await expect(pause).toHaveText("Resume");
  await expectNoAxeViolations(page, "the replay server's view, paused (dark)");

  await page.getByTestId("theme-toggle").click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  await expectNoAxeViolations(page, "the replay server's view, paused (light)");
  await pause.click();
  await expect(pause).toHaveText("Pause");
  await expectNoAxeViolations(page, "the replay server's view, playing (light)");
  expect(errors).toEqual([]);
});

test("a recording replayed in the browser has no axe violations, playing and paused", async ({ page }) => {
  const errors = await openDashboard(page);
  await openShipped(page);
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(0);
  await expectNoAxeViolations(page, "a recording replayed in the browser, playing (dark)");
  await expectControlsNamed(page);
  await page.getByTestId("replay-pause").click();
  await expect(page.getByTestId("replay-pause")).toHaveText("Resume");
  await expectNoAxeViolations(page, "a recording replayed in the browser, paused (dark)");
  await page.getByTestId("theme-toggle").click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  await expectNoAxeViolations(page, "a recording replayed in the browser, paused (light)");
  expect(errors).toEqual([]);
});

test("in a browser replay the run's id stays in the replay, and a recording dropped on it is opened in its place", async ({ page }) => {
  const errors = await openDashboard(page);
  const recording = readRecording(SHIPPED);
  const id: string = recording.run.instanceId;
  await openShipped(page);
  const row = page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);
  await expect(row).toBeVisible();
  // The run is not on this server: its id is shown, not linked to a page that does not exist.
  await expect(row.getByTestId("run-link")).toHaveCount(0);
  const shown = row.getByTestId("run-id");
  await expect(shown).toHaveText(id.slice(0, 8));
  await expect(shown).toHaveAttribute("title", id);
  const url = page.url();
  await shown.click();
  await expect(page.getByTestId("replay-source")).toContainText("seed-demo-500.json.gz");
  expect(page.url()).toBe(url);

  // Paused at the end, then another recording dropped on the page: the page opens it, from its
  // first sample, and the browser does not navigate to the file.
  await page.getByTestId("replay-pause").click();
  await page.getByTestId("replay-seek").focus();
  await page.keyboard.press("End");
  const last = recording.samples[recording.samples.length - 1].sample.seq;
  await expect.poll(async () => (await drawn(page)).last).toBe(last);
  const prevented = await drop(page, "dropped-again.json.gz", fs.readFileSync(SHIPPED));
  expect(prevented).toEqual({ dragover: true, drop: true });
  await expect(page.getByTestId("replay-source")).toContainText("dropped-again.json.gz");
  await expect(page.getByTestId("replay-pause")).toHaveText("Pause");
  await expect.poll(async () => (await drawn(page)).last).toBeLessThan(last);
  expect(page.url()).toBe(url);

  // A damaged file dropped on the replay is refused with its reason, in the replay's bar.
  await drop(page, "broken.json.gz", Buffer.from("not a recording"));
  await expect(page.getByTestId("replay-error")).toHaveText(/^broken\.json\.gz cannot be replayed: the recording is damaged/);
  await expect(page.getByTestId("replay-source")).toContainText("dropped-again.json.gz");
  expect(page.url()).toBe(url);
  expect(errors).toEqual([]);
});

test("the replay's speed, pause and seek bar work from the keyboard", async ({ page }) => {
  await openDashboard(page);
  const recording = readRecording(SHIPPED);
  await openShipped(page);
  const speeds = [1, 2, 5, 10];

  // Tab order: Back to live, the speeds, pause, the seek bar.
  await page.getByTestId("replay-back-to-live").focus();
  for (const speed of speeds) {
    await page.keyboard.press("Tab");
    await expect(page.getByTestId(`replay-speed-${speed}`)).toBeFocused();
  }
  // The last speed, chosen with Enter; then back to 5× with Shift+Tab and Space.
  await page.keyboard.press("Enter");
  await expect(page.getByTestId("replay-speed-10")).toHaveAttribute("aria-pressed", "true");
  await page.keyboard.press("Shift+Tab");
  await expect(page.getByTestId("replay-speed-5")).toBeFocused();
  await page.keyboard.press("Space");
  await expect(page.getByTestId("replay-speed-5")).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("replay-speed-10")).toHaveAttribute("aria-pressed", "false");

  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  const pause = page.getByTestId("replay-pause");
  await expect(pause).toBeFocused();
  await page.keyboard.press("Space");
  await expect(pause).toHaveText("Resume");

  await page.keyboard.press("Tab");
  const seek = page.getByTestId("replay-seek");
  await expect(seek).toBeFocused();
  // Home: the first sample; each arrow right moves on a second; End: the last sample.
  const first = recording.samples[0].sample.seq;
  await page.keyboard.press("Home");
  await expect.poll(async () => (await drawn(page)).last).toBe(first);
  await expect(seek).toHaveValue("0");
  for (let i = 0; i < 10; i++) await page.keyboard.press("ArrowRight");
  await expect(seek).toHaveValue("10000");
  await expect.poll(async () => (await drawn(page)).last).toBe(seqAt(recording, 10_000));
  expect(seqAt(recording, 10_000)).toBeGreaterThan(first);
  await expect(seek).toHaveAttribute("aria-valuetext", /^10 s of /);
  await page.keyboard.press("ArrowLeft");
  await expect(seek).toHaveValue("9000");
  await expect.poll(async () => (await drawn(page)).last).toBe(seqAt(recording, 9_000));
  await page.keyboard.press("End");
  const last = recording.samples[recording.samples.length - 1].sample.seq;
  await expect.poll(async () => (await drawn(page)).last).toBe(last);
  // Still paused: the keys moved the position, not the clock.
  await expect(pause).toHaveText("Resume");
});
