/**
 * Renders the report of a results directory, when the report module is present. Kept apart so
 * `moesim run` works (results only) while reports are being built.
 */
export async function writeReportFor(resultsDir: string): Promise<string | null> {
  try {
    const mod = (await import("../report/index.js")) as { renderReport?: (dir: string) => Promise<string> };
    if (typeof mod.renderReport === "function") return await mod.renderReport(resultsDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw e;
  }
  return null;
}
