import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  bufferingPolicies,
  bufferingPolicyNames,
  getBufferingPolicy,
  simulateCache,
  nextUseIndex,
  type AccessSequence,
  type BufferingPolicy,
} from "../../src/policies/buffering/index.js";
import { UserError } from "../../src/util/errors.js";

function seqOf(batches: number[][], experts: number): AccessSequence {
  const batchStart = new Int32Array(batches.length + 1);
  const flat: number[] = [];
  batches.forEach((b, i) => {
    batchStart[i] = flat.length;
    flat.push(...b);
  });
  batchStart[batches.length] = flat.length;
  return { requests: Int32Array.from(flat), batchStart, experts };
}

/** Random traces: E experts, batches of distinct experts in random order, a cache size. */
const traceArb = fc.integer({ min: 1, max: 10 }).chain((experts) =>
  fc.record({
    experts: fc.constant(experts),
    batches: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: experts - 1 }), { maxLength: experts }), {
      maxLength: 40,
    }),
    capacity: fc.integer({ min: 1, max: experts + 1 }),
  }),
);

const policies = [...bufferingPolicies.values()];

/** Exhaustive optimum (breadth over every eviction choice) for tiny instances. */
function optimalMisses(seq: AccessSequence, capacity: number): number {
  let states = new Map<number, number>([[0, 0]]); // resident bitmask -> fewest misses
  for (const e of seq.requests) {
    const next = new Map<number, number>();
    const put = (s: number, m: number): void => {
      const old = next.get(s);
      if (old === undefined || m < old) next.set(s, m);
    };
    for (const [s, m] of states) {
      const bit = 1 << e;
      if (s & bit) put(s, m);
      else if (popcount(s) < capacity) put(s | bit, m + 1);
      else for (let v = 0; v < seq.experts; v++) if (s & (1 << v)) put((s & ~(1 << v)) | bit, m + 1);
    }
    states = next;
  }
  return Math.min(...states.values());
}
function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/** Straightforward array-based references of the simple policies, for cross-checking. */
function reference(name: string, seq: AccessSequence, capacity: number): number {
  const next = nextUseIndex(seq);
  let cache: number[] = []; // order depends on policy: insertion or recency
  let misses = 0;
  for (let b = 0; b + 1 < seq.batchStart.length; b++) {
    const active = new Set(Array.from(seq.requests.subarray(seq.batchStart[b], seq.batchStart[b + 1])));
    for (let p = seq.batchStart[b]; p < seq.batchStart[b + 1]; p++) {
      const e = seq.requests[p];
      const i = cache.indexOf(e);
      if (i >= 0) {
        if (name === "lru") cache = [...cache.filter((x) => x !== e), e];
        if (name === "belady") (cache as unknown as { nu?: Map<number, number> }).nu!.set(e, next[p]);
        continue;
      }
      misses++;
      if (cache.length === capacity) {
        let v: number;
        if (name === "lru" || name === "fifo") v = cache[0];
        else if (name === "lifo") v = cache[cache.length - 1];
        else if (name === "lifo-paper") v = [...cache].reverse().find((x) => !active.has(x)) ?? cache[cache.length - 1];
        else {
          const nu = (cache as unknown as { nu: Map<number, number> }).nu;
          v = cache.reduce((a, x) => (nu.get(x)! > nu.get(a)! || (nu.get(x) === nu.get(a) && x < a) ? x : a), cache[0]);
        }
        cache.splice(cache.indexOf(v), 1);
      }
      const nu = (cache as unknown as { nu?: Map<number, number> }).nu ?? new Map<number, number>();
      cache = [...cache, e];
      (cache as unknown as { nu: Map<number, number> }).nu = nu;
      nu.set(e, next[p]);
    }
  }
  return misses;
}

describe("buffering policies", () => {
  it("registry lists every policy and rejects unknown names with the valid ones", () => {
    expect(bufferingPolicyNames()).toEqual(["lifo-paper", "lifo", "fifo", "lru", "lfu", "lrfu", "belady"]);
    expect(() => getBufferingPolicy("mru")).toThrow(UserError);
    expect(() => getBufferingPolicy("mru")).toThrow(/lifo-paper, lifo, fifo, lru, lfu, lrfu or belady/);
  });

  it("rejects a capacity below one slot", () => {
    expect(() => getBufferingPolicy("lru").create(0, { experts: 4 })).toThrow(UserError);
    expect(() => getBufferingPolicy("belady").create(2, { experts: 4 })).toThrow(/future/);
  });

  it("a textbook case: 3 slots, requests 0 1 2 3 0 1 4 0 1 2 3 4 (one batch each)", () => {
    const seq = seqOf(
      [0, 1, 2, 3, 0, 1, 4, 0, 1, 2, 3, 4].map((e) => [e]),
      5,
    );
    const misses = (n: string): number => simulateCache(getBufferingPolicy(n), seq, 3).misses;
    expect(misses("fifo")).toBe(9); // Belady's anomaly example
    expect(misses("lru")).toBe(10);
    expect(misses("belady")).toBe(7);
    expect(
      simulateCache(getBufferingPolicy("belady"), seqOf([[0, 1, 2, 3, 0, 1, 4, 0, 1, 2, 3, 4]], 5), 4).misses,
    ).toBe(6);
  });

  it("lifo-paper evicts an expert inactive in the batch before the most recent insert", () => {
    const c = getBufferingPolicy("lifo-paper").create(2, { experts: 4 });
    c.accessBatch(0, [0, 1]);
    expect(c.accessBatch(1, [1, 2])).toEqual({ misses: [2], evicted: [0] }); // plain lifo would evict 1
    const l = getBufferingPolicy("lifo").create(2, { experts: 4 });
    l.accessBatch(0, [0, 1]);
    expect(l.accessBatch(1, [1, 2])).toEqual({ misses: [2], evicted: [1] });
  });

  it("matches straightforward references (lru, fifo, lifo, lifo-paper, belady)", () => {
    fc.assert(
      fc.property(traceArb, ({ experts, batches, capacity }) => {
        const seq = seqOf(batches, experts);
        for (const name of ["lru", "fifo", "lifo", "lifo-paper", "belady"]) {
          expect(simulateCache(getBufferingPolicy(name), seq, capacity).misses, name).toBe(
            reference(name, seq, capacity),
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it("Belady's misses <= every other policy's, and equal the exhaustive optimum on tiny traces", () => {
    fc.assert(
      fc.property(traceArb, ({ experts, batches, capacity }) => {
        const seq = seqOf(batches, experts);
        const bel = simulateCache(getBufferingPolicy("belady"), seq, capacity).misses;
        for (const p of policies) expect(bel, p.name).toBeLessThanOrEqual(simulateCache(p, seq, capacity).misses);
        if (experts <= 6 && seq.requests.length <= 40) expect(bel).toBe(optimalMisses(seq, capacity));
      }),
      { numRuns: 300 },
    );
  });

  it("occupancy never exceeds capacity, evictions only when full, hits move no bytes", () => {
    const expertBytes = 12_582_912;
    fc.assert(
      fc.property(traceArb, fc.constantFrom(...policies), ({ experts, batches, capacity }, policy: BufferingPolicy) => {
        const seq = seqOf(batches, experts);
        const cache = policy.create(capacity, { experts, future: seq });
        let misses = 0;
        batches.forEach((active, b) => {
          const before = new Set(cache.resident());
          const { misses: loaded, evicted } = cache.accessBatch(b, active);
          const after = cache.resident();
          misses += loaded.length;
          expect(after.length).toBeLessThanOrEqual(capacity);
          expect(after.length).toBe(Math.min(capacity, before.size + loaded.length));
          expect(evicted.length).toBe(before.size + loaded.length - after.length);
          for (const e of loaded) expect(active).toContain(e);
          // residents = before + loaded - evicted, as multisets in order
          const live = new Set(before);
          const ev = [...evicted];
          for (const e of loaded) {
            expect(live.has(e)).toBe(false); // a loaded expert was not resident: a hit never loads
            if (live.size === capacity) live.delete(ev.shift()!);
            live.add(e);
          }
          expect([...live].sort((x, y) => x - y)).toEqual(after);
          // an active expert resident at the start and never evicted in the batch is a hit: no bytes
          for (const e of active) if (before.has(e) && !evicted.includes(e)) expect(loaded).not.toContain(e);
        });
        const r = simulateCache(policy, seq, capacity, expertBytes);
        expect(r.misses).toBe(misses); // fast path = recorded path
        expect(r.bytes_moved).toBe(r.misses * expertBytes);
        expect(r.hits + r.misses).toBe(r.requests);
      }),
      { numRuns: 300 },
    );
  });

  it("with room for every expert, only first uses miss", () => {
    const seq = seqOf(
      [
        [0, 1, 2],
        [2, 3],
        [0, 3, 1],
      ],
      4,
    );
    for (const p of policies) expect(simulateCache(p, seq, 4).misses, p.name).toBe(4);
  });
});
