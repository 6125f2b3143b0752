import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { writeReport } from "../../src/report/index.js";
import { FIXTURES, tempDir } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";
/** The page's global object as the report script fills it (tsconfig has no DOM lib). */
declare const window: { __moesimReport?: { expected: number; rendered: number; errors: string[]; done: boolean } };

/** Why the browser test cannot run, or null. Under CI a missing chromium is a failure, never a skip. */
function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  if (process.env.CI)
    throw new Error(`CI: ${CHROMIUM} is missing; scripts/install-chromium.sh should have installed it`);
  return `${CHROMIUM} not installed (run: bash scripts/install-chromium.sh)`;
}

const missing = chromiumMissing();
if (missing) console.warn(`skipping the headless-Chromium report test: ${missing}`);

describe.skipIf(missing !== null)("report.html in headless Chromium, network off", () => {
  let browser: Browser;
  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const kind of ["run", "runOverlap", "cache", "sweep"] as const) {
    it(`renders every chart of a ${kind} report offline, without console errors`, async () => {
      const out = tempDir();
      const report = await writeReport(FIXTURES[kind], { out, png: false });
      const page = await browser.newPage();
      const problems: string[] = [];
      const blocked: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`console.${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      // Network off: anything but the page file itself is aborted and recorded.
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:")) return route.continue();
        blocked.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(report.html).href);
      await page.waitForFunction(() => window.__moesimReport?.done === true, null, { timeout: 30_000 });
      const state = (await page.evaluate(() => window.__moesimReport))!;
      expect(state.errors).toEqual([]);
      expect(state.expected).toBe(report.charts.length);
      expect(state.rendered).toBe(report.charts.length);
      for (const c of report.charts) {
        const marks = await page.locator(`#chart-${c.id} svg .role-mark`).count();
        expect(marks, `chart ${c.id} has marks`).toBeGreaterThan(0);
        const axisTitles = await page.locator(`#chart-${c.id} svg .role-axis-title text`).count();
        expect(axisTitles, `chart ${c.id} has axis titles`).toBeGreaterThan(0);
      }
      expect(await page.locator("#summary tbody tr").count()).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      expect(blocked).toEqual([]);
      await page.close();
    });
  }
});
