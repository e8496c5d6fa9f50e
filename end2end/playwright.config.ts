import { defineConfig } from "@playwright/test";

// `cargo xtask test` starts Azurite and the server on free ports and passes their addresses;
// run the suite through it rather than on its own.
const baseURL = process.env.SCALEBOARD_BASE_URL;
if (!baseURL) {
  throw new Error(
    "SCALEBOARD_BASE_URL is not set: run the browser tests with `cargo xtask test`, which starts Azurite and the server",
  );
}

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  // One server and one queue are shared: tests run one at a time.
  workers: 1,
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    viewport: { width: 1280, height: 720 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
});
