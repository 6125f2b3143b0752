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
