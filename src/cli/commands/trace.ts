import type { Command } from "commander";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { checkOutputFile } from "../../util/output.js";
import { readTrace, writeBinaryTrace } from "../../workload/read.js";
import { groupsPerToken, traceStats } from "../../workload/stats.js";
import { formatSynthParams, loadSynthParams, synthesize, type SynthParams } from "../../workload/synth.js";
import { fitSynth } from "../../workload/synth-fit.js";
import { LIMITS } from "../../scenario/limits.js";
import { intFlag, rangeFlag, traceReadFlags, traceReadOptions, type TraceReadFlags } from "../flags.js";
import type { TraceMeta } from "../../workload/trace.js";

const readFlags = traceReadFlags;
const readOpts = traceReadOptions;
type ReadFlags = TraceReadFlags;

/** The shape of a written trace, for --json. */
function shapeDoc(path: string, t: { tokens: number; layers: number; experts: number; topK: number }): string {
  return JSON.stringify({ path, tokens: t.tokens, layers: t.layers, experts: t.experts, top_k: t.topK }) + "\n";
}

/** `trace synth`'s counts within the limits a scenario's synthetic trace has (scenario/limits.ts). */
function synthCounts(p: SynthParams, f: { sequences: string; tokens: string }): [number, [number, number]] {
  const sequences = intFlag("--sequences", f.sequences, { min: 1, max: LIMITS.sequences });
  const tokens = rangeFlag("--tokens", f.tokens, { min: 1, max: LIMITS.tokensPerSequence });
  const perToken = p.layers * p.topK;
  const maxTokens = Math.min(LIMITS.syntheticTokens, Math.floor(LIMITS.syntheticPicks / perToken));
  if (sequences * tokens[1] > maxTokens)
    throw new UserError(
      `--sequences ${sequences} x --tokens up to ${tokens[1]} is more than the ${maxTokens} synthetic tokens allowed ` +
        `(${perToken} expert picks per token, at most ${LIMITS.syntheticPicks} in all, as in scenarios); ` +
        "use fewer sequences or tokens",
    );
  return [sequences, tokens];
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

/** What the reader did with incomplete tokens, for `trace info`: dropped, or filled with no experts. */
function incompleteLine(inc: NonNullable<TraceMeta["incomplete"]>): string {
  const first = (n: number): string => `${inc.first.join("; ")}${n > inc.first.length ? "; ..." : ""}`;
  const empty = inc.empty_tokens ?? 0;
  return empty > 0
    ? `filled ${empty} incomplete tokens with no experts at ${inc.empty_layers} (token, layer) pairs: ${first(empty)}`
    : `dropped ${inc.dropped_tokens} incomplete tokens (${inc.dropped_records} records): ${first(inc.dropped_tokens)}`;
}

export function register(program: Command): void {
  const trace = program
    .command("trace")
    .description("inspect, convert, fit and synthesise routing traces")
    .addHelpText(
      "after",
      "\nExamples:\n  moesim trace info scenarios/traces/quickstart.mtrace\n" +
        "  moesim trace convert scenarios/traces/quickstart.mtrace copy.mtrace\n" +
        "  moesim trace fit scenarios/traces/quickstart.mtrace --clusters 4 -o fitted.json\n" +
        "  moesim trace synth --params olmoe-1b-7b --sequences 64 --tokens 16..64 --seed 1 -o syn.mtrace",
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
      `  tokens ${s.tokens}  sequences ${s.sequences}  layers ${s.layers}  ` +
        `experts ${s.experts}  top-k ${s.top_k}${t.meta.model ? `  model ${t.meta.model}` : ""}`,
    );
    if (t.meta.incomplete) out.push(`  ${incompleteLine(t.meta.incomplete)}`);
    for (const note of s.notes) out.push(`  note: ${note}`);
    out.push(
      `  reuse of previous token's experts ${fmt(s.reuseRate)}  cross-layer ` +
        `MI ${fmt(s.crossLayerMI)} bits  co-activation MI ${fmt(s.coActivationMI)} bits`,
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
        `  ${String(l).padStart(5)}  ${fmt(x.maxOverMean, 2).padStart(8)}  ${fmt(x.gini).padStart(5)}  ` +
          `${fmt(x.cv, 2).padStart(5)}  ${fmt(x.zipfS, 2).padStart(6)}   ${histogram(s.perLayerLoad[l])}`,
      );
    });
    const m = s.skew.mean;
    out.push(
      `   mean  ${fmt(m.maxOverMean, 2).padStart(8)}  ${fmt(m.gini).padStart(5)} ` +
        ` ${fmt(m.cv, 2).padStart(5)}  ${fmt(m.zipfS, 2).padStart(6)}`,
    );
    process.stdout.write(out.join("\n") + "\n");
  });

  readFlags(
    trace
      .command("convert <input> <output>")
      .description("convert a trace (any readable format) to the binary .mtrace form")
      .option("--json", "print one JSON document {path, tokens, layers, experts, top_k} on stdout")
      .addHelpText(
        "after",
        "\nExample:\n  moesim trace convert scenarios/traces/quickstart.mtrace copy.mtrace\n" +
          "  moesim trace convert records.jsonl out.mtrace --map seq=problem_id,token=token_idx " +
          "--experts 64   # your records",
      ),
  ).action(async (input: string, output: string, f: ReadFlags & { json?: boolean }) => {
    checkOutputFile(output, "output trace");
    const t = await readTrace(input, readOpts(f));
    writeBinaryTrace(output, t);
    process.stderr.write(
      `wrote ${output}: ${t.tokens} tokens, ${t.layers} layers, ${t.experts} experts, top-${t.topK}\n`,
    );
    if (f.json) process.stdout.write(shapeDoc(output, t));
  });

  registerFit(trace);
  registerSynth(trace);
}

function registerFit(trace: Command): void {
  readFlags(
    trace
      .command("fit <trace>")
      .description("fit synthetic-routing parameters (popularity, reuse, topics, cross-layer lift) to a trace")
      .requiredOption("-o, --out <file>", "parameters JSON to write")
      .option("--clusters <n>", "latent topics", "8")
      .option("--seed <s>", "seed of the fit (k-means start, calibration)", "0")
      .option("--json", "print one JSON document {path, clusters, reuse_rate} on stdout")
      .addHelpText(
        "after",
        "\nExample:\n  moesim trace fit scenarios/traces/quickstart.mtrace --clusters 4 -o fitted.json\n" +
          "  moesim trace synth --params fitted.json --sequences 8 -o fitted.mtrace",
      ),
  ).action(async (path: string, f: ReadFlags & { out: string; clusters: string; seed: string; json?: boolean }) => {
    checkOutputFile(f.out, "parameters file");
    const clusters = intFlag("--clusters", f.clusters, { min: 1, max: LIMITS.topics });
    const t = await readTrace(path, readOpts(f));
    const p = fitSynth(t, { clusters, seed: f.seed });
    writeFileAtomic(f.out, formatSynthParams(p));
    process.stderr.write(`wrote ${f.out}: ${p.clusters} topics, reuse ${p.fittedFrom?.reuseRate.toFixed(3)}\n`);
    if (f.json)
      process.stdout.write(
        JSON.stringify({ path: f.out, clusters: p.clusters, reuse_rate: p.fittedFrom?.reuseRate ?? null }) + "\n",
      );
  });
}

function registerSynth(trace: Command): void {
  trace
    .command("synth")
    .description("write a synthetic routing trace (binary .mtrace) from fitted or named parameters")
    .requiredOption("--params <file|name>", "parameters JSON from 'moesim trace fit', or a shipped set (olmoe-1b-7b)")
    .requiredOption("-o, --out <file>", "trace to write (.mtrace)")
    .option("--sequences <n>", `requests (at most ${LIMITS.sequences})`, "64")
    .option("--tokens <n|min..max>", "tokens per request", "32")
    .option("--seed <s>", "seed", "0")
    .option("--json", "print one JSON document {path, tokens, layers, experts, top_k} on stdout")
    .option(
      "--groups <G/M>",
      "group-limited routing: G expert groups, a token's top-k within M of them (DeepSeek-V3: 8/4)",
    )
    .addHelpText(
      "after",
      "\nExample:\n  moesim trace synth --params olmoe-1b-7b --sequences 48 --tokens 8..64 " +
        "--seed 1 -o synth.mtrace\n\n" +
        `Limits (as for a scenario's synthetic trace): at most ${LIMITS.syntheticTokens} tokens and ` +
        `${LIMITS.syntheticPicks} expert picks (tokens x MoE layers x top-k) in all.`,
    )
    .action(
      (f: {
        params: string;
        out: string;
        sequences: string;
        tokens: string;
        seed: string;
        json?: boolean;
        groups?: string;
      }) => {
        checkOutputFile(f.out, "output trace");
        const p = loadSynthParams(f.params);
        const [sequences, tokens] = synthCounts(p, f);
        const gl = f.groups === undefined ? null : parseGroups(f.groups);
        if (gl && gl.limit === null) throw new UserError(`--groups '${f.groups}': expected G/M, e.g. 8/4`);
        const t = synthesize(p, {
          sequences,
          tokensPerSequence: tokens,
          seed: f.seed,
          ...(gl && gl.limit !== null ? { groupLimit: { groups: gl.groups, topGroups: gl.limit } } : {}),
        });
        writeBinaryTrace(f.out, t);
        process.stderr.write(
          `wrote ${f.out}: ${t.tokens} tokens, ${t.layers} layers, ${t.experts} experts, top-${t.topK}\n`,
        );
        if (f.json) process.stdout.write(shapeDoc(f.out, t));
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
