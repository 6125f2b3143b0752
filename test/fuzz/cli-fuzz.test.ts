/**
 * Issue 16, the command-line surface: seeded bad values of every flag of every command, output
 * paths, profiles and sweep files, run in-process. Each case ends in exit 2 with exactly one stderr
 * line (badOutcome: no stack trace, a clear message naming the flag, file or key), or in a
 * documented success (exit 0). The named cases of the issue come first.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rootStream, type RandomStream } from "../../src/sim/rng.js";
import { badOutcome, pick, runCliCaptured, tempDir, type CliResult } from "./helpers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const TRACE = join(ROOT, "scenarios", "traces", "quickstart.mtrace");
const PROFILE = join(ROOT, "profiles", "lavapipe.json");

const cli = runCliCaptured;

async function expectUserError(args: string[], pattern: RegExp): Promise<CliResult> {
  const r = await cli(args);
  expect(badOutcome(r), `${args.join(" ")}\n${r.err}`).toBeNull();
  expect(r.err).toMatch(pattern);
  return r;
}

const cwd0 = process.cwd();
let work = "";
beforeAll(() => {
  work = tempDir("moesim-clifuzz-");
  process.chdir(work);
});
afterAll(() => process.chdir(cwd0));

function scenario(
  extra = "",
  trace = "{ synthetic: { fitted: olmoe-1b-7b, sequences: 4, tokens_per_sequence: 2 } }",
): string {
  return (
    `name: t\nseed: 3\ncluster: { preset: dgx-h100, nodes: 1 }\nmodel: { preset: olmoe-1b-7b }\n` +
    `trace: ${trace}\nworkload: { phase: decode, batching: { kind: static, batch_size: 4 } }\n${extra}`
  );
}

describe("issue 16: one dialect for every command", () => {
  it("cache takes the trace options (--map, --format, --incomplete, ...) it used to reject", async () => {
    await expectUserError(["cache", "--trace", TRACE, "--map", "seq"], /--map: bad field mapping entry 'seq'/);
    await expectUserError(
      ["cache", "--trace", TRACE, "--incomplete", "maybe"],
      /--incomplete: expected error, drop or empty/,
    );
    await expectUserError(["placement", "--trace", TRACE, "--format", "xml"], /--format: expected auto, binary/);
  });
  it("cache without --expert-bytes: miss counts only, bytes empty and a note says why", async () => {
    const trace = join(work, "nobytes.jsonl");
    const lines = [];
    for (let t = 0; t < 8; t++)
      for (let l = 0; l < 2; l++)
        lines.push(JSON.stringify({ seq: 0, token: t, layer: l, experts: [t % 4, 4 + (t % 3)] }));
    writeFileSync(trace, lines.join("\n") + "\n");
    const r = await cli([
      "cache",
      "--trace",
      trace,
      "--gpus",
      "2",
      "--slots",
      "1..2",
      "--json",
      "--out",
      "c1",
      "--no-report",
    ]);
    expect(r.code, r.err).toBe(0);
    const rows = JSON.parse(r.out) as { bytes_moved: number | null; misses: number }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((x) => x.bytes_moved === null && x.misses > 0)).toBe(true);
    expect(r.err).toMatch(/note: no bytes moved: the trace does not say how big an expert is/);
    expect(readFileSync(join("c1", "cache.csv"), "utf8").split("\n")[1]).toMatch(/,$/);
  });
  it("cache --slots 1..100000: sizes above the experts one GPU hosts are left out with a note; 65537 is refused", async () => {
    const r = await cli([
      "cache",
      "--trace",
      TRACE,
      "--policies",
      "lru",
      "--slots",
      "1..65536",
      "--json",
      "--out",
      "c2",
      "--no-report",
    ]);
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as unknown[]).length).toBe(8); // 64 experts on 8 GPUs
    expect(r.err).toMatch(/sizes above 8 .* change nothing and are left out/);
    expect(r.err.split("\n").length).toBeLessThan(10);
    await expectUserError(
      ["cache", "--trace", TRACE, "--slots", "65537"],
      /--slots: expected a whole number from 1 to 65536/,
    );
    await expectUserError(["cache", "--trace", TRACE, "--slots", "1..100000"], /--slots/);
  });
  it("trace synth --sequences 1e9 and --tokens 1..1e9 are refused with the scenario limits", async () => {
    await expectUserError(
      ["trace", "synth", "--params", "olmoe-1b-7b", "--sequences", "1000000000", "-o", "a.mtrace"],
      /--sequences: expected a whole number from 1 to 1000000/,
    );
    await expectUserError(
      ["trace", "synth", "--params", "olmoe-1b-7b", "--tokens", "1..1000000", "--sequences", "1000", "-o", "a.mtrace"],
      /synthetic tokens allowed/,
    );
    await expectUserError(
      ["trace", "synth", "--params", "olmoe-1b-7b", "--tokens", "1e9", "-o", "a.mtrace"],
      /--tokens: expected N or MIN..MAX/,
    );
  });
  it("-o/--out and --json on trace fit, synth and convert", async () => {
    const s = await cli([
      "trace",
      "synth",
      "--params",
      "olmoe-1b-7b",
      "--sequences",
      "4",
      "--tokens",
      "2",
      "--out",
      "s.mtrace",
      "--json",
    ]);
    expect(s.code, s.err).toBe(0);
    expect(JSON.parse(s.out)).toMatchObject({ tokens: 8, top_k: 8 });
    const c = await cli(["trace", "convert", "s.mtrace", "c.mtrace", "--json"]);
    expect(JSON.parse(c.out)).toMatchObject({ tokens: 8 });
    const f = await cli(["trace", "fit", "s.mtrace", "--clusters", "1", "-o", "f.json", "--json"]);
    expect(f.code, f.err).toBe(0);
    expect(JSON.parse(f.out)).toMatchObject({ path: "f.json", clusters: 1 });
  });
  it("commander's own errors (unknown option, missing argument, unknown command) are one line with exit 2", async () => {
    await expectUserError(["run", "--nope", "x.yaml"], /^moesim: error: moesim run: unknown option '--nope'/);
    await expectUserError(["run"], /moesim run: missing required argument 'scenario'/);
    await expectUserError(["cache"], /moesim cache: required option '--trace <file>' not specified/);
    await expectUserError(["trace", "synth", "--params"], /option '--params <file\|name>' argument missing/);
    await expectUserError(["bogus"], /unknown command 'bogus'/);
  });
  it("--out '' says the path is empty", async () => {
    writeFileSync("s.yaml", scenario());
    await expectUserError(["run", "s.yaml", "--out", ""], /the path is empty/);
    await expectUserError(["trace", "convert", TRACE, ""], /the path is empty/);
  });
  it("calibrate --out with --profile is refused; bad --stat and --reps name the flag", async () => {
    await expectUserError(["calibrate", "--validate", "--stat", "mean"], /--stat: expected min or median/);
    await expectUserError(["calibrate", "--out", "p.json", "--reps", "0"], /--reps: expected a whole number/);
    await expectUserError(["calibrate", "--out", "p.json", "--profile", PROFILE], /not both/);
  });
  it("profiles: fitNs 'fast', 0, -5, ratePerS 0, perTileNs -1e12 are one line naming file and key", async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const base = JSON.parse(readFileSync(PROFILE, "utf8")) as Record<string, any>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const muts: [string, (p: any) => void, RegExp][] = [
      ["fitNs fast", (p) => (p.ops.gating.points[0].fitNs = "fast"), /ops\.gating\.points\[0\]\.fitNs/],
      ["fitNs 0", (p) => (p.ops.gating.points[0].fitNs = 0), /fitNs/],
      ["fitNs -5", (p) => (p.ops.gating.points[0].fitNs = -5), /fitNs/],
      ["ratePerS 0", (p) => (p.extraOps.launch.fit.ratePerS = 0), /extraOps\.launch\.fit\.ratePerS/],
      ["perTileNs -1e12", (p) => (p.ops.expert_ffn.fit.perTileNs = -1e12), /perTileNs/],
    ];
    for (const [what, mut, key] of muts) {
      const p = structuredClone(base);
      mut(p);
      const file = join(work, `${what.replace(/\W/g, "_")}.json`);
      writeFileSync(file, JSON.stringify(p));
      writeFileSync("p.yaml", scenario().replace("nodes: 1 }", `nodes: 1, profile: ${file} }`));
      const r = await expectUserError(["run", "p.yaml", "--out", "pr", "--no-report"], key);
      expect(r.err).toContain(file);
    }
  });
  it("scenario trace.incomplete: drop runs a ragged trace and the summary notes what was dropped", async () => {
    const lines = [0, 1, 2, 3].flatMap((t) =>
      Array.from({ length: 16 }, (_, l) => l)
        .filter((l) => !(t === 1 && l === 5))
        .map((l) => JSON.stringify({ seq: 0, token: t, layer: l, experts: [0, 1, 2, 3, 4, 5, 6, 63] })),
    );
    writeFileSync("rag.jsonl", lines.join("\n") + "\n");
    writeFileSync("rag.yaml", scenario("", "{ file: rag.jsonl, incomplete: drop }").replace("name: t", "name: rag"));
    const r = await cli(["run", "rag.yaml", "--json", "--no-report", "--out", "rag-out"]);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out) as { notes: string[]; tokens: number };
    expect(s.notes.join("\n")).toMatch(/trace.incomplete: drop left out 1 tokens/);
    writeFileSync("rag2.yaml", scenario("", "{ file: rag.jsonl }").replace("name: t", "name: rag2"));
    await expectUserError(
      ["run", "rag2.yaml", "--json", "--no-report", "--out", "rag2-out"],
      /1 of 4 tokens have no record/,
    );
    writeFileSync("rag3.yaml", scenario("", "{ file: rag.jsonl, incomplete: maybe }").replace("name: t", "name: rag3"));
    await expectUserError(["run", "rag3.yaml", "--out", "rag3-out"], /trace\.incomplete/);
  });
});

/** Bad values for a flag of each kind. */
const BAD_INTS = [
  "",
  "0",
  "-1",
  "1.5",
  "abc",
  "1e9",
  "9999999999999999999",
  "0x10",
  " ",
  "NaN",
  "Infinity",
  "1..2",
  "--",
  "١",
];
const BAD_LISTS = ["", ",", "nope", "lru,nope", "all,lru", "LRU", "lru;fifo", "\u0000", "'", "a".repeat(3000)];
const BAD_RANGES = [
  "",
  "0",
  "0..2",
  "3..1",
  "1..",
  "..4",
  "1...4",
  "a..b",
  "1..2..3",
  "-1",
  "1,,",
  "65537",
  "1..99999999",
];
const BAD_PATHS = ["", "/dev/null", "/", "/proc/x/y", "missing-dir/sub/file", "a-file/below", ".", "/dev/null/x"];

type Gen = (rng: RandomStream) => string[];

/** One generator per (command, flag kind): each gives the argv of one case. */
const GENERATORS: [string, Gen][] = [
  ["cache --gpus", (r) => ["cache", "--trace", TRACE, "--gpus", pick(r, BAD_INTS)]],
  ["cache --batch", (r) => ["cache", "--trace", TRACE, "--batch", pick(r, BAD_INTS)]],
  ["cache --slots", (r) => ["cache", "--trace", TRACE, "--slots", pick(r, BAD_RANGES)]],
  ["cache --policies", (r) => ["cache", "--trace", TRACE, "--policies", pick(r, BAD_LISTS)]],
  ["cache --placement", (r) => ["cache", "--trace", TRACE, "--placement", pick(r, BAD_LISTS)]],
  ["cache --expert-bytes", (r) => ["cache", "--trace", TRACE, "--expert-bytes", pick(r, BAD_INTS)]],
  ["cache --out", (r) => ["cache", "--trace", TRACE, "--out", pick(r, BAD_PATHS)]],
  ["cache --max-tokens", (r) => ["cache", "--trace", TRACE, "--max-tokens", pick(r, BAD_INTS)]],
  ["placement --gpus", (r) => ["placement", "--trace", TRACE, "--gpus", pick(r, BAD_INTS)]],
  [
    "placement --replicate-hot",
    (r) => [
      "placement",
      "--trace",
      TRACE,
      "--replicate-hot",
      pick(
        r,
        BAD_INTS.filter((x) => x !== "0"),
      ),
    ],
  ],
  [
    "placement --fit-fraction",
    (r) => ["placement", "--trace", TRACE, "--fit-fraction", pick(r, ["", "0", "1", "-0.5", "x", "2"])],
  ],
  ["placement --policies", (r) => ["placement", "--trace", TRACE, "--policies", pick(r, BAD_LISTS)]],
  ["placement --experts", (r) => ["placement", "--trace", TRACE, "--experts", pick(r, BAD_INTS)]],
  ["trace info --top-k", (r) => ["trace", "info", TRACE, "--top-k", pick(r, BAD_INTS)]],
  ["trace info --format", (r) => ["trace", "info", TRACE, "--format", pick(r, BAD_LISTS)]],
  [
    "trace info --map",
    (r) => ["trace", "info", TRACE, "--map", pick(r, ["", "seq", "x=y", "seq=", "=a", "seq=a,seq=b"])],
  ],
  ["trace info --incomplete", (r) => ["trace", "info", TRACE, "--incomplete", pick(r, BAD_LISTS)]],
  ["trace convert OUT", (r) => ["trace", "convert", TRACE, pick(r, BAD_PATHS)]],
  ["trace fit -o", (r) => ["trace", "fit", TRACE, "-o", pick(r, BAD_PATHS)]],
  ["trace fit --clusters", (r) => ["trace", "fit", TRACE, "-o", "f.json", "--clusters", pick(r, BAD_INTS)]],
  [
    "trace synth --sequences",
    (r) => ["trace", "synth", "--params", "olmoe-1b-7b", "-o", "s.mtrace", "--sequences", pick(r, BAD_INTS)],
  ],
  [
    "trace synth --tokens",
    (r) => ["trace", "synth", "--params", "olmoe-1b-7b", "-o", "s.mtrace", "--tokens", pick(r, BAD_RANGES)],
  ],
  [
    "trace synth --params",
    (r) => ["trace", "synth", "-o", "s.mtrace", "--params", pick(r, ["nope", "", "/dev/null", "missing.json"])],
  ],
  [
    "trace synth -o",
    (r) => ["trace", "synth", "--params", "olmoe-1b-7b", "--sequences", "2", "--tokens", "2", "-o", pick(r, BAD_PATHS)],
  ],
  ["run --out", (r) => ["run", "s.yaml", "--no-report", "--out", pick(r, BAD_PATHS)]],
  ["sweep --workers", (r) => ["sweep", "sw.yaml", "--dry-run", "--workers", pick(r, BAD_INTS)]],
  [
    "sweep --shard",
    (r) => ["sweep", "sw.yaml", "--dry-run", "--shard", pick(r, ["", "1", "2/2", "-1/2", "a/b", "0/0", "1/2/3"])],
  ],
  ["schema --out", (r) => ["schema", "--out", pick(r, BAD_PATHS)]],
  ["merge --out", (r) => ["merge", "nope-dir", "--out", pick(r, BAD_PATHS)]],
  ["init PATH", (r) => ["init", pick(r, BAD_PATHS)]],
  ["report --out", (r) => ["report", "nope-dir", "--out", pick(r, BAD_PATHS)]],
  ["validate TARGET", (r) => ["validate", pick(r, ["", "nope", "__proto__", "constructor"])]],
  ["calibrate --stat", (r) => ["calibrate", "--validate", "--stat", pick(r, BAD_LISTS)]],
  ["calibrate --out", (r) => ["calibrate", "--out", pick(r, BAD_PATHS)]],
  [
    "unknown option",
    (r) => [
      pick(r, ["run", "cache", "placement", "sweep", "merge", "report", "init"]),
      `--${pick(r, ["nope", "map2", "outt", "x"])}`,
    ],
  ],
  ["sweep file", (r) => ["sweep", sweepFile(r), "--dry-run", "--json"]],
];

/** Sweep files with a bad key path, value or shape. */
function sweepFile(r: RandomStream): string {
  const bad = pick(r, [
    "grid: { __proto__.polluted: [1, 2] }",
    "grid: { constructor.prototype.x: [1] }",
    "grid: { seed: [1, x] }",
    "grid: { seed: [1, .nan] }",
    "grid: { policies.gatng.policy: [static] }",
    "points: [ { seed: 2 }, { polices.gating.policy: static } ]",
    "grid: { seed: [] }",
    "grid: { nope.key: [1, 2] }",
    "grid: 7",
    "points: [ { seed: -1 } ]",
    "set: { workload.batching.batch_size: 0 }",
    "out: /dev/null",
    "base: missing.yaml",
    "a: &a [1,1,1,1]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\nd: [*c,*c,*c,*c]",
  ]);
  const base = bad.startsWith("base:") ? bad : `base: s.yaml\n${bad}`;
  const file = `sw-${r.int(1e9)}.yaml`;
  writeFileSync(file, `name: sw\n${base}\n`);
  return file;
}

describe("CLI fuzz (issue 16)", () => {
  it(">= 1,000 seeded cases of flags, output paths and sweep files: one clear line with exit 2, or success", async () => {
    writeFileSync("s.yaml", scenario());
    writeFileSync("sw.yaml", "name: sw\nbase: s.yaml\ngrid: { seed: [1, 2] }\n");
    mkdirSync("nope-dir", { recursive: true });
    writeFileSync("a-file", "x");
    const rng = rootStream("cli-fuzz/1");
    const failures: string[] = [];
    let slowest = 0;
    let ok = 0;
    const heap0 = process.memoryUsage().rss;
    let peak = heap0;
    const N = 1000;
    for (let i = 0; i < N; i++) {
      const [name, gen] = GENERATORS[i % GENERATORS.length];
      const args = gen(rng);
      if (args[0] === "calibrate" && !args.includes("--stat") && !BAD_PATHS.slice(0, 8).includes(args[2])) continue;
      const r = await cli(args);
      slowest = Math.max(slowest, r.ms);
      peak = Math.max(peak, process.memoryUsage().rss);
      if (r.code === 0) {
        ok++;
        continue;
      }
      let bad = badOutcome(r);
      // A sweep file's error names its line and column, the key path, and never zod's bare "Invalid input".
      if (
        !bad &&
        name === "sweep file" &&
        !/^moesim: error: sw-\d+\.yaml:\d+:\d+: (point \d+ \([^)]*\): )?[\w.[\]]+: /.test(r.err)
      )
        bad = "a sweep file's error without file:line:col and key path";
      if (!bad && /Invalid input/.test(r.err)) bad = "zod's bare 'Invalid input'";
      if (bad) failures.push(`${name}: ${JSON.stringify(args)}: ${bad}\n    ${r.err.slice(0, 400)}`);
    }
    expect(failures, failures.slice(0, 20).join("\n")).toEqual([]);
    expect(ok).toBeLessThan(N / 2); // most cases are errors: the generators do not drift into success
    expect(slowest).toBeLessThan(30_000);
    expect(peak - heap0).toBeLessThan(2e9);
  });
});
