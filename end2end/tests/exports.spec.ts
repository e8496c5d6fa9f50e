import { expect, Page, test } from "@playwright/test";
import * as fs from "node:fs";
import { drawn, openDashboard, startRunViaApi, waitUntilFinished } from "./helpers";

/** Clicks an export link and returns the downloaded file's name and bytes. */
async function download(page: Page, testId: string) {
  const [file] = await Promise.all([page.waitForEvent("download"), page.getByTestId(testId).click()]);
  const path = await file.path();
  return { name: file.suggestedFilename(), bytes: fs.readFileSync(path) };
}

/** Parses an SVG in the browser: its root, any parser error, and the text it shows. */
async function parseSvg(page: Page, text: string) {
  return page.evaluate((source) => {
    const doc = new DOMParser().parseFromString(source, "image/svg+xml");
    return {
      root: doc.documentElement.nodeName,
      error: doc.querySelector("parsererror")?.textContent ?? null,
      texts: [...doc.querySelectorAll("text")].map((t) => (t.textContent ?? "").trim()),
      shapes: doc.querySelectorAll("polyline, polygon, path, line").length,
    };
  }, text);
}

test("exports download and parse: charts as SVG and PNG, samples as CSV and JSON", async ({ page }) => {
  await openDashboard(page);
  await expect.poll(async () => (await drawn(page)).count).toBeGreaterThan(3);

  const svg = await download(page, "export-queue-svg");
  expect(svg.name).toMatch(/\.svg$/);
  const parsed = await parseSvg(page, svg.bytes.toString("utf8"));
  expect(parsed.error).toBeNull();
  expect(parsed.root).toBe("svg");
  expect(parsed.texts).toContain("Queue length");
  expect(parsed.texts).toContain("queue length");
  expect(parsed.texts).toContain("now");
  expect(parsed.shapes).toBeGreaterThan(10);

  const all = await parseSvg(page, (await download(page, "export-charts-svg")).bytes.toString("utf8"));
  expect(all.error).toBeNull();
  for (const title of ["Queue length", "Worker pods", "Nodes"]) expect(all.texts).toContain(title);

  const png = await download(page, "export-pods-png");
  expect(png.name).toMatch(/\.png$/);
  expect([...png.bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.bytes.length).toBeGreaterThan(10_000);
  // IHDR: width and height, big-endian, right after the signature and chunk header.
  expect(png.bytes.readUInt32BE(16)).toBe(1200);
  expect(png.bytes.readUInt32BE(20)).toBe(360);

  const csv = (await download(page, "export-samples-csv")).bytes.toString("utf8").trim().split("\n");
  const header = csv[0].split(",");
  expect(header.slice(0, 4)).toEqual(["t_ms", "time", "seq", "queue_length"]);
  expect(csv.length).toBeGreaterThan(3);
  const seqs = csv.slice(1).map((line) => Number(line.split(",")[2]));
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1] + 1);

  const json = JSON.parse((await download(page, "export-samples-json")).bytes.toString("utf8"));
  expect(json.count).toBe(json.samples.length);
  expect(json.samples.length).toBeGreaterThan(3);
  for (const sample of json.samples) {
    expect(sample.t_ms).toBeGreaterThanOrEqual(json.from_ms);
    expect(sample.t_ms).toBeLessThanOrEqual(json.to_ms);
  }
  // The window picker changes what the links export.
  await page.getByTestId("window-15").click();
  await expect(page.getByTestId("export-samples-json")).toHaveAttribute("href", /minutes=15$/);
});

test("a run's exports cover its time span", async ({ page, request }) => {
  test.setTimeout(120_000);
  const id = await startRunViaApi(request, 30, 1000);
  const status = await waitUntilFinished(request, id);
  const response = await request.get(`/api/export/samples.csv?run=${id}`);
  expect(response.status()).toBe(200);
  expect(response.headers()["content-disposition"]).toContain("attachment");
  const lines = (await response.text()).trim().split("\n");
  expect(lines[0]).toContain("run_status,run_completed,run_failed,run_total");
  const created = Date.parse(status.createdTime);
  const updated = Date.parse(status.lastUpdatedTime);
  for (const line of lines.slice(1)) {
    const t = Number(line.split(",")[0]);
    expect(t).toBeGreaterThanOrEqual(created);
    expect(t).toBeLessThanOrEqual(updated);
  }
  const svg = await request.get(`/api/export/nodes.svg?run=${id}&theme=dark`);
  expect(svg.headers()["content-type"]).toBe("image/svg+xml");
  const parsed = await parseSvg(page, await svg.text());
  expect(parsed.error).toBeNull();
  expect(parsed.texts).toContain("Nodes");
});

test("bad export parameters are a 400 that names the problem", async ({ request }) => {
  for (const [query, says] of [
    ["minutes=abc", "minutes must be a whole number"],
    ["minutes=0", "minutes must be between 1 and 1440"],
    ["from=9000&to=3000", "from (9000) must be before to (3000)"],
    ["run=x&minutes=5", "run cannot be combined"],
    ["run=bad%2Fid", "not a valid instance id"],
    ["window=5", "unknown parameter `window`"],
  ]) {
    const response = await request.get(`/api/export/samples.csv?${query}`);
    expect(response.status(), query).toBe(400);
    expect((await response.json()).error, query).toContain(says);
  }
  const chart = await request.get("/api/export/queue.svg?theme=pink");
  expect(chart.status()).toBe(400);
  expect((await chart.json()).error).toContain("theme must be light or dark");
  const unknown = await request.get("/api/export/cpu.svg");
  expect(unknown.status()).toBe(404);
  expect((await unknown.json()).error).toContain("queue.svg");
  const missing = await request.get("/api/export/samples.csv?run=0123456789abcdef");
  expect(missing.status()).toBe(404);
});
