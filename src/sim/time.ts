/** Simulated time is integer nanoseconds held in a JS number (exact up to 2^53 ns, about 104 days). */
export type Ns = number;

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

export const us = (x: number): Ns => Math.round(x * NS_PER_US);
export const ms = (x: number): Ns => Math.round(x * NS_PER_MS);
export const sec = (x: number): Ns => Math.round(x * NS_PER_S);

/**
 * Converts a duration in (fractional) seconds to integer nanoseconds, rounding up so that no cost is ever zero by
 * truncation.
 */
export function secondsToNs(seconds: number): Ns {
  return Math.ceil(seconds * NS_PER_S - 1e-6);
}

export const nsToUs = (t: Ns): number => t / NS_PER_US;
export const nsToS = (t: Ns): number => t / NS_PER_S;
