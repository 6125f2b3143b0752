/**
 * bench/cache: every buffering policy over cache sizes 1..8 on the real OLMoE decode trace
 * (8 GPUs, contiguous placement, batches of 16 requests in lock step, one cache per GPU and MoE
 * layer). Prints expert requests served per second per policy, on one core (this process).
 * Reference, measured in the same run: a straightforward array-based LRU (indexOf + splice per
 * request) over the same streams; ratio = lru's rate / the reference's rate.
 * Goals: >= 20M requests/s for lru and lifo, >= 5M/s for belady.
 */
import { existsSync } from "node:fs";
import { resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { readTrace } from "../src/workload/read.js";
import { staticBatches } from "../src/workload/batching.js";
import { accessSequences } from "../src/policies/access.js";
import { bufferingPolicies, simulateCaches, type AccessSequence } from "../src/policies/buffering/index.js";
import { getPlacementPolicy } from "../src/policies/placement/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tracePath = resolve(root, "../shared/traces/olmoe-1b-7b-decode.jsonl.gz");
if (!existsSync(tracePath)) {
  console.error(`bench cache: the real trace is missing at ${tracePath}`);
  process.exit(2);
}
const SLOTS = [1, 2, 3, 4, 5, 6, 7, 8];

const trace = await readTrace(tracePath);
const batches = staticBatches(trace, 16);
const place = getPlacementPolicy("contiguous").place({
  experts: trace.experts,
  gpus: 8,
  load: new Float64Array(trace.experts),
});
const seqs = accessSequences(trace, batches, place.expertGpu, 8).flat();
const perSize = seqs.reduce((a, s) => a + s.requests.length, 0);
console.log(
  `trace: ${trace.tokens} tokens, ${batches.length} batches, ${seqs.length} caches, ${perSize} requests per size`,
);

/** The reference: LRU on a plain array, most recent last. */
function naiveLru(seq: AccessSequence, capacity: number): number {
  const cache: number[] = [];
  let misses = 0;
  for (const e of seq.requests) {
    const i = cache.indexOf(e);
    if (i >= 0) cache.splice(i, 1);
    else {
      misses++;
      if (cache.length === capacity) cache.shift();
    }
    cache.push(e);
  }
  return misses;
}

function time(fn: () => number): { s: number; out: number } {
  const t0 = process.hrtime.bigint();
  const out = fn();
  return { s: Number(process.hrtime.bigint() - t0) / 1e9, out };
}

// warm-up: every policy once on a slice
for (const p of bufferingPolicies.values()) simulateCaches(p, seqs.slice(0, 16), 4);

const rates: Record<string, number> = {};
const missCheck: Record<string, number[]> = {};
for (const p of bufferingPolicies.values()) {
  const misses: number[] = [];
  const { s } = time(() => {
    for (const slots of SLOTS) misses.push(simulateCaches(p, seqs, slots).misses);
    return 0;
  });
  rates[p.name] = Math.round((perSize * SLOTS.length) / s);
  missCheck[p.name] = misses;
  console.log(
    `${p.name.padEnd(11)} ${(rates[p.name] / 1e6).toFixed(1).padStart(7)} M requests/s  (${s.toFixed(2)} s for ${SLOTS.length} sizes)`,
  );
}

const ref = time(() => {
  let m = 0;
  for (const slots of SLOTS) for (const seq of seqs) m += naiveLru(seq, slots);
  return m;
});
const refRate = Math.round((perSize * SLOTS.length) / ref.s);
const lruTotal = missCheck["lru"].reduce((a, b) => a + b, 0);
if (ref.out !== lruTotal) throw new Error(`reference LRU disagrees: ${ref.out} misses vs ${lruTotal}`);
console.log(
  `reference  ${(refRate / 1e6).toFixed(1).padStart(7)} M requests/s  (array LRU, indexOf + splice; same misses as lru)`,
);

const goals = {
  lru_ge_20M: rates["lru"] >= 20e6,
  lifo_ge_20M: rates["lifo"] >= 20e6,
  belady_ge_5M: rates["belady"] >= 5e6,
};
console.log(
  JSON.stringify({
    bench: "cache",
    requests_per_size: perSize,
    sizes: SLOTS,
    requests_per_s: rates,
    reference: "array LRU (indexOf + splice), same streams, same run",
    reference_requests_per_s: refRate,
    ratio: Number((rates["lru"] / refRate).toFixed(3)),
    goals,
  }),
);
