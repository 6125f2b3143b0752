import type { Command } from "commander";
import { UserError } from "../../util/errors.js";
import { LIMITS } from "../../scenario/limits.js";
import {
  fractionFlag,
  intFlag,
  nameListFlag,
  traceReadFlags,
  traceReadOptions,
  type TraceReadFlags,
} from "../flags.js";

interface PlacementOpts extends TraceReadFlags {
  trace: string;
  policies: string;
  gpus: string;
  batch: string;
  replicateHot: string;
  fitFraction?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command("placement")
    .description("compare expert placement policies on a routing trace: max per-GPU load share (worst batch and mean)")
    .requiredOption("--trace <file>", "routing trace (OLMoE JSONL(.gz), records JSONL, CSV or .mtrace)")
    .option("--policies <list>", "'all' or a comma list of placement policies", "all")
    .option("--gpus <n>", "GPUs the experts are spread over", "8")
    .option("--batch <n>", "requests decoding in lock step per batch", "16")
    .option("--replicate-hot <n>", "give the n most loaded experts of each layer a second copy", "0")
    .option(
      "--fit-fraction <f>",
      "fit load and co-activation on the first f of the batches and judge on the rest (held " +
        "out); default: fit and judge on all",
    )
    .option("--json", "print one JSON array of {policy, worst_max_share, mean_max_share, ideal_share, batches_judged}")
    .addHelpText(
      "after",
      "\nExample:\n  moesim placement --trace scenarios/traces/quickstart.mtrace --gpus 8\n" +
        "  moesim placement --trace scenarios/traces/quickstart.mtrace --policies " +
        "greedy,anti-correlation --replicate-hot 4 --json\n" +
        "  moesim placement --trace scenarios/traces/quickstart.mtrace --fit-fraction 0.5   # " +
        "fit on the first half, judge on the second",
    );
  traceReadFlags(cmd).action(async (opts: PlacementOpts) => {
    const { readTrace } = await import("../../workload/read.js");
    const { getPlacementPolicy, placementPolicyNames } = await import("../../policies/placement/index.js");
    const { comparePlacements } = await import("../../policies/compare.js");
    const names = nameListFlag("--policies", opts.policies, placementPolicyNames());
    const policies = names.map(getPlacementPolicy);
    const gpus = intFlag("--gpus", opts.gpus, { min: 1, max: LIMITS.gpus });
    const batch = intFlag("--batch", opts.batch, { min: 1, max: LIMITS.batch });
    const replicateHot = intFlag("--replicate-hot", opts.replicateHot, { min: 0, max: 65536 });
    const fitFraction = opts.fitFraction === undefined ? undefined : fractionFlag("--fit-fraction", opts.fitFraction);
    const trace = await readTrace(opts.trace, traceReadOptions(opts));
    let rows;
    try {
      rows = comparePlacements(trace, { policies, gpus, batch, replicateHot, fitFraction });
    } catch (e) {
      if (e instanceof UserError && fitFraction !== undefined) throw new UserError(`--fit-fraction: ${e.message}`);
      throw e;
    }
    const judged = rows[0]?.batches_judged ?? 0;
    const how =
      fitFraction === undefined
        ? "fitted and judged on all batches (in-sample)"
        : `fitted on the first ${(fitFraction * 100).toFixed(0)}% of the batches, judged on the other ${judged}`;
    process.stderr.write(
      `placement: ${trace.tokens} tokens, ${trace.layers} MoE layers x ${trace.experts} ` +
        `experts, ${gpus} GPUs, batch ${batch}; ${how}\n`,
    );
    if (opts.json) {
      process.stdout.write(JSON.stringify(rows) + "\n");
      return;
    }
    const w = Math.max(8, ...names.map((n) => n.length)) + 2;
    const lines = [
      `max share of a batch's tokens on one GPU, per MoE layer (ideal ${(1 / gpus).toFixed(4)})`,
      "policy".padEnd(w) + "worst batch".padStart(13) + "mean".padStart(9),
      ...rows.map(
        (r) => r.policy.padEnd(w) + r.worst_max_share.toFixed(4).padStart(13) + r.mean_max_share.toFixed(4).padStart(9),
      ),
    ];
    process.stdout.write(lines.join("\n") + "\n");
  });
}
