/**
 * Analytical checks of the engine: M/M/1 and M/M/c (Erlang C) mean waiting time in queue and mean
 * queue length against the formulas, and Little's law on the same sample paths.
 *
 * rho = 0.9 mixes slowly (the relative standard deviation of the mean wait is about 2% at 1M
 * customers), so that case runs 16M customers (about 0.45%: the 2% bound is over 4 sigma away);
 * the others run 4M-8M. Each run also leaves out the first 1% of customers (it starts empty).
 */
import { describe, expect, it } from "vitest";
import { MEAN_SERVICE_NS, mmcFormulas, runMmc, type MmcResult } from "./mmc-model.js";

const cases = [
  { name: "M/M/1 rho=0.5", rho: 0.5, servers: 1, customers: 4_000_000, seed: "mm1-rho0.5" },
  { name: "M/M/1 rho=0.9", rho: 0.9, servers: 1, customers: 16_000_000, seed: "mm1-rho0.9" },
  { name: "M/M/4 rho=0.8", rho: 0.8, servers: 4, customers: 8_000_000, seed: "mm4-rho0.8" },
] as const;

describe.each(cases)("$name", ({ rho, servers, customers, seed }) => {
  let r: MmcResult;
  const f = mmcFormulas(rho, servers);
  it(`runs ${customers} customers to an empty system`, () => {
    r = runMmc({ rho, servers, customers, seed, warmup: customers / 100 });
    expect(r.customers).toBe(customers);
    // every customer is one arrival and one departure event
    expect(r.events).toBe(2 * customers);
  });

  it("mean waiting time in queue Wq is within 2% of the formula", () => {
    expect(Math.abs(r.meanWqNs / f.wqNs - 1)).toBeLessThan(0.02);
  });

  it("time-averaged queue length Lq is within 2% of the formula", () => {
    expect(Math.abs(r.lq / f.lq - 1)).toBeLessThan(0.02);
  });

  it("mean time in system W = Wq + 1/mu (within 2%)", () => {
    expect(Math.abs(r.meanWNs / (f.wqNs + MEAN_SERVICE_NS) - 1)).toBeLessThan(0.02);
  });

  it("Little's law holds on the sample path: L = lambda W and Lq = lambda Wq", () => {
    // The run starts and ends empty, so the area under N(t) equals the sum of the sojourn times
    // exactly; lambda is the observed arrival rate N / T. Both sides are computed independently:
    // L from the Resource's time-weighted accounting, W from per-customer timestamps.
    const lambda = r.customers / r.endNs;
    const w = r.sumWNs / r.customers;
    const wq = r.sumWqNs / r.customers;
    expect(r.l).toBeCloseTo(lambda * w, 9);
    expect(Math.abs(r.l / (lambda * w) - 1)).toBeLessThan(1e-9);
    expect(Math.abs(r.lq / (lambda * wq) - 1)).toBeLessThan(1e-9);
  });
});

describe("Erlang C formula", () => {
  it("reduces to M/M/1 for one server (P(wait) = rho, Wq = rho / (mu - lambda))", () => {
    const f = mmcFormulas(0.9, 1);
    expect(f.wqNs / MEAN_SERVICE_NS).toBeCloseTo(9, 12);
    expect(f.lq).toBeCloseTo(8.1, 12);
  });
  it("matches a value computed independently (c = 4, a = 3.2: P(wait) = 0.5964325)", () => {
    // (a^c/c!)/(1-rho) / (sum_{k<c} a^k/k! + (a^c/c!)/(1-rho)), evaluated in Python; Wq = P(wait) / (c mu - lambda)
    const f = mmcFormulas(0.8, 4);
    expect(f.wqNs / MEAN_SERVICE_NS).toBeCloseTo(0.5964325 / 0.8, 6);
    expect(f.lq).toBeCloseTo((3.2 * 0.5964325) / 0.8, 5);
  });
});
