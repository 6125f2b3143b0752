/**
 * An M/M/c queue on the engine (callback style), used by the analytical tests. Times are integer
 * ns; the mean service time is 1 ms, so rounding draws to whole ns is negligible.
 */
import { PRIORITY_NORMAL, Resource, Simulation, rootStream, type QueueKind, EventLog } from "../../src/sim/index.js";

export const MEAN_SERVICE_NS = 1_000_000;

export interface MmcOptions {
  /** Offered load per server, lambda / (c mu). */
  rho: number;
  servers: number;
  customers: number;
  seed: number | string;
  /** Customers at the start left out of the waiting-time means (the run starts empty). */
  warmup?: number;
  queue?: QueueKind;
  log?: EventLog;
}

export interface MmcResult {
  customers: number;
  /** Simulated time when the last customer left (the run starts and ends empty), ns. */
  endNs: number;
  /** Means over customers after the warm-up, ns. */
  meanWqNs: number;
  meanWNs: number;
  /** Sums over all customers (integers, exact), ns. */
  sumWqNs: number;
  sumWNs: number;
  /** Time-averaged queue length and number in system over [0, end], from the Resource's own accounting. */
  lq: number;
  l: number;
  events: number;
}

export function runMmc(o: MmcOptions): MmcResult {
  const sim = new Simulation({ queue: o.queue, log: o.log });
  const root = rootStream(o.seed);
  const arrivals = root.child("arrivals");
  const service = root.child("service");
  const server = new Resource(sim, o.servers, "server");
  const meanInterarrivalNs = MEAN_SERVICE_NS / (o.rho * o.servers);
  const warmup = o.warmup ?? 0;
  let created = 0;
  let departed = 0;
  let sumWq = 0;
  let sumW = 0;
  let sumWqAfter = 0;
  let sumWAfter = 0;
  const arrive = (): void => {
    const index = created++;
    const arrivedAt = sim.now;
    server.acquire(() => {
      const wq = sim.now - arrivedAt;
      sumWq += wq;
      if (index >= warmup) sumWqAfter += wq;
      sim.scheduleRaw(
        service.exponentialNs(MEAN_SERVICE_NS),
        () => {
          const w = sim.now - arrivedAt;
          sumW += w;
          if (index >= warmup) sumWAfter += w;
          departed++;
          server.release();
        },
        PRIORITY_NORMAL,
        "departure",
      );
    });
    if (created < o.customers) {
      sim.scheduleRaw(arrivals.exponentialNs(meanInterarrivalNs), arrive, PRIORITY_NORMAL, "arrival");
    }
  };
  sim.scheduleRaw(0, arrive, PRIORITY_NORMAL, "arrival");
  const r = sim.run();
  if (departed !== o.customers) throw new Error(`only ${departed} of ${o.customers} customers left`);
  const st = server.stats();
  const counted = o.customers - warmup;
  return {
    customers: o.customers,
    endNs: sim.now,
    meanWqNs: sumWqAfter / counted,
    meanWNs: sumWAfter / counted,
    sumWqNs: sumWq,
    sumWNs: sumW,
    lq: st.meanQueueLength,
    l: st.meanQueueLength + st.meanBusy,
    events: r.events,
  };
}

/** Erlang C: the probability that an arrival waits, for c servers and offered load a = lambda/mu. */
export function erlangC(c: number, a: number): number {
  let term = 1; // a^k / k!
  let sum = 1;
  for (let k = 1; k < c; k++) {
    term *= a / k;
    sum += term;
  }
  const last = (term * a) / c; // a^c / c!
  const rho = a / c;
  const top = last / (1 - rho);
  return top / (sum + top);
}

/** M/M/c formulas with mu = 1 per MEAN_SERVICE_NS: mean wait in queue (ns) and mean queue length. */
export function mmcFormulas(rho: number, c: number): { wqNs: number; lq: number } {
  const a = rho * c; // lambda / mu
  const pWait = erlangC(c, a);
  const wqService = pWait / (c - a); // in units of the mean service time (mu = 1)
  return { wqNs: wqService * MEAN_SERVICE_NS, lq: a * wqService }; // Lq = lambda Wq
}
