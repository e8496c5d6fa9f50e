import { expect, test } from "@playwright/test";
import { openDashboard } from "./helpers";

test("scaling settings apply live, and bad values are explained inline", async ({ page, request }) => {
  const original = (await (await request.get("/api/cluster")).json()).profile;
  try {
    const errors = await openDashboard(page);
    const panel = page.getByTestId("settings");
    await expect(panel).toBeVisible();
    await panel.locator("summary").click();
    const target = page.getByLabel("Target messages per pod");
    await expect(target).toHaveValue(String(original.scaled_object.queue_length));

    await target.fill("10");
    await page.getByTestId("settings-apply").click();
    await expect(page.getByTestId("settings-note")).toBeVisible();
    // The model reports the new target in the next samples.
    await expect(page.getByTestId("queue-target")).toHaveAttribute("data-value", "10");
    const applied = (await (await request.get("/api/cluster")).json()).profile;
    expect(applied.scaled_object.queue_length).toBe(10);

    // The server refuses an inconsistent profile, and says why next to the form.
    await page.getByLabel("Min replicas").fill("9");
    await page.getByLabel("Max replicas").fill("3");
    await page.getByTestId("settings-apply").click();
    const error = page.getByTestId("settings-error");
    await expect(error).toContainText("max_replicas (3) must be at least 1 and at least min_replicas (9)");
    const unchanged = (await (await request.get("/api/cluster")).json()).profile;
    expect(unchanged.scaled_object.max_replicas).toBe(original.scaled_object.max_replicas);

    // A value that is not a number is caught before anything is sent.
    await page.getByLabel("Max replicas").fill("twelve");
    await page.getByTestId("settings-apply").click();
    await expect(error).toContainText("Max replicas: “twelve” is not a whole number.");

    await page.getByTestId("settings-reset").click();
    await expect(page.getByLabel("Max replicas")).toHaveValue(String(original.scaled_object.max_replicas));
    await expect(error).toBeHidden();
    expect(errors.filter((e) => !e.includes("400"))).toEqual([]);
  } finally {
    const restored = await request.put("/api/cluster/profile", { data: original });
    expect(restored.status()).toBe(200);
  }
});
