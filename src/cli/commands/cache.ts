import { basename, join } from "node:path";
import type { Command } from "commander";
import { UserError } from "../../util/errors.js";
import { integerFlag } from "../flags.js";

interface CacheOpts {
  trace: string;
  policies: string;
  slots: string;
  gpus: string;
  batch: string;
  placement: string;
  expertBytes?: string;
  json?: boolean;
  out?: string;
  report: boolean;
}

export function register(program: Command): void {
  program
    .command("cache")
    .description(
      "compare expert-cache (buffering) policies on a routing trace: miss rate and bytes moved per policy and cache size",
    )
    .requiredOption("--trace <file>", "routing trace (OLMoE JSONL(.gz), records JSONL, CSV or .mtrace)")
    .option("--policies <list>", "'all' or a comma list of buffering policies", "all")
    .option("--slots <spec>", "cache sizes in experts per GPU per MoE layer: 1..8, 2,4 or 3", "1..8")
    .option("--gpus <n>", "GPUs the experts are spread over", "8")
    .option("--batch <n>", "requests decoding in lock step per batch", "16")
    .option("--placement <name>", "expert placement deciding which GPU caches which expert", "contiguous")
    .option("--expert-bytes <n>", "bytes of one expert's weights (default: from the trace header)")
    .option("--json", "print one JSON array of {policy, slots, requests, misses, miss_rate, bytes_moved}")
    .option(
      "-o, --out <dir>",
      "results folder for cache.csv, cache.json, the Vega-Lite spec and the report (default results/cache/<trace name>)",
    )
    .option("--no-report", "do not render the report (charts as SVG/PNG and report.html)")
    .addHelpText(
      "after",
      "\nExample:\n  moesim cache --trace ../shared/traces/olmoe-1b-7b-decode.jsonl.gz --policies all --slots 1..8 --gpus 8 --batch 16\n" +
        "  moesim cache --trace t.jsonl.gz --policies lifo-paper,belady --slots 2,4 --json --out results/cache",
    )
    .action(async (opts: CacheOpts) => {
      const { readTrace } = await import("../../workload/read.js");
      const { parseBufferingPolicies } = await import("../../policies/buffering/index.js");
      const { getPlacementPolicy } = await import("../../policies/placement/index.js");
      const { compareCachePolicies, parseSlots, cacheMissRateSpec } = await import("../../policies/compare.js");
      const { writeFileAtomic, writeJsonAtomic } = await import("../../util/fs.js");

      const policies = parseBufferingPolicies(opts.policies);
      const slots = parseSlots(opts.slots);
      const gpus = integerFlag("--gpus", opts.gpus, 1);
      const batch = integerFlag("--batch", opts.batch, 1);
      const placement = getPlacementPolicy(opts.placement);
      const trace = await readTrace(opts.trace);
      let expertBytes: number;
      if (opts.expertBytes !== undefined) expertBytes = integerFlag("--expert-bytes", opts.expertBytes, 1);
      else if (typeof trace.meta.expertBytes === "number" && trace.meta.expertBytes > 0)
        expertBytes = trace.meta.expertBytes;
      else throw new UserError(`the trace does not say how big an expert is; pass --expert-bytes N`, opts.trace);

      process.stderr.write(
        `cache: ${trace.tokens} tokens, ${trace.layers} MoE layers x ${trace.experts} experts, ${gpus} GPUs, batch ${batch}, ${placement.name} placement\n`,
      );
      const rows = compareCachePolicies(trace, {
        policies,
        slots,
        gpus,
        batch,
        placement,
        expertBytes,
        onRow: (r) => process.stderr.write(`  ${r.policy} slots=${r.slots} miss_rate=${r.miss_rate.toFixed(4)}\n`),
      });

      const out =
        opts.out ??
        join(
          "results",
          "cache",
          basename(opts.trace)
            .replace(/\.(jsonl|csv|mtrace)(\.gz)?$/i, "")
            .replace(/\.gz$/i, ""),
        );
      {
        opts.out = out;
        const csv =
          [
            "policy,slots,requests,misses,miss_rate,bytes_moved",
            ...rows.map((r) => `${r.policy},${r.slots},${r.requests},${r.misses},${r.miss_rate},${r.bytes_moved}`),
          ].join("\n") + "\n";
        writeFileAtomic(join(opts.out, "cache.csv"), csv);
        writeJsonAtomic(join(opts.out, "cache.json"), rows);
        const title = `Expert-cache miss rate: ${trace.meta.model ?? opts.trace}, ${gpus} GPUs, batch ${batch}, ${placement.name} placement`;
        writeJsonAtomic(join(opts.out, "cache-missrate.vl.json"), cacheMissRateSpec(rows, title));
        process.stderr.write(`wrote ${join(opts.out, "cache.csv")}, cache.json, cache-missrate.vl.json\n`);
        if (opts.report) {
          const { writeReportFor } = await import("../report-hook.js");
          const page = await writeReportFor(opts.out);
          if (page) process.stderr.write(`report: ${page}\n`);
        }
      }

      if (opts.json) {
        process.stdout.write(JSON.stringify(rows) + "\n");
        return;
      }
      const names = policies.map((p) => p.name);
      const w = Math.max(8, ...names.map((n) => n.length)) + 2;
      const head = "policy".padEnd(w) + slots.map((s) => String(s).padStart(9)).join("");
      const cell = (p: string, s: number): CacheRowLike => rows.find((r) => r.policy === p && r.slots === s)!;
      const lines = [
        `miss rate by cache slots per GPU per MoE layer (${rows[0]?.requests ?? 0} expert requests per size)`,
        head,
        ...names.map((n) => n.padEnd(w) + slots.map((s) => cell(n, s).miss_rate.toFixed(4).padStart(9)).join("")),
        "",
        `GB moved from CPU memory (expert ${(expertBytes / 2 ** 20).toFixed(1)} MiB)`,
        head,
        ...names.map(
          (n) => n.padEnd(w) + slots.map((s) => (cell(n, s).bytes_moved / 1e9).toFixed(1).padStart(9)).join(""),
        ),
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}

interface CacheRowLike {
  miss_rate: number;
  bytes_moved: number;
}
