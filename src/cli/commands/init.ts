import type { Command } from "commander";

/** The commented example scenario `moesim init` writes; it runs as is (synthetic routing, no files needed). */
export const EXAMPLE_SCENARIO =
  `# A moesim scenario: which cluster serves which MoE model, on what routing, with which policies.
# Run it:       npx moesim run scenario.yaml          (results/<name>/ with summary, CSVs and a report)
# Sweep it:     see scenarios/examples/gating-x-batch.sweep.yaml and docs/sweeps.md
# Editors can complete keys from scenarios/scenario.schema.json.
name: my-scenario            # letters, digits, '.', '_' and '-'; names results/<name>/
seed: 1                      # every random draw comes from streams forked from this seed

cluster:
  preset: dgx-h100           # paper-v100, dgx-a100, dgx-h100, hgx-h200 or consumer-pcie4
  nodes: 1                   # nodes of the preset, joined by its NICs (InfiniBand)
  # gpus: 4                  # use only this many GPUs
  # profile: profiles/my-gpu.json   # a calibrated cost model from \`moesim calibrate\`
  # network_model: analytic  ` +
  `# faster on many nodes: links serve bytes first come first served, no flow sharing (default: flow)

model:
  preset: olmoe-1b-7b        ` +
  `# paper-lm-52b, nllb-moe-54b, olmoe-1b-7b, mixtral-8x7b, deepseek-v2-lite, qwen1.5-moe-a2.7b
  # overrides: { experts: 128 }

trace:                       # the routing: which experts each token picks in each layer
  synthetic:
    fitted: olmoe-1b-7b      # parameters fitted to real OLMoE routing (or zipf: 1.1 for a skew of your choosing)
    sequences: 32
    tokens_per_sequence: 32
  # file: traces/my-trace.jsonl.gz    # a recorded trace instead (relative to this file)
  # max_tokens: 4096

workload:
  phase: decode              # decode (one token per request per step), prefill or encode
  batching: { kind: static, batch_size: 16 }
  # batching: { kind: continuous, max_batch: 64, arrival: { kind: poisson, rate_per_s: 200 } }
  context_tokens: 512        # KV-cache context per request, for decode attention
  # max_steps: 100
  dense_baseline: false      # also time a dense model with the same FLOPs per token

policies:
  gating: { policy: dynamic }                    # static, tutel, fastmoe, megablocks or dynamic
  buffering: { policy: none }                    ` +
  `# or e.g. { policy: lifo-paper, slots: 6 } (lru, fifo, lfu, lrfu, belady, ...)
  placement: { policy: contiguous }              # contiguous, round-robin, greedy or anti-correlation

outputs:
  # dir: results/my-scenario
  timelines: true            # memory.csv (memory over time per GPU)
  report: true               # charts and report.html after the run (moesim run --no-report skips)
`;

export function register(program: Command): void {
  program
    .command("init")
    .description("write a commented example scenario that runs as is")
    .argument("[path]", "where to write it", "scenario.yaml")
    .option("--force", "overwrite an existing file")
    .option("--json", "print one JSON document {path} on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  moesim init\n  moesim init scenarios/mine.yaml && moesim run scenarios/mine.yaml",
    )
    .action(async (path: string, opts: { force?: boolean; json?: boolean }) => {
      const { existsSync } = await import("node:fs");
      const { UserError } = await import("../../util/errors.js");
      const { writeOutputFile } = await import("../../util/fs.js");
      const { checkOutputFile } = await import("../../util/output.js");
      const target = checkOutputFile(path, "scenario file");
      if (existsSync(target) && !opts.force)
        throw new UserError(`${path} already exists; pass --force to overwrite it, or give another path`);
      writeOutputFile(target, EXAMPLE_SCENARIO, "scenario file");
      if (opts.json) process.stdout.write(JSON.stringify({ path: target }) + "\n");
      else process.stdout.write(`wrote ${target}\nrun it with: moesim run ${path}\n`);
    });
}
