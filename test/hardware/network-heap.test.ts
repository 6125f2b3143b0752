import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { sortIdsByIndex, sortIdsByKey } from "../../src/hardware/network/heap.js";

describe("network id sorts", () => {
  it("property: sortIdsByIndex orders ids by distinct whole-number keys, as a comparator sort does", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { minLength: 0, maxLength: 300, size: "max" }),
        fc.integer({ min: 0, max: 3 }),
        (keys, scale) => {
          // Keys of 1 to 4 bytes: one radix pass up to four.
          const key = keys.map((k) => k >>> (8 * scale));
          const distinct = [...new Set(key)];
          const ids = Int32Array.from(distinct.map((_, i) => i).reverse());
          const byIndex = ids.slice();
          sortIdsByIndex(byIndex, byIndex.length, distinct);
          const expected = Array.from(ids).sort((a, b) => distinct[a] - distinct[b]);
          expect(Array.from(byIndex)).toEqual(expected);
          const short = ids.slice(0, 20);
          sortIdsByKey(short, short.length, distinct);
          expect(Array.from(short)).toEqual(Array.from(ids.slice(0, 20)).sort((a, b) => distinct[a] - distinct[b]));
        },
      ),
      { numRuns: 300 },
    );
  });
});
