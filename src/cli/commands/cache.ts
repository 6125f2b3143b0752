import { basename, join } from "node:path";
import type { Command } from "commander";
import { LIMITS } from "../../scenario/limits.js";
import { intFlag, intListFlag, nameListFlag, traceReadFlags, traceReadOptions, type TraceReadFlags } from "../flags.js";

interface CacheOpts extends TraceReadFlags {
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
  quiet?: boolean;
  force?: boolean;
}

/** A row as printed and written: bytes_moved is null when the expert size is unknown. */
interface CacheOutRow {
  policy: string;
  slots: number;
  requests: number;
  misses: number;
  miss_rate: number;
  bytes_moved: number | null;
}

export function register(program: Command): void {
  const cmd = program
    .command("cache")
    .description(
      "compare expert-cache (buffering) policies on a routing trace: miss rate and bytes " +
        "moved per policy and cache size",
    )
    .requiredOption("--trace <file>", "routing trace (OLMoE JSONL(.gz), records JSONL, CSV or .mtrace)")
    .option("--policies <list>", "'all' or a comma list of buffering policies", "all")
    .option(
      "--slots <spec>",
      "cache sizes in experts per GPU per MoE layer: 1..8, 2,4 or 3 (sizes above the experts " +
        "one GPU hosts are left out: they change nothing)",
      "1..8",
    )
    .option("--gpus <n>", "GPUs the experts are spread over", "8")
    .option("--batch <n>", "requests decoding in lock step per batch", "16")
    .option("--placement <name>", "expert placement deciding which GPU caches which expert", "contiguous")
    .option(
      "--expert-bytes <n>",
      "bytes of one expert's weights (default: from the trace header; when neither says, miss " +
        "counts only and no bytes)",
    )
    .option("--json", "print one JSON array of {policy, slots, requests, misses, miss_rate, bytes_moved}")
    .option(
      "-o, --out <dir>",
      "results folder for cache.csv, cache.json, the Vega-Lite spec and the report (default " +
        "results/cache/<trace name>)",
    )
    .option("--no-report", "do not render the report (charts as SVG/PNG and report.html)")
    .option("-q, --quiet", "print no progress on stderr")
    .option(
      "--force",
      "also replace a cache results folder of an older moesim (only its files, no marker); never " +
        "a folder holding anything else",
    )
    .addHelpText(
      "after",
      "\nExample:\n  moesim cache --trace scenarios/traces/quickstart.mtrace --policies all " +
        "--slots 1..8 --gpus 8 --batch 16\n" +
        "  moesim cache --trace scenarios/traces/quickstart.mtrace --policies lifo-paper,belady " +
        "--slots 2,4 --json --out cache-out --no-report",
    );
  traceReadFlags(cmd).action(cacheCommand);
}

/** moesim cache: compares buffering policies on a trace, writes the results folder, prints the table. */
async function cacheCommand(opts: CacheOpts): Promise<void> {
  const { readTrace } = await import("../../workload/read.js");
  const { bufferingPolicyNames, getBufferingPolicy } = await import("../../policies/buffering/index.js");
  const { getPlacementPolicy } = await import("../../policies/placement/index.js");
  const { compareCachePolicies, cacheMissRateSpec } = await import("../../policies/compare.js");
  const { checkResultsTarget, writeResultsDir, RESULTS_FORMAT } = await import("../../moe/results.js");
  const { checkExpertBytes } = await import("../../workload/readers/options.js");
  const { progress } = await import("../../util/progress.js");

  const policies = nameListFlag("--policies", opts.policies, bufferingPolicyNames()).map(getBufferingPolicy);
  const slotsAsked = intListFlag("--slots", opts.slots, { min: 1, max: LIMITS.slots, maxCount: LIMITS.slots });
  const gpus = intFlag("--gpus", opts.gpus, { min: 1, max: LIMITS.gpus });
  const batch = intFlag("--batch", opts.batch, { min: 1, max: LIMITS.batch });
  const placement = getPlacementPolicy(opts.placement);
  const expertBytesFlag =
    opts.expertBytes === undefined
      ? undefined
      : intFlag("--expert-bytes", opts.expertBytes, { min: 1, max: Number.MAX_SAFE_INTEGER });
  const out =
    opts.out ??
    join(
      "results",
      "cache",
      basename(opts.trace)
        .replace(/\.(jsonl|csv|mtrace)(\.gz)?$/i, "")
        .replace(/\.gz$/i, ""),
    );
  // Refused before the trace is read: a folder moesim did not write is never replaced (see writeResultsDir).
  checkResultsTarget(out, RESULTS_FORMAT, opts.force);
  const readOpts = traceReadOptions(opts);
  const p = progress("moesim cache", { quiet: opts.quiet });
  p.stage(`reading ${opts.trace}`);
  const trace = await readTrace(opts.trace, readOpts);
  const notes: string[] = [];
  const fromHeader = checkExpertBytes(trace.meta.expertBytes, "expert_bytes", opts.trace);
  const expertBytes = expertBytesFlag ?? fromHeader ?? null;
  if (expertBytes === null)
    notes.push("no bytes moved: the trace does not say how big an expert is (pass --expert-bytes N)");
  // A cache holding every expert its GPU hosts never evicts: larger sizes give the same row.
  const hosted = Math.ceil(trace.experts / gpus);
  let slots = slotsAsked.filter((s) => s <= hosted);
  if (slots.length < slotsAsked.length) {
    if (slots.length === 0) slots = [hosted];
    notes.push(
      `--slots: sizes above ${hosted} (the experts one GPU hosts per layer: ${trace.experts} ` +
        `experts on ${gpus} GPUs) ` +
        `change nothing and are left out; sizes run: ${slots.join(",")}`,
    );
  }

  process.stderr.write(
    `cache: ${trace.tokens} tokens, ${trace.layers} MoE layers x ${trace.experts} ` +
      `experts, ${gpus} GPUs, batch ${batch}, ${placement.name} placement\n`,
  );
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  p.stage(`${policies.length} policies x ${slots.length} sizes`);
  let done = 0;
  const rows: CacheOutRow[] = compareCachePolicies(trace, {
    policies,
    slots,
    gpus,
    batch,
    placement,
    expertBytes: expertBytes ?? 0,
    onRow: () => p.tick(++done, policies.length * slots.length),
  }).map((r) => ({ ...r, bytes_moved: expertBytes === null ? null : r.bytes_moved }));
  p.done();

  const csv =
    [
      "policy,slots,requests,misses,miss_rate,bytes_moved",
      ...rows.map((r) => `${r.policy},${r.slots},${r.requests},${r.misses},${r.miss_rate},${r.bytes_moved ?? ""}`),
    ].join("\n") + "\n";
  const title =
    `Expert-cache miss rate: ${trace.meta.model ?? opts.trace}, ${gpus} GPUs, ` +
    `batch ${batch}, ${placement.name} placement`;
  const spec = cacheMissRateSpec(
    rows.map((r) => ({ ...r, bytes_moved: r.bytes_moved ?? 0 })),
    title,
  );
  const json = (v: unknown): string => JSON.stringify(v, null, 2) + "\n";
  // Built in a temporary sibling with moesim's marker and renamed into place, like `moesim run`'s folder.
  const dir = writeResultsDir(
    out,
    new Map([
      ["cache.csv", csv],
      ["cache.json", json(rows)],
      ["cache-missrate.vl.json", json(spec)],
    ]),
    opts.force,
    "cache",
  );
  process.stderr.write(`wrote ${join(out, "cache.csv")}, cache.json, cache-missrate.vl.json\n`);
  if (opts.report) {
    const { writeReportFor } = await import("../report-hook.js");
    const page = await writeReportFor(dir);
    if (page) process.stderr.write(`report: ${page}\n`);
  }

  if (opts.json) {
    process.stdout.write(JSON.stringify(rows) + "\n");
    return;
  }
  const names = policies.map((p) => p.name);
  const w = Math.max(8, ...names.map((n) => n.length)) + 2;
  const head = "policy".padEnd(w) + slots.map((s) => String(s).padStart(9)).join("");
  const cell = (p: string, s: number): CacheOutRow => rows.find((r) => r.policy === p && r.slots === s)!;
  const lines = [
    `miss rate by cache slots per GPU per MoE layer (${rows[0]?.requests ?? 0} expert requests per size)`,
    head,
    ...names.map((n) => n.padEnd(w) + slots.map((s) => cell(n, s).miss_rate.toFixed(4).padStart(9)).join("")),
  ];
  if (expertBytes !== null)
    lines.push(
      "",
      `GB moved from CPU memory (expert ${(expertBytes / 2 ** 20).toFixed(1)} MiB)`,
      head,
      ...names.map(
        (n) => n.padEnd(w) + slots.map((s) => ((cell(n, s).bytes_moved ?? 0) / 1e9).toFixed(1).padStart(9)).join(""),
      ),
    );
  for (const n of notes) lines.push(`note: ${n}`);
  process.stdout.write(lines.join("\n") + "\n");
}
