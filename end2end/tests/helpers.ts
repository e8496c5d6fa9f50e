import { APIRequestContext, expect, Locator, Page, test } from "@playwright/test";
import { QueueClient } from "@azure/storage-queue";
import * as fs from "node:fs";
import * as path from "node:path";

export const INSTANCES = "/runtime/webhooks/durabletask/instances";
export const START = "/api/orchestrators/ComputeOrchestrator";

/** The work queue of the Azurite instance the server under test uses. */
export function workQueue(): QueueClient {
  const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connectionString) throw new Error("AZURE_STORAGE_CONNECTION_STRING is not set");
  return new QueueClient(connectionString, "work-items");
}

/** Opens the dashboard, waits until it is hydrated and live, and collects console errors. */
export async function openDashboard(page: Page, url = "/"): Promise<string[]> {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  // The badge says "live" only once the wasm has hydrated and the socket has opened.
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  return errors;
}

/** The sample sequence numbers a chart last drew. */
export async function drawn(page: Page, chart = "queue-chart") {
  const canvas = page.getByTestId(chart);
  const number = async (name: string) => Number(await canvas.getAttribute(name));
  return {
    first: await number("data-first-seq"),
    last: await number("data-drawn-seq"),
    count: await number("data-sample-count"),
    latest: await number("data-latest"),
    peak: await number("data-peak"),
  };
}

/** How many pixels of the canvas differ from its top-left (background) pixel. */
export async function paintedPixels(page: Page, chart = "queue-chart"): Promise<number> {
  return page.getByTestId(chart).evaluate((element) => {
    const canvas = element as HTMLCanvasElement;
    const context = canvas.getContext("2d");
    if (!context) return 0;
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let painted = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]) painted++;
    }
    return painted;
  });
}

/** A numeric data attribute of an element. */
export async function attr(locator: Locator, name: string): Promise<number> {
  return Number(await locator.getAttribute(name));
}

/** The ids of every run the instances API lists. */
export async function instanceIds(request: APIRequestContext): Promise<string[]> {
  const response = await request.get(INSTANCES);
  expect(response.status()).toBe(200);
  const list: { instanceId: string }[] = await response.json();
  return list.map((run) => run.instanceId).sort();
}

/** A run's status document. */
export async function runStatus(request: APIRequestContext, id: string) {
  const response = await request.get(`${INSTANCES}/${id}`);
  expect([200, 202]).toContain(response.status());
  return response.json();
}

/** Starts a run through the API (as `curl` users do) and returns its id. */
export async function startRunViaApi(request: APIRequestContext, items: number, cost: number): Promise<string> {
  const response = await request.post(`${START}?inputCount=${items}&cost=${cost}`);
  expect(response.status()).toBe(202);
  return (await response.json()).id;
}

/** Waits until the API says the run has finished, and returns its status document. */
export async function waitUntilFinished(request: APIRequestContext, id: string, timeout = 120_000) {
  await expect
    .poll(async () => (await runStatus(request, id)).runtimeStatus, { timeout })
    .toMatch(/^(Completed|Failed|Terminated)$/);
  return runStatus(request, id);
}

/** Fills the start form and presses Start run; returns the run id from the server's 202. */
export async function startRunFromForm(page: Page, items: string, cost: string): Promise<string> {
  await page.getByLabel("Items", { exact: true }).fill(items);
  await page.getByLabel("Cost / item").fill(cost);
  const accepted = page.waitForResponse(
    (r) => r.url().includes(START) && r.request().method() === "POST",
  );
  await page.getByTestId("start-run").click();
  const response = await accepted;
  expect(response.status()).toBe(202);
  return (await response.json()).id;
}

/**
 * Waits until the cluster is idle: nothing on the queue and at most one pod, so that pods
 * rising afterwards are the next run's doing.
 */
export async function waitForIdle(page: Page, timeout = 120_000) {
  await expect(page.getByTestId("queue-length")).toHaveAttribute("data-value", "0", { timeout });
  await expect
    .poll(async () => Number(await page.getByTestId("pods-running").getAttribute("data-total")), { timeout })
    .toBeLessThanOrEqual(1);
}

/** The runs table's row of a run. */
export function runRow(page: Page, id: string): Locator {
  return page.locator(`[data-testid="run-row"][data-run-id="${id}"]`);
}

/**
 * Saves screenshots as test artifacts: the viewport (what the room sees) as `name` and the
 * whole page as `<name>-full.png`. With SCALEBOARD_UPDATE_SCREENSHOT=1 the viewport one is
 * also copied to `docs/<publishAs>` for the README.
 */
export async function screenshot(page: Page, name: string, publishAs?: string) {
  const file = test.info().outputPath(name);
  const full = test.info().outputPath(name.replace(/\.png$/, "-full.png"));
  await page.screenshot({ path: file });
  await page.screenshot({ path: full, fullPage: true });
  await test.info().attach(name, { path: file, contentType: "image/png" });
  if (publishAs && process.env.SCALEBOARD_UPDATE_SCREENSHOT === "1") {
    const target = path.resolve(__dirname, "..", "..", "docs", publishAs);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(file, target);
  }
}

/** Records a measured figure: printed, and kept as a test annotation in the report. */
export function report(name: string, value: string) {
  console.log(`[measure] ${name}: ${value}`);
  test.info().annotations.push({ type: name, description: value });
}
