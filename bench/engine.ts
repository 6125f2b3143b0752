/**
 * bench/engine: the same M/M/1 model (rho = 0.9, 1M customers by default) in moesim and in SimPy 2
 * (Debian's python3-simpy 2.3.1, bench/simpy_mm1.py), run by this one script.
 *
 * Usage: npm run bench -- engine [--customers N] [--simpy-customers N] [--repeat R] [--no-install]
 *
 * moesim runs the model two ways, each on both event queues (sdsl = default, heap4 = alternative):
 *  - callbacks:  arrival and departure are plain scheduled callbacks, the server a Resource;
 *  - processes:  one generator process per customer (yield server.request(); yield service;
 *                release), written like the SimPy model.
 * The headline ratio is callbacks on the default queue vs SimPy's customers per second; every
 * variant's rate and ratio is printed too.
 *
 * Timing: the development machine is shared, so each side is timed by its own process CPU time
 * (node: process.cpuUsage(), which also counts V8's GC helper threads; Python:
 * time.process_time()), best of R rounds; wall-clock rates are printed beside them. Each round
 * runs every moesim variant in a fresh node process (its own JIT state: one variant's code
 * cannot slow another's) and then SimPy once, so both sides see the same machine load.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  PRIORITY_NORMAL,
  Resource,
  Simulation,
  rootStream,
  type ProcessGenerator,
  type QueueKind,
} from "../src/sim/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..");

const LAMBDA = 0.9; // arrivals per mean service time
const MEAN_SERVICE_NS = 1_000_000; // 1 ms: integer-ns rounding is negligible at this scale

interface Mm1Result {
  customers: number;
  wallS: number;
  cpuS: number;
  events: number;
  meanWaitNs: number;
}

/** Runs `body`, returning its wall and process CPU seconds. */
function timed(body: () => void): { wallS: number; cpuS: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  body();
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wallS, cpuS: (c.user + c.system) / 1e6 };
}

function args(): {
  customers: number;
  simpyCustomers: number | null;
  repeat: number;
  install: boolean;
  child: string | null;
} {
  const a = process.argv.slice(2);
  const num = (flag: string): number | null => {
    const i = a.indexOf(flag);
    if (i < 0) return null;
    const v = Number(a[i + 1]);
    if (!Number.isInteger(v) || v <= 0) {
      console.error(`${flag} expects a positive integer, got ${a[i + 1]}`);
      process.exit(2);
    }
    return v;
  };
  return {
    customers: num("--customers") ?? 1_000_000,
    simpyCustomers: num("--simpy-customers"),
    repeat: num("--repeat") ?? 3,
    install: !a.includes("--no-install"),
    child: a.includes("--child") ? a[a.indexOf("--child") + 1] : null,
  };
}

function mm1Callbacks(n: number, queue: QueueKind, seed = 42): Mm1Result {
  const sim = new Simulation({ queue });
  const root = rootStream(seed);
  const arrivals = root.child("arrivals");
  const service = root.child("service");
  const server = new Resource(sim, 1, "server");
  const meanIa = MEAN_SERVICE_NS / LAMBDA;
  let created = 0;
  let served = 0;
  let waited = 0;
  const depart = (): void => {
    served++;
    server.release();
  };
  const arrive = (): void => {
    const t0 = sim.now;
    server.acquire(() => {
      waited += sim.now - t0;
      sim.scheduleRaw(service.exponentialNs(MEAN_SERVICE_NS), depart, PRIORITY_NORMAL, "departure");
    });
    if (++created < n) sim.scheduleRaw(arrivals.exponentialNs(meanIa), arrive, PRIORITY_NORMAL, "arrival");
  };
  sim.scheduleRaw(0, arrive, PRIORITY_NORMAL, "arrival");
  let events = 0;
  const t = timed(() => (events = sim.run().events));
  if (served !== n) throw new Error(`callbacks: served ${served} of ${n}`);
  return { customers: served, ...t, events, meanWaitNs: waited / served };
}

function mm1Processes(n: number, queue: QueueKind, seed = 42): Mm1Result {
  const sim = new Simulation({ queue });
  const root = rootStream(seed);
  const arrivals = root.child("arrivals");
  const service = root.child("service");
  const server = new Resource(sim, 1, "server");
  const meanIa = MEAN_SERVICE_NS / LAMBDA;
  let served = 0;
  let waited = 0;
  function* customer(): ProcessGenerator {
    const t0 = sim.now;
    yield server.request();
    waited += sim.now - t0;
    yield service.exponentialNs(MEAN_SERVICE_NS);
    server.release();
    served++;
  }
  function* source(): ProcessGenerator {
    for (let i = 0; i < n; i++) {
      sim.process(customer(), "customer");
      yield arrivals.exponentialNs(meanIa);
    }
  }
  sim.process(source(), "source");
  let events = 0;
  const t = timed(() => (events = sim.run().events));
  if (served !== n) throw new Error(`processes: served ${served} of ${n}`);
  return { customers: served, ...t, events, meanWaitNs: waited / served };
}

/** Best of `repeat` runs by CPU time (after one warm-up run on a tenth of the customers); best wall time beside it. */
function best(fn: (n: number) => Mm1Result, n: number, repeat = 5): Mm1Result {
  fn(Math.max(1000, Math.floor(n / 10)));
  let b: Mm1Result | null = null;
  let bestWall = Infinity;
  for (let i = 0; i < repeat; i++) {
    const r = fn(n);
    bestWall = Math.min(bestWall, r.wallS);
    if (b === null || r.cpuS < b.cpuS) b = r;
  }
  return { ...b!, wallS: bestWall };
}

/** Finds a Python with SimPy 2 importable; installs Debian's python3-simpy if root and allowed. */
function findSimpy(install: boolean): { python: string; version: string; how: string } | null {
  const candidates = ["/usr/bin/python3", "python3", "python"];
  const probe = (): { python: string; version: string } | null => {
    for (const py of candidates) {
      const r = spawnSync(py, ["-c", "import SimPy; print(SimPy.__version__)"], { encoding: "utf8" });
      if (r.status === 0) {
        const version = r.stdout.trim();
        if (version.startsWith("2.")) return { python: py, version };
      }
    }
    return null;
  };
  const found = probe();
  if (found) return { ...found, how: "found" };
  if (!install) return null;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot) {
    console.log("SimPy 2 not found and not running as root: run `sudo bash scripts/install-simpy.sh`.");
    return null;
  }
  console.log("SimPy 2 not found: installing with scripts/install-simpy.sh ...");
  try {
    execFileSync("bash", [join(repoRoot, "scripts", "install-simpy.sh")], { stdio: ["ignore", "inherit", "inherit"] });
  } catch {
    return null;
  }
  const again = probe();
  return again ? { ...again, how: "installed by scripts/install-simpy.sh" } : null;
}

function runSimpy(python: string, n: number): Mm1Result {
  const script = join(here, "simpy_mm1.py");
  if (!existsSync(script)) throw new Error(`missing ${script}`);
  const out = execFileSync(python, [script, String(n)], { encoding: "utf8", maxBuffer: 1 << 20 });
  const j = JSON.parse(out.trim().split("\n").pop()!) as {
    customers: number;
    wall_s: number;
    cpu_s: number;
    mean_wait: number;
  };
  return {
    customers: j.customers,
    wallS: j.wall_s,
    cpuS: j.cpu_s,
    events: NaN,
    meanWaitNs: j.mean_wait * MEAN_SERVICE_NS,
  };
}

const VARIANTS = ["callbacks/sdsl", "processes/sdsl", "callbacks/heap4", "processes/heap4"] as const;

/** In a child process: runs one variant (warm-up, then best of 2) and prints its result as JSON. */
function child(variant: string, n: number): void {
  const [model, queue] = variant.split("/") as [string, QueueKind];
  const fn = model === "processes" ? mm1Processes : mm1Callbacks;
  console.log(JSON.stringify(best((m) => fn(m, queue), n)));
}

function runChild(variant: string, n: number): Mm1Result {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--child", variant, "--customers", String(n)],
    {
      encoding: "utf8",
      maxBuffer: 1 << 20,
    },
  );
  return JSON.parse(out.trim().split("\n").pop()!) as Mm1Result;
}

/** The better of two results by CPU time, keeping the best wall time seen. */
function better(a: Mm1Result | undefined, b: Mm1Result): Mm1Result {
  if (a === undefined) return b;
  const w = Math.min(a.wallS, b.wallS);
  return { ...(b.cpuS < a.cpuS ? b : a), wallS: w };
}

function main(): void {
  const o = args();
  const n = o.customers;
  if (o.child !== null) return child(o.child, n);
  const expectedWq = (LAMBDA / (1 - LAMBDA)) * MEAN_SERVICE_NS; // rho / (mu - lambda), in ns
  console.log(`M/M/1, rho = ${LAMBDA}, ${n} customers (formula Wq = ${(expectedWq / 1e6).toFixed(3)} ms)`);

  const rate = (r: Mm1Result): number => r.customers / r.cpuS;
  const wallRate = (r: Mm1Result): number => r.customers / r.wallS;

  const simpy = findSimpy(o.install);
  const simpyN = o.simpyCustomers ?? n;
  if (simpy) {
    console.log(`SimPy ${simpy.version} (${simpy.how}, ${simpy.python}): ${simpyN} customers per round`);
    if (simpyN !== n) console.log(`  (SimPy runs ${simpyN} customers, moesim ${n}: rates are compared)`);
  } else {
    console.log("SimPy 2 unavailable: no ratio (install Debian's python3-simpy: sudo bash scripts/install-simpy.sh).");
  }
  const results = new Map<string, Mm1Result>();
  let s: Mm1Result | undefined;
  for (let round = 1; round <= o.repeat; round++) {
    for (const v of VARIANTS) results.set(v, better(results.get(v), runChild(v, n)));
    if (simpy) s = better(s, runSimpy(simpy.python, simpyN));
    console.log(`  round ${round}/${o.repeat} done`);
  }
  const variants = VARIANTS.map((name) => ({ name, r: results.get(name)! }));
  let simpyRate: number | null = null;
  let simpyWallRate: number | null = null;
  if (s) {
    simpyRate = rate(s);
    simpyWallRate = wallRate(s);
    console.log(
      `  simpy2            ${fmt(simpyRate)} customers/s CPU, ${fmt(simpyWallRate)} wall  ` +
        `(${s.cpuS.toFixed(2)} s CPU, mean Wq ${(s.meanWaitNs / 1e6).toFixed(3)} ms)`,
    );
  }

  console.log(`moesim, best of ${o.repeat} rounds:`);
  for (const v of variants) {
    const cr = rate(v.r);
    const ratio = simpyRate
      ? `  ratio ${(cr / simpyRate).toFixed(1)}x (wall ${(wallRate(v.r) / simpyWallRate!).toFixed(1)}x)`
      : "";
    console.log(
      `  ${v.name.padEnd(18)}${fmt(cr)} customers/s CPU, ${fmt(wallRate(v.r))} wall, ${fmt(v.r.events / v.r.cpuS)} events/s  ` +
        `(mean Wq ${(v.r.meanWaitNs / 1e6).toFixed(3)} ms)${ratio}`,
    );
  }

  const head = results.get("callbacks/sdsl")!;
  const proc = results.get("processes/sdsl")!;
  const heap4 = results.get("callbacks/heap4")!;
  const headRate = rate(head);
  const ratioOf = (x: number): number | null => (simpyRate === null ? null : round1(x / simpyRate));
  const json = {
    bench: "engine",
    customers: n,
    simpy_customers: simpy ? simpyN : null,
    simpy_version: simpy ? simpy.version : null,
    moesim_customers_per_s: Math.round(headRate),
    moesim_model: "callbacks/sdsl",
    simpy_customers_per_s: simpyRate === null ? null : Math.round(simpyRate),
    reference: "simpy2",
    ratio: ratioOf(headRate),
    ratio_wall: simpyWallRate === null ? null : round1(wallRate(head) / simpyWallRate),
    events_per_s: Math.round(head.events / head.cpuS),
    heap4_customers_per_s: Math.round(rate(heap4)),
    heap4_ratio: ratioOf(rate(heap4)),
    processes_customers_per_s: Math.round(rate(proc)),
    processes_ratio: ratioOf(rate(proc)),
    timing: `process CPU time, best of ${o.repeat} rounds`,
    goal_ratio: 50,
  };
  console.log(JSON.stringify(json));
}

const fmt = (x: number): string => Math.round(x).toLocaleString("en-US").padStart(11);
const round1 = (x: number): number => Math.round(x * 10) / 10;

main();
