import type { Command } from "commander";
import { UserError, listValues } from "../../util/errors.js";
import { integerFlag } from "../flags.js";

interface PlacementOpts {
  trace: string;
  policies: string;
  gpus: string;
  batch: string;
  replicateHot: string;
  fitFraction?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("placement")
    .description("compare expert placement policies on a routing trace: max per-GPU load share (worst batch and mean)")
    .requiredOption("--trace <file>", "routing trace (OLMoE JSONL(.gz), records JSONL, CSV or .mtrace)")
    .option("--policies <list>", "'all' or a comma list of placement policies", "all")
    .option("--gpus <n>", "GPUs the experts are spread over", "8")
    .option("--batch <n>", "requests decoding in lock step per batch", "16")
    .option("--replicate-hot <n>", "give the n most loaded experts of each layer a second copy", "0")
    .option(
      "--fit-fraction <f>",
      "fit load and co-activation on the first f of the batches and judge on the rest (held out); default: fit and judge on all",
    )
    .option("--json", "print one JSON array of {policy, worst_max_share, mean_max_share, ideal_share, batches_judged}")
    .addHelpText(
      "after",
      "\nExample:\n  moesim placement --trace ../shared/traces/olmoe-1b-7b-decode.jsonl.gz --gpus 8\n  moesim placement --trace t.jsonl.gz --policies greedy,anti-correlation --replicate-hot 4 --json\n  moesim placement --trace t.jsonl.gz --fit-fraction 0.5   # fit on the first half, judge on the second",
    )
    .action(async (opts: PlacementOpts) => {
      const { readTrace } = await import("../../workload/read.js");
      const { getPlacementPolicy, placementPolicyNames } = await import("../../policies/placement/index.js");
      const { comparePlacements } = await import("../../policies/compare.js");
      const names =
        opts.policies.trim() === "all"
          ? placementPolicyNames()
          : opts.policies
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "");
      if (names.length === 0)
        throw new UserError(`--policies: expected 'all' or a comma list of ${listValues(placementPolicyNames())}`);
      const policies = names.map(getPlacementPolicy);
      const gpus = integerFlag("--gpus", opts.gpus, 1);
      const batch = integerFlag("--batch", opts.batch, 1);
      const replicateHot = integerFlag("--replicate-hot", opts.replicateHot, 0);
      let fitFraction: number | undefined;
      if (opts.fitFraction !== undefined) {
        fitFraction = Number(opts.fitFraction);
        if (opts.fitFraction.trim() === "" || !(fitFraction > 0 && fitFraction < 1))
          throw new UserError(
            `--fit-fraction: expected a number between 0 and 1 (exclusive), got '${opts.fitFraction}'`,
          );
      }
      const trace = await readTrace(opts.trace);
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
        `placement: ${trace.tokens} tokens, ${trace.layers} MoE layers x ${trace.experts} experts, ${gpus} GPUs, batch ${batch}; ${how}\n`,
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
          (r) =>
            r.policy.padEnd(w) + r.worst_max_share.toFixed(4).padStart(13) + r.mean_max_share.toFixed(4).padStart(9),
        ),
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}
