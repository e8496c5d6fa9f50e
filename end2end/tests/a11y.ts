import AxeBuilder from "@axe-core/playwright";
import { expect, Page, test } from "@playwright/test";

/**
 * Runs axe-core on the page as it is and fails with the list of violations, one line each
 * (rule, impact, the elements). Every rule axe runs by default (WCAG 2.0–2.2 A and AA, and its
 * best practices), plus `label-content-name-mismatch` (a control's name must contain its
 * visible text, WCAG 2.5.3), which axe ships as experimental and leaves off otherwise.
 */
export async function expectNoAxeViolations(page: Page, where: string) {
  const results = await new AxeBuilder({ page })
    .options({ rules: { "label-content-name-mismatch": { enabled: true } } })
    .analyze();
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
  await test.info().attach(`axe ${where}`, {
    body: JSON.stringify(results.violations, null, 2),
    contentType: "application/json",
  });
  // A run that checked nothing would pass: it must have looked at the page's rules.
  expect(results.passes.length, `axe checked rules on ${where}`).toBeGreaterThan(10);
  expect(found, `axe violations on ${where}`).toEqual([]);
}
