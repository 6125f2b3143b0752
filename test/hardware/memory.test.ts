import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MEMORY_CATEGORIES, MemoryPool, formatOom, type MemoryCategory } from "../../src/hardware/memory.js";

describe("MemoryPool", () => {
  it("property: never negative, never over capacity, OOM leaves the pool unchanged and reports the numbers", () => {
    const op = fc.record({
      alloc: fc.boolean(),
      category: fc.constantFrom(...MEMORY_CATEGORIES),
      bytes: fc.integer({ min: 0, max: 600 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let now = 0;
        const pool = new MemoryPool("gpu0", 1000, () => now);
        const model = new Map<MemoryCategory, number>(MEMORY_CATEGORIES.map((c) => [c, 0]));
        for (const o of ops) {
          now += 10;
          const usedBefore = pool.used();
          if (o.alloc) {
            const r = pool.allocate(o.category, o.bytes);
            if (usedBefore + o.bytes <= 1000) {
              expect(r.ok).toBe(true);
              model.set(o.category, model.get(o.category)! + o.bytes);
            } else {
              expect(r.ok).toBe(false);
              if (!r.ok) {
                expect(r.oom).toMatchObject({
                  gpu: "gpu0",
                  category: o.category,
                  requestedBytes: o.bytes,
                  freeBytes: 1000 - usedBefore,
                  capacityBytes: 1000,
                  timeNs: now,
                });
                expect(Object.values(r.oom.usedByCategory).reduce((a, b) => a + b, 0)).toBe(usedBefore);
              }
              expect(pool.used()).toBe(usedBefore);
            }
          } else {
            const held = model.get(o.category)!;
            const b = Math.min(held, o.bytes);
            pool.free(o.category, b);
            model.set(o.category, held - b);
          }
          for (const c of MEMORY_CATEGORIES) {
            expect(pool.used(c)).toBe(model.get(c));
            expect(pool.used(c)).toBeGreaterThanOrEqual(0);
          }
          expect(pool.used()).toBeLessThanOrEqual(1000);
          expect(pool.freeBytes).toBe(1000 - pool.used());
          expect(pool.peak()).toBeGreaterThanOrEqual(pool.used());
        }
        // the timeline replays to the final state
        const last = new Map<MemoryCategory, number>(MEMORY_CATEGORIES.map((c) => [c, 0]));
        let prevT = 0;
        for (const p of pool.timeline()) {
          expect(p.timeNs).toBeGreaterThanOrEqual(prevT);
          prevT = p.timeNs;
          last.set(p.category, p.bytes);
        }
        for (const c of MEMORY_CATEGORIES) expect(last.get(c)).toBe(pool.used(c));
      }),
      { numRuns: 200 },
    );
  });

  it("refuses to free more than is held, and names the OOM clearly", () => {
    const pool = new MemoryPool("node0/gpu3", 4e9, () => 1234);
    expect(pool.allocate("weights", 3e9).ok).toBe(true);
    expect(() => pool.free("activations", 1)).toThrow(/only 0 are allocated/);
    const r = pool.allocate("activations", 2e9);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(formatOom(r.oom)).toBe(
        "out of memory on node0/gpu3 at 1234 ns: activations asked for 2.000 GB but only 1.000 GB of 4.000 GB is free (in use: weights 3.000 GB)",
      );
    }
    expect(pool.ooms.length).toBe(1);
    expect(pool.peak("weights")).toBe(3e9);
  });
});
