import type { Command } from "commander";
import { UserError, listValues } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { checkOutputFile } from "../../util/output.js";
import {
  INCOMPLETE_POLICIES,
  parseMappingSpec,
  readTrace,
  TRACE_FORMATS,
  type IncompletePolicy,
  writeBinaryTrace,
  type TraceFormat,
  type TraceReadOptions,
} from "../../workload/read.js";
import { groupsPerToken, traceStats } from "../../workload/stats.js";
import { fitSynth, formatSynthParams, loadSynthParams, synthesize } from "../../workload/synth.js";

interface ReadFlags {
  format?: string;
  map?: string;
  experts?: string;
  topK?: string;
  maxTokens?: string;
  incomplete?: string;
}

function int(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} must be a positive integer, got '${v}'`);
  return n;
}

function readOpts(f: ReadFlags): TraceReadOptions {
  const format = (f.format ?? "auto") as TraceFormat;
  if (!TRACE_FORMATS.includes(format))
    throw new UserError(`--format '${f.format}' is not a trace format; expected ${listValues([...TRACE_FORMATS])}`);
  const incomplete = (f.incomplete ?? "error") as IncompletePolicy;
  if (!INCOMPLETE_POLICIES.includes(incomplete))
    throw new UserError(`--incomplete '${f.incomplete}': expected ${listValues([...INCOMPLETE_POLICIES])}`);
  return {
    format,
    incomplete,
    mapping: f.map ? parseMappingSpec(f.map) : undefined,
    experts: int(f.experts, "--experts"),
    topK: int(f.topK, "--top-k"),
    maxTokens: int(f.maxTokens, "--max-tokens"),
  };
}

function readFlags(c: Command): Command {
  return c
    .option("--format <f>", `input format: ${TRACE_FORMATS.join(", ")}`, "auto")
    .option(
      "--map <spec>",
      "field mapping for per-(token, layer) records, e.g. seq=problem_id,token=token_idx,layer=layer,experts=experts,weights=gating_probs",
    )
    .option("--experts <n>", "experts per layer (ids at or above it are errors; inferred otherwise)")
    .option("--top-k <n>", "expected top-k (inferred from the first record otherwise)")
    .option("--max-tokens <n>", "read only the first N tokens")
    .option(
      "--incomplete <policy>",
      "tokens without a record for every layer: error (default) or drop (left out and reported)",
      "error",
    );
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : "-");

/** An 8-bin histogram of per-expert loads relative to the mean, as a bar string. */
function histogram(load: number[]): string {
  const mean = load.reduce((a, b) => a + b, 0) / load.length || 1;
  const bins = new Array(8).fill(0);
  const edges = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, Infinity];
  for (const x of load) bins[edges.findIndex((e) => x / mean < e)]++;
  return bins.map((b) => String(b).padStart(3)).join(" ");
}

export function register(program: Command): void {
  const trace = program
    .command("trace")
    .description("inspect, convert, fit and synthesise routing traces")
    .addHelpText(
      "after",
      "\nExamples:\n  moesim trace info ../shared/traces/olmoe-1b-7b-decode.jsonl.gz\n  moesim trace convert real.jsonl.gz real.mtrace\n  moesim trace fit real.jsonl.gz -o fitted.json\n  moesim trace synth --params olmoe-1b-7b --sequences 64 --tokens 16..64 --seed 1 -o syn.mtrace",
    );

  readFlags(
    trace
      .command("info <trace>")
      .description("tokens, layers, experts, top-k, per-layer expert-load histogram and skew")
      .option("--json", "print one JSON document")
      .option("--loads", "include the per-layer expert loads in --json output")
      .option("--groups <G[/M]>", "group-limited routing: groups a token's picks span (of G groups), and a limit M")
      .addHelpText("after", "\nExample:\n  moesim trace info scenarios/traces/quickstart.mtrace --json"),
  ).action(async (path: string, f: ReadFlags & { json?: boolean; loads?: boolean; groups?: string }) => {
    const t = await readTrace(path, readOpts(f));
    const s = traceStats(t);
    const g = f.groups === undefined ? null : groupSpan(t, f.groups);
    if (f.json) {
      const doc = {
        path,
        tokens: s.tokens,
        layers: s.layers,
        experts: s.experts,
        top_k: s.top_k,
        sequences: s.sequences,
        model: t.meta.model ?? null,
        expert_bytes: t.meta.expertBytes ?? null,
        incomplete: t.meta.incomplete ?? null,
        notes: s.notes,
        reuse_rate: s.reuseRate,
        reuse_per_layer: s.reusePerLayer,
        cross_layer_mi_bits: s.crossLayerMI,
        co_activation_mi_bits: s.coActivationMI,
        skew: {
          mean: {
            max_over_mean: s.skew.mean.maxOverMean,
            gini: s.skew.mean.gini,
            cv: s.skew.mean.cv,
            zipf_s: s.skew.mean.zipfS,
          },
          per_layer: s.skew.perLayer.map((x, l) => ({
            layer: l,
            max_over_mean: x.maxOverMean,
            gini: x.gini,
            cv: x.cv,
            zipf_s: x.zipfS,
          })),
        },
        ...(f.loads ? { per_layer_load: s.perLayerLoad } : {}),
        ...(g ? { groups_per_token: g } : {}),
      };
      process.stdout.write(JSON.stringify(doc) + "\n");
      return;
    }
    const out: string[] = [];
    out.push(`${path}`);
    out.push(
      `  tokens ${s.tokens}  sequences ${s.sequences}  layers ${s.layers}  experts ${s.experts}  top-k ${s.top_k}${t.meta.model ? `  model ${t.meta.model}` : ""}`,
    );
    const inc = t.meta.incomplete;
    if (inc)
      out.push(
        `  dropped ${inc.dropped_tokens} incomplete tokens (${inc.dropped_records} records): ${inc.first.join("; ")}${inc.dropped_tokens > inc.first.length ? "; ..." : ""}`,
      );
    for (const note of s.notes) out.push(`  note: ${note}`);
    out.push(
      `  reuse of previous token's experts ${fmt(s.reuseRate)}  cross-layer MI ${fmt(s.crossLayerMI)} bits  co-activation MI ${fmt(s.coActivationMI)} bits`,
    );
    if (g)
      out.push(
        `  groups per token (${g.groups} groups): max ${g.max}  mean ${fmt(g.mean, 2)}` +
          (g.limit === null ? "" : `  over the limit of ${g.limit}: ${g.over_limit} (token, layer) pairs`),
      );
    out.push("");
    out.push("  layer  max/mean   gini     cv  zipf-s   experts by load/mean: <.25 <.5 <.75 <1 <1.5 <2 <3 >=3");
    s.skew.perLayer.forEach((x, l) => {
      out.push(
        `  ${String(l).padStart(5)}  ${fmt(x.maxOverMean, 2).padStart(8)}  ${fmt(x.gini).padStart(5)}  ${fmt(x.cv, 2).padStart(5)}  ${fmt(x.zipfS, 2).padStart(6)}   ${histogram(s.perLayerLoad[l])}`,
      );
    });
    const m = s.skew.mean;
    out.push(
      `   mean  ${fmt(m.maxOverMean, 2).padStart(8)}  ${fmt(m.gini).padStart(5)}  ${fmt(m.cv, 2).padStart(5)}  ${fmt(m.zipfS, 2).padStart(6)}`,
    );
    process.stdout.write(out.join("\n") + "\n");
  });

  readFlags(
    trace
      .command("convert <input> <output>")
      .description("convert a trace (any readable format) to the binary .mtrace form")
      .addHelpText(
        "after",
        "\nExample:\n  moesim trace convert ../shared/traces/olmoe-1b-7b-decode.jsonl.gz /tmp/olmoe.mtrace\n  moesim trace convert records.jsonl out.mtrace --map seq=problem_id,token=token_idx --experts 64",
      ),
  ).action(async (input: string, output: string, f: ReadFlags) => {
    checkOutputFile(output, "output trace");
    const t = await readTrace(input, readOpts(f));
    writeBinaryTrace(output, t);
    process.stderr.write(
      `wrote ${output}: ${t.tokens} tokens, ${t.layers} layers, ${t.experts} experts, top-${t.topK}\n`,
    );
  });

  readFlags(
    trace
      .command("fit <trace>")
      .description("fit synthetic-routing parameters (popularity, reuse, topics, cross-layer lift) to a trace")
      .requiredOption("-o, --output <file>", "parameters JSON to write")
      .option("--clusters <n>", "latent topics", "8")
      .option("--seed <s>", "seed of the fit (k-means start, calibration)", "0")
      .addHelpText(
        "after",
        "\nExample:\n  moesim trace fit ../shared/traces/olmoe-1b-7b-decode.jsonl.gz -o src/workload/fitted/olmoe-1b-7b.json",
      ),
  ).action(async (path: string, f: ReadFlags & { output: string; clusters: string; seed: string }) => {
    checkOutputFile(f.output, "parameters file");
    const t = await readTrace(path, readOpts(f));
    const p = fitSynth(t, { clusters: int(f.clusters, "--clusters"), seed: f.seed });
    writeFileAtomic(f.output, formatSynthParams(p));
    process.stderr.write(`wrote ${f.output}: ${p.clusters} topics, reuse ${p.fittedFrom?.reuseRate.toFixed(3)}\n`);
  });

  trace
    .command("synth")
    .description("write a synthetic routing trace (binary .mtrace) from fitted or named parameters")
    .requiredOption("--params <file|name>", "parameters JSON from 'moesim trace fit', or a shipped set (olmoe-1b-7b)")
    .requiredOption("-o, --output <file>", "trace to write (.mtrace)")
    .option("--sequences <n>", "requests", "64")
    .option("--tokens <n|min..max>", "tokens per request", "32")
    .option("--seed <s>", "seed", "0")
    .option(
      "--groups <G/M>",
      "group-limited routing: G expert groups, a token's top-k within M of them (DeepSeek-V3: 8/4)",
    )
    .addHelpText(
      "after",
      "\nExample:\n  moesim trace synth --params olmoe-1b-7b --sequences 48 --tokens 8..64 --seed 1 -o scenarios/traces/quickstart.mtrace",
    )
    .action(
      (f: { params: string; output: string; sequences: string; tokens: string; seed: string; groups?: string }) => {
        checkOutputFile(f.output, "output trace");
        const p = loadSynthParams(f.params);
        const m = /^(\d+)(?:\.\.(\d+))?$/.exec(f.tokens.trim());
        if (!m) throw new UserError(`--tokens '${f.tokens}': expected N or MIN..MAX`);
        const tokens: number | [number, number] = m[2] === undefined ? Number(m[1]) : [Number(m[1]), Number(m[2])];
        const gl = f.groups === undefined ? null : parseGroups(f.groups);
        if (gl && gl.limit === null) throw new UserError(`--groups '${f.groups}': expected G/M, e.g. 8/4`);
        const t = synthesize(p, {
          sequences: int(f.sequences, "--sequences")!,
          tokensPerSequence: tokens,
          seed: f.seed,
          ...(gl ? { groupLimit: { groups: gl.groups, topGroups: gl.limit! } } : {}),
        });
        writeBinaryTrace(f.output, t);
        process.stderr.write(
          `wrote ${f.output}: ${t.tokens} tokens, ${t.layers} layers, ${t.experts} experts, top-${t.topK}\n`,
        );
      },
    );
}

/** "G" or "G/M": groups, and the limit when given. */
function parseGroups(v: string): { groups: number; limit: number | null } {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(v.trim());
  if (!m) throw new UserError(`--groups '${v}': expected G or G/M (groups, top groups), e.g. 8/4`);
  return { groups: Number(m[1]), limit: m[2] === undefined ? null : Number(m[2]) };
}

function groupSpan(
  t: Parameters<typeof groupsPerToken>[0],
  v: string,
): { groups: number; limit: number | null; max: number; mean: number; over_limit: number } {
  const { groups, limit } = parseGroups(v);
  return { groups, limit, ...groupsPerToken(t, groups, limit ?? undefined) };
}
