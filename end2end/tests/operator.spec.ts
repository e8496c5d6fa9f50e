import { expect, test } from "@playwright/test";
import { openDashboard, runRow, START, screenshot } from "./helpers";

// A second server that has an operator key, started by `cargo xtask test` next to the first.
const keyed = process.env.SCALEBOARD_KEYED_BASE_URL;
const key = process.env.SCALEBOARD_OPERATOR_KEY ?? "";

test.describe("a server with an operator key", () => {
  test.use({ baseURL: keyed });

  test("the dashboard is read-only until the operator signs in, and again after sign-out", async ({ page, request }) => {
    // `cargo xtask test` starts that server; without it this test fails rather than passing unrun.
    expect(keyed, "SCALEBOARD_KEYED_BASE_URL names the server with an operator key").toBeTruthy();
    expect(key, "SCALEBOARD_OPERATOR_KEY is that server's key").not.toBe("");
    const errors = await openDashboard(page);
    await expect(page.getByTestId("read-only")).toBeVisible();
    await expect(page.getByTestId("start-run")).toBeDisabled();
    await expect(page.getByTestId("start-read-only")).toContainText("sign in with the operator key");
    // The API agrees with the page: without the key, nothing starts.
    const denied = await request.post(`${START}?inputCount=1&cost=0`, { headers: { "content-length": "0" } });
    expect(denied.status()).toBe(401);
    await screenshot(page, "operator-read-only.png");

    await page.getByTestId("sign-in").click();
    await page.getByTestId("operator-key").fill("not-the-key");
    await page.getByTestId("sign-in-submit").click();
    await expect(page.getByTestId("sign-in-error")).toHaveText("That is not the operator key.");
    await expect(page.getByTestId("start-run")).toBeDisabled();

    await page.getByTestId("operator-key").fill(key);
    await page.getByTestId("sign-in-submit").click();
    await expect(page.getByTestId("signed-in")).toBeVisible();
    await expect(page.getByTestId("read-only")).toBeHidden();
    await expect(page.getByTestId("start-run")).toBeEnabled();

    // Signed in, the form's calls carry the key.
    await page.getByLabel("Items", { exact: true }).fill("2");
    await page.getByLabel("Cost / item").fill("0");
    const accepted = page.waitForResponse((r) => r.url().includes(START) && r.request().method() === "POST");
    await page.getByTestId("start-run").click();
    const response = await accepted;
    expect(response.status()).toBe(202);
    const id = (await response.json()).id;
    await expect(runRow(page, id)).toBeVisible();

    // The key is kept for this tab: a reload stays signed in.
    await page.reload();
    await expect(page.getByTestId("signed-in")).toBeVisible();
    await expect(page.getByTestId("terminate-run").first()).toBeEnabled();

    await page.getByTestId("sign-out").click();
    await expect(page.getByTestId("read-only")).toBeVisible();
    await expect(page.getByTestId("start-run")).toBeDisabled();
    expect(errors.filter((e) => !e.includes("401"))).toEqual([]);
  });
});
