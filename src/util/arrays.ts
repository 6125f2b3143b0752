/**
 * A typed array of length n holding a's first min(a.length, n) values (zeros after them): how the
 * simulator's struct-of-arrays state grows. Same element type as a.
 */
export function grown<T extends Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint8Array<ArrayBuffer>>(
  a: T,
  n: number,
): T {
  const b = new (a.constructor as new (length: number) => T)(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}

/**
 * The smallest and largest of `values` in one pass ([Infinity, -Infinity] when empty). Unlike
 * Math.min(...values), it takes arrays of any length: a spread passes each element as an argument
 * and throws a RangeError past the engine's argument limit (around 10^5 in V8).
 */
export function minMax(values: ArrayLike<number>): [min: number, max: number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}
