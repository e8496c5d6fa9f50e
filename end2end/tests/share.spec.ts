import { expect, test } from "@playwright/test";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { expectNoAxeViolations } from "./a11y";
import { openDashboard, screenshot } from "./helpers";

test("Share shows the viewer link as a large QR code that encodes it, and gives focus back", async ({ page, baseURL }) => {
  const errors = await openDashboard(page);
  // The server was started without --public-url: the link is the address it was reached by.
  const expected = new URL("/", baseURL).href;
  const opener = page.getByTestId("share-open");
  const answered = page.waitForResponse((r) => r.url().endsWith("/api/share"));
  await opener.click();
  expect((await answered).status()).toBe(200);

  const dialog = page.getByTestId("share-dialog");
  await expect(dialog).toBeVisible();
  await expect(page.getByRole("dialog", { name: "Watch on your phone" })).toBeVisible();
  const link = page.getByTestId("share-url");
  await expect(link).toHaveText(expected);
  await expect(link).toHaveAttribute("href", expected);
  const qr = page.getByTestId("share-qr");
  await expect(qr).toHaveAccessibleName(`QR code of ${expected}`);
  await expect(qr.locator("svg")).toBeVisible();
  // Large: on a 1280×720 projector the code takes over half the screen's height.
  const box = (await qr.boundingBox())!;
  expect(box.width).toBeGreaterThanOrEqual(360);
  expect(Math.abs(box.width - box.height)).toBeLessThanOrEqual(2);

  // What the screen shows is a QR code of that link.
  const png = PNG.sync.read(await qr.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  expect(decoded?.data).toBe(expected);

  // Focus starts inside and stays there: Tab and Shift+Tab cycle through the dialog.
  await expect(page.getByTestId("share-close")).toBeFocused();
  for (const key of ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
    await page.keyboard.press(key);
    expect(
      await page.evaluate(() => !!document.activeElement?.closest('[data-testid="share-dialog"]')),
      `focus after ${key}`,
    ).toBe(true);
  }
  await expectNoAxeViolations(page, "the share overlay");
  await screenshot(page, "share-qr.png", "share-qr.png");

  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();

  // The Close button closes it as well, and the page behind is usable again.
  await opener.click();
  await expect(dialog).toBeVisible();
  await page.getByTestId("share-close").click();
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();
  await page.getByTestId("window-15").click();
  await expect(page.getByTestId("window-15")).toHaveAttribute("aria-pressed", "true");
  expect(errors).toEqual([]);
});
