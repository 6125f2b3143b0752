import { describe, expect, it } from "vitest";
import { formatValidationTable, networkValidation } from "../../src/hardware/validate.js";

describe("network validation against measured figures", () => {
  const rows = networkValidation();
  it("prints the table", () => {
    console.log(`\n${formatValidationTable(rows)}\n`);
    expect(rows.length).toBeGreaterThan(0);
  });
  it("8x H100 all-to-all time per op is within 10% of nccl-tests at 64 KiB, 1 MiB, 16 MiB, 128 MiB and 256 MiB", () => {
    const h = rows.filter((r) => r.case.startsWith("alltoall/dgx-h100"));
    expect(h.map((r) => r.size_bytes)).toEqual([64 * 1024, 1 << 20, 16 << 20, 128 << 20, 256 << 20]);
    for (const r of h) expect(Math.abs(r.error), `${r.size_bytes} bytes`).toBeLessThanOrEqual(0.1);
    for (const r of h) expect(Math.abs(r.analytic_error), `analytic, ${r.size_bytes} bytes`).toBeLessThanOrEqual(0.1);
  });
  it("the paper's V100 node all-to-all is within 10% of the paper's NVLink figure", () => {
    const v = rows.filter((r) => r.case.startsWith("alltoall/paper-v100"));
    expect(v.length).toBe(3);
    for (const r of v) expect(Math.abs(r.error)).toBeLessThanOrEqual(0.1);
    for (const r of v) expect(Math.abs(r.analytic_error)).toBeLessThanOrEqual(0.1);
  });
  it("host->device copies are within 10% of the PCIe figures", () => {
    const p = rows.filter((r) => r.case.startsWith("h2d-pinned/"));
    expect(p.length).toBe(8);
    for (const r of p) expect(Math.abs(r.error)).toBeLessThanOrEqual(0.1);
    for (const r of p) expect(Math.abs(r.analytic_error)).toBeLessThanOrEqual(0.1);
  });
  it("the error is (simulated - measured) / measured", () => {
    for (const r of rows) expect(r.error).toBeCloseTo((r.simulated_us - r.measured_us) / r.measured_us, 12);
    for (const r of rows) expect(r.analytic_error).toBeCloseTo((r.analytic_us - r.measured_us) / r.measured_us, 12);
  });
});
