/**
 * The batching section: the static steps (decode: one token per request per step; prefill and
 * encode: whole prompts), or a continuous batcher for decode.
 */
import { rootStream } from "../../sim/rng.js";
import type { RoutingTrace } from "../../workload/trace.js";
import { ContinuousBatcher, staticBatches } from "../../workload/batching.js";
import { UserError } from "../../util/errors.js";
import type { MoeSimConfig } from "../../moe/types.js";
import type { LoadedScenario } from "../load.js";
import { at, scenarioPath } from "./where.js";

export interface ResolvedBatching {
  /** Static batching's steps (token indices of the trace); null under continuous batching. */
  steps: Int32Array[] | null;
  continuous: MoeSimConfig["continuous"];
}

export function resolveBatching(loaded: LoadedScenario, trace: RoutingTrace): ResolvedBatching {
  const sc = loaded.scenario;
  const w = sc.workload;
  if (w.batching.kind === "static") {
    const steps =
      w.phase === "decode" ? staticBatches(trace, w.batching.batch_size) : prefillSteps(trace, w.batching.batch_size);
    return { steps, continuous: undefined };
  }
  if (w.phase !== "decode") {
    throw new UserError(
      `workload.batching: continuous batching is for the decode phase; use static batching for ${w.phase}`,
      loaded.locate(["workload", "batching"]),
    );
  }
  const rng = rootStream(sc.seed);
  const b = w.batching;
  const arrival =
    b.arrival.kind === "poisson"
      ? { kind: "poisson" as const, ratePerS: b.arrival.rate_per_s }
      : b.arrival.kind === "timestamps"
        ? { kind: "timestamps" as const, path: scenarioPath(loaded, b.arrival.file) }
        : { kind: "all-at-once" as const };
  const continuous = {
    batcher: () => new ContinuousBatcher(trace, { maxBatch: b.max_batch, arrival }, rng.child("arrivals")),
  };
  // Build one now, so that a bad arrival file is reported with its place in the scenario (child
  // streams are derived by name: this draws nothing from the run's streams).
  at(loaded, ["workload", "batching", "arrival"], () => continuous.batcher());
  return { steps: null, continuous };
}

/** Prefill/encode: a step holds every token of `batch` requests (their whole prompts). */
export function prefillSteps(trace: RoutingTrace, batch: number): Int32Array[] {
  const bySeq = new Map<number, number[]>();
  for (let t = 0; t < trace.tokens; t++) {
    const s = trace.seq[t];
    let a = bySeq.get(s);
    if (!a) bySeq.set(s, (a = []));
    a.push(t);
  }
  const seqs = [...bySeq.values()];
  const out: Int32Array[] = [];
  for (let i = 0; i < seqs.length; i += batch) out.push(Int32Array.from(seqs.slice(i, i + batch).flat()));
  return out;
}
