/**
 * Interleaved rounds: every registered measurement once per round, rounds repeated, so that a
 * burst or a drift of load from other processes (lavapipe runs the shaders on this machine's CPU
 * cores) falls on all measurements alike instead of bending one of them. The calibration's FFN
 * points and the validation's layer points run in the same rounds when both are asked for
 * (calibrateAndValidate), so the fitted per-tile cost and the layer it predicts see the same load.
 */
import type { Encode, GpuTimer } from "./timing.js";

export interface RoundEntry {
  key: string;
  /** Host-side preparation (queue writes) before the timed submit; not timed. */
  setup?: () => void;
  encode: Encode;
}

/**
 * Runs `warmup + reps` rounds; odd rounds go through the entries backwards so that no entry
 * always follows the same one. Returns the timed samples (ns) of each entry, warm-up excluded.
 */
export async function runRounds(
  timer: GpuTimer,
  entries: readonly RoundEntry[],
  reps: number,
  warmup: number,
  onRound?: (round: number, total: number) => void,
): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>(entries.map((e) => [e.key, []]));
  if (samples.size !== entries.length) throw new Error("runRounds: duplicate entry keys");
  const total = warmup + reps;
  for (let r = 0; r < total; r++) {
    const order = r % 2 === 0 ? entries : [...entries].reverse();
    for (const e of order) {
      e.setup?.();
      const ns = await timer.once(e.encode);
      if (r >= warmup) samples.get(e.key)!.push(ns);
    }
    onRound?.(r + 1, total);
  }
  return samples;
}
