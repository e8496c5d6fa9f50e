import { expect, Page } from "@playwright/test";
import { QueueClient } from "@azure/storage-queue";

/** The work queue of the Azurite instance the server under test uses. */
export function workQueue(): QueueClient {
  const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connectionString) throw new Error("AZURE_STORAGE_CONNECTION_STRING is not set");
  return new QueueClient(connectionString, "work-items");
}

/** Opens the dashboard, waits until it is hydrated and live, and collects console errors. */
export async function openDashboard(page: Page): Promise<string[]> {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto("/");
  // The badge says "live" only once the wasm has hydrated and the socket has opened.
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  return errors;
}

/** The sample sequence numbers the queue chart last drew. */
export async function drawn(page: Page) {
  const chart = page.getByTestId("queue-chart");
  const number = async (name: string) => Number(await chart.getAttribute(name));
  return {
    first: await number("data-first-seq"),
    last: await number("data-drawn-seq"),
    count: await number("data-sample-count"),
  };
}

/** How many pixels of the canvas differ from its top-left (background) pixel. */
export async function paintedPixels(page: Page): Promise<number> {
  return page.getByTestId("queue-chart").evaluate((element) => {
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
