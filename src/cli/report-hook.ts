/**
 * Renders the report of a results directory, when the report module is present. Kept apart so
 * `moesim run` works (results only) while reports are being built.
 */
export async function writeReportFor(resultsDir: string): Promise<string | null> {
  try {
    const mod = (await import("../report/index.js")) as { renderReport?: (dir: string) => Promise<string> };
    if (typeof mod.renderReport === "function") return await mod.renderReport(resultsDir);
  } catch (e) {
    // Only the report module itself being absent is expected; a package it needs (vega) missing is an error.
    const err = e as NodeJS.ErrnoException;
    const reportMissing = /^Cannot find module '[^']*report[\\/]index\.[jt]s'/.test(err.message);
    if (err.code !== "ERR_MODULE_NOT_FOUND" || !reportMissing) throw e;
  }
  return null;
}
