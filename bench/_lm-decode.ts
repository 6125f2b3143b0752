/**
 * The scenario bench/e2e and bench/steady time: the paper's LM 52B (scenarios/paper/base/lm.yaml) as decode on
 * `nodes` nodes of 8 V100, static batches of 64 requests per node (8 per GPU, as the paper's batch of 64 on 8 GPUs),
 * context 1024, `steps` decode steps, on the given network model, without timelines or a report.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseScenario, type LoadedScenario } from "../src/scenario/load.js";

export function lmDecodeScenario(o: {
  name: string;
  nodes: number;
  steps: number;
  networkModel: "flow" | "analytic";
}): LoadedScenario {
  const file = resolve(import.meta.dirname, "..", "scenarios", "paper", "base", "lm.yaml");
  const loaded = parseScenario(readFileSync(file, "utf8"), file);
  const sc = loaded.scenario;
  const requests = 64 * o.nodes;
  sc.name = o.name;
  sc.cluster.nodes = o.nodes;
  sc.cluster.network_model = o.networkModel;
  sc.trace = { ...sc.trace, synthetic: { ...sc.trace.synthetic!, sequences: requests, tokens_per_sequence: o.steps } };
  sc.workload = {
    ...sc.workload,
    phase: "decode",
    batching: { kind: "static", batch_size: requests },
    context_tokens: 1024,
    max_steps: o.steps,
  };
  sc.outputs = { ...sc.outputs, timelines: false, report: false };
  return loaded;
}
