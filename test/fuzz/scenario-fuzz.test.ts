/**
 * Issue 7: a seeded fuzz test feeds >= 1,000 mutated scenario files through the `moesim run` code
 * path; every one must end in one clear line `moesim: error: ...` and exit code 2 — no stack
 * trace, no internal error, no hang, no out-of-memory crash. Every mutation is built to be
 * invalid (an unknown key, a wrong type, a bad number, an unknown name, broken YAML, bad bytes,
 * a resource limit, a contradiction), so any run that succeeds is a failure too.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { stringify } from "yaml";
import { rootStream, type RandomStream } from "../../src/sim/rng.js";
import { encodeBinaryTrace } from "../../src/workload/read.js";
import { synthesize, zipfSynthParams } from "../../src/workload/synth.js";
import {
  INVALID_UTF8,
  checkScenarioFile,
  printExamples,
  insertBytes,
  newStats,
  pick,
  summaryLine,
  tempDir,
  writeCase,
  type FuzzCase,
} from "./helpers.js";

const SEED = 20240607;
const CASES = 1200;

type Obj = Record<string, unknown>;
type Path = (string | number)[];

/** A small valid scenario (synthetic routing, 2 steps) with every mutable section present; model last. */
function baseScenario(): Obj {
  return {
    name: "fuzz",
    description: "fuzz base",
    seed: 5,
    cluster: { preset: "dgx-h100", nodes: 1, gpus: 2, efficiency: { compute: 0.7, memory: 0.8 } },
    trace: {
      format: "auto",
      synthetic: { zipf: 1.1, locality: 0.3, topics: 2, topic_stay: 0.9, sequences: 4, tokens_per_sequence: 3 },
      max_tokens: 12,
    },
    workload: {
      phase: "decode",
      batching: { kind: "static", batch_size: 4 },
      tokens_per_step: 64,
      context_tokens: 128,
      max_steps: 2,
      dense_baseline: false,
    },
    policies: {
      gating: { policy: "dynamic", capacity_factor: 1.0, block_size: 8 },
      buffering: { policy: "lru", slots: 4, pinned: true },
      placement: { policy: "greedy", replicate_hot: 0 },
    },
    outputs: { timelines: false, event_log: false, report: false },
    model: { preset: "olmoe-1b-7b" },
  };
}

/** The same on a small binary trace file (for the file-related mutations). */
function fileScenario(traceFile: string): Obj {
  const b = baseScenario();
  b.trace = { file: traceFile, format: "auto", max_tokens: 12 };
  return b;
}

/** Mappings validated strictly: any extra key is an error. */
const STRICT_OBJECTS: Path[] = [
  [],
  ["cluster"],
  ["cluster", "efficiency"],
  ["model"],
  ["trace"],
  ["trace", "synthetic"],
  ["workload"],
  ["workload", "batching"],
  ["policies"],
  ["policies", "gating"],
  ["policies", "buffering"],
  ["policies", "placement"],
  ["outputs"],
];

type LeafKind =
  | "posint"
  | "nonnegint"
  | "frac"
  | "unit"
  | "posnum"
  | "nonnegnum"
  | "bool"
  | "string"
  | "seed"
  | "name"
  | "enum"
  | "mapping";
const LEAVES: Array<[Path, LeafKind]> = [
  [["name"], "string"],
  [["description"], "string"],
  [["seed"], "seed"],
  [["cluster"], "mapping"],
  [["cluster", "preset"], "name"],
  [["cluster", "nodes"], "posint"],
  [["cluster", "gpus"], "posint"],
  [["cluster", "efficiency"], "mapping"],
  [["cluster", "efficiency", "compute"], "frac"],
  [["cluster", "efficiency", "memory"], "frac"],
  [["model"], "mapping"],
  [["model", "preset"], "name"],
  [["trace"], "mapping"],
  [["trace", "format"], "enum"],
  [["trace", "max_tokens"], "posint"],
  [["trace", "synthetic"], "mapping"],
  [["trace", "synthetic", "zipf"], "nonnegnum"],
  [["trace", "synthetic", "locality"], "unit"],
  [["trace", "synthetic", "topics"], "posint"],
  [["trace", "synthetic", "topic_stay"], "unit"],
  [["trace", "synthetic", "sequences"], "posint"],
  [["trace", "synthetic", "tokens_per_sequence"], "posint"],
  [["workload"], "mapping"],
  [["workload", "phase"], "enum"],
  [["workload", "batching"], "mapping"],
  [["workload", "batching", "kind"], "enum"],
  [["workload", "batching", "batch_size"], "posint"],
  [["workload", "tokens_per_step"], "posint"],
  [["workload", "context_tokens"], "nonnegint"],
  [["workload", "max_steps"], "posint"],
  [["workload", "dense_baseline"], "bool"],
  [["policies"], "mapping"],
  [["policies", "gating"], "mapping"],
  [["policies", "gating", "policy"], "name"],
  [["policies", "gating", "capacity_factor"], "posnum"],
  [["policies", "gating", "block_size"], "posint"],
  [["policies", "buffering"], "mapping"],
  [["policies", "buffering", "policy"], "name"],
  [["policies", "buffering", "slots"], "posint"],
  [["policies", "buffering", "pinned"], "bool"],
  [["policies", "placement"], "mapping"],
  [["policies", "placement", "policy"], "name"],
  [["policies", "placement", "replicate_hot"], "nonnegint"],
  [["outputs"], "mapping"],
  [["outputs", "timelines"], "bool"],
  [["outputs", "event_log"], "bool"],
  [["outputs", "report"], "bool"],
];

/** Values of the wrong type for each kind of leaf (none of them is accepted there). */
function wrongType(rng: RandomStream, kind: LeafKind): unknown {
  const bad: Record<LeafKind, unknown[]> = {
    posint: [null, true, "12", "abc", [3], { n: 3 }, ""],
    nonnegint: [null, false, "0", [0], { n: 0 }],
    frac: [null, true, "0.5", [0.5], {}],
    unit: [null, true, "0.5", [0.5], {}],
    posnum: [null, true, "1.0", [1], { v: 1 }],
    nonnegnum: [null, true, "1", [1], {}],
    bool: [null, "yes", "true", 1, 0, [true], {}],
    string: [null, 12, true, ["a"], { a: 1 }, 1.5],
    seed: [null, true, [1], { s: 1 }, 1.5, -0.5],
    name: [null, 3, true, ["dynamic"], { policy: "x" }],
    enum: [null, 3, false, ["auto"], {}],
    mapping: [null, 3, "text", true, ["a", "b"], []],
  };
  return pick(rng, bad[kind]);
}

/** Numbers out of range for each numeric kind (including NaN and infinities, which YAML can spell). */
function badNumber(rng: RandomStream, kind: LeafKind): number | null {
  const table: Partial<Record<LeafKind, number[]>> = {
    posint: [0, -1, -7, 1.5, 2.0000001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1e308],
    nonnegint: [-1, -1e9, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 1e308],
    frac: [0, -0.1, 1.0001, 2, 1e308, Number.NaN, Number.POSITIVE_INFINITY],
    unit: [-0.1, 1.5, 1e308, -1e308, Number.NaN, Number.NEGATIVE_INFINITY],
    posnum: [0, -1, -1e-300, Number.NaN, Number.POSITIVE_INFINITY],
    nonnegnum: [-1, -1e-9, Number.NaN, Number.POSITIVE_INFINITY],
  };
  const t = table[kind];
  return t ? pick(rng, t) : null;
}

/** Numbers far above what the field can hold: each must be refused with a limit error, not allocated. */
const HUGE_PATHS: Path[] = [
  ["cluster", "nodes"],
  ["cluster", "gpus"],
  ["trace", "synthetic", "topics"],
  ["trace", "synthetic", "sequences"],
  ["trace", "synthetic", "tokens_per_sequence"],
  ["workload", "batching", "batch_size"],
  ["workload", "tokens_per_step"],
  ["workload", "context_tokens"],
  ["workload", "max_steps"],
  ["policies", "gating", "block_size"],
  ["policies", "buffering", "slots"],
  ["policies", "placement", "replicate_hot"],
];

function getAt(o: unknown, p: Path): unknown {
  let v = o;
  for (const k of p) v = (v as Obj)[k];
  return v;
}

function setAt(o: Obj, p: Path, value: unknown): Obj {
  if (p.length === 0) return value as Obj;
  const parent = getAt(o, p.slice(0, -1)) as Obj;
  parent[p[p.length - 1]] = value;
  return o;
}

function deleteAt(o: Obj, p: Path): Obj {
  const parent = getAt(o, p.slice(0, -1)) as Obj;
  delete parent[p[p.length - 1]];
  return o;
}

function junkName(rng: RandomStream): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  let s = "zz";
  for (let i = 0; i < 3 + rng.int(8); i++) s += letters[rng.int(letters.length)];
  return rng.next() < 0.2 ? s.toUpperCase() : rng.next() < 0.2 ? `${s} with space` : s;
}

const yamlText = (o: unknown): string => stringify(o, { lineWidth: 0 });

interface Ctx {
  dir: string;
  traceFile: string;
  junkFile: string;
}

/** The mutators: each returns a file that must be refused. */
const MUTATORS: Array<[string, (rng: RandomStream, ctx: Ctx) => FuzzCase]> = [
  [
    "unknown key",
    (rng) => {
      const o = baseScenario();
      const p = pick(rng, STRICT_OBJECTS);
      const key =
        rng.next() < 0.3
          ? pick(rng, ["Cluster", "preset ", "batchSize", "max-steps", "__proto__", "constructor", "seeds"])
          : junkName(rng);
      // defineProperty: a plain assignment to "__proto__" would set the prototype, not a key.
      Object.defineProperty(getAt(o, p) as Obj, key, {
        value: pick(rng, [1, "x", null, true, { a: 1 }]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return { what: `unknown key '${key}' at ${p.join(".") || "(top)"}`, bytes: yamlText(o), name: "s.yaml" };
    },
  ],
  [
    "wrong type",
    (rng) => {
      const o = baseScenario();
      const [p, kind] = pick(rng, LEAVES);
      const v = wrongType(rng, kind);
      return { what: `${p.join(".")} = ${JSON.stringify(v)}`, bytes: yamlText(setAt(o, p, v)), name: "s.yaml" };
    },
  ],
  [
    "bad number",
    (rng) => {
      const o = baseScenario();
      const numeric = LEAVES.filter(([, k]) => badNumber(rng, k) !== null);
      const [p, kind] = pick(rng, numeric);
      const v = badNumber(rng, kind);
      return { what: `${p.join(".")} = ${v}`, bytes: yamlText(setAt(o, p, v)), name: "s.yaml" };
    },
  ],
  [
    "huge number",
    (rng) => {
      const o = baseScenario();
      const p = pick(rng, HUGE_PATHS);
      const v = pick(rng, [1e308, 2 ** 53, 1e15, 4_294_967_296, 1e10]);
      return { what: `${p.join(".")} = ${v}`, bytes: yamlText(setAt(o, p, v)), name: "s.yaml" };
    },
  ],
  [
    "too many synthetic tokens",
    (rng) => {
      const o = baseScenario();
      const seqs = pick(rng, [100_000, 1_000_000, 500_000]);
      const len = pick(rng, [1000, 100_000, 1_000_000]);
      setAt(o, ["trace", "synthetic", "sequences"], seqs);
      setAt(o, ["trace", "synthetic", "tokens_per_sequence"], rng.next() < 0.5 ? len : [1, len]);
      return { what: `synthetic ${seqs} x ${len}`, bytes: yamlText(o), name: "s.yaml" };
    },
  ],
  [
    "bad tokens_per_sequence range",
    (rng) => {
      const o = baseScenario();
      const v = pick(rng, [[5, 2], [0, 3], [3], [1, 2, 3], [-1, 4], [2.5, 4], ["a", 3], [1, 1e308]]);
      return {
        what: `tokens_per_sequence ${JSON.stringify(v)}`,
        bytes: yamlText(setAt(o, ["trace", "synthetic", "tokens_per_sequence"], v)),
        name: "s.yaml",
      };
    },
  ],
  [
    "unknown name",
    (rng) => {
      const o = baseScenario();
      const p = pick(rng, [
        ["cluster", "preset"],
        ["model", "preset"],
        ["policies", "gating", "policy"],
        ["policies", "buffering", "policy"],
        ["policies", "placement", "policy"],
        ["trace", "format"],
        ["workload", "phase"],
        ["workload", "batching", "kind"],
        ["trace", "synthetic", "fitted"],
      ] as Path[]);
      const v = junkName(rng);
      return { what: `${p.join(".")} = ${v}`, bytes: yamlText(setAt(o, p, v)), name: "s.yaml" };
    },
  ],
  [
    "missing required key",
    (rng) => {
      const o = baseScenario();
      const p = pick(rng, [
        ["cluster"],
        ["model"],
        ["cluster", "preset"],
        ["model", "preset"],
        ["workload", "batching", "batch_size"],
        ["workload", "batching", "kind"],
      ] as Path[]);
      return { what: `without ${p.join(".")}`, bytes: yamlText(deleteAt(o, p)), name: "s.yaml" };
    },
  ],
  [
    "bad name",
    (rng) => {
      const o = baseScenario();
      const v = pick(rng, ["has space", "slash/name", "", "a:b", "ünï", "tab\tname", "../up"]);
      return { what: `name ${JSON.stringify(v)}`, bytes: yamlText(setAt(o, ["name"], v)), name: "s.yaml" };
    },
  ],
  [
    "contradiction",
    (rng, ctx) => {
      const variants: Array<[string, (o: Obj) => void]> = [
        ["file and synthetic", (o) => setAt(o, ["trace", "file"], ctx.traceFile)],
        [
          "continuous batching in prefill",
          (o) => {
            setAt(o, ["workload", "phase"], pick(rng, ["prefill", "encode"]));
            setAt(o, ["workload", "batching"], { kind: "continuous", max_batch: 4 });
          },
        ],
        ["buffering without slots", (o) => deleteAt(o, ["policies", "buffering", "slots"])],
        [
          "belady with continuous batching",
          (o) => {
            setAt(o, ["policies", "buffering", "policy"], "belady");
            setAt(o, ["workload", "batching"], { kind: "continuous", max_batch: 4 });
          },
        ],
        [
          "belady with replication",
          (o) => {
            setAt(o, ["policies", "buffering", "policy"], "belady");
            setAt(o, ["policies", "placement", "replicate_hot"], 1 + rng.int(8));
          },
        ],
        ["more GPUs than the cluster", (o) => setAt(o, ["cluster", "gpus"], 9 + rng.int(100))],
        ["static batching with max_batch", (o) => setAt(o, ["workload", "batching"], { kind: "static", max_batch: 4 })],
        [
          "continuous batching with batch_size",
          (o) => setAt(o, ["workload", "batching"], { kind: "continuous", batch_size: 4 }),
        ],
        [
          "poisson without rate",
          (o) => setAt(o, ["workload", "batching"], { kind: "continuous", max_batch: 4, arrival: { kind: "poisson" } }),
        ],
        [
          "poisson rate 0",
          (o) =>
            setAt(o, ["workload", "batching"], {
              kind: "continuous",
              max_batch: 4,
              arrival: { kind: "poisson", rate_per_s: pick(rng, [0, -1, Number.NaN]) },
            }),
        ],
        ["mapping on a synthetic trace", (o) => setAt(o, ["trace", "mapping"], { seq: "a", token: "b", layer: "c" })],
      ];
      const [what, f] = pick(rng, variants);
      const o = baseScenario();
      f(o);
      return { what, bytes: yamlText(o), name: "s.yaml" };
    },
  ],
  [
    "missing or bad file",
    (rng, ctx) => {
      const variants: Array<[string, (o: Obj) => void]> = [
        ["trace file missing", (o) => setAt(o, ["trace", "file"], `nope-${junkName(rng)}.jsonl`)],
        ["trace file a directory", (o) => setAt(o, ["trace", "file"], ctx.dir)],
        ["trace file junk", (o) => setAt(o, ["trace", "file"], ctx.junkFile)],
        [
          "trace format mismatch",
          (o) => setAt(o, ["trace", "format"], pick(rng, ["olmoe-jsonl", "records-jsonl", "csv"])),
        ],
        ["bad max_tokens", (o) => setAt(o, ["trace", "max_tokens"], pick(rng, [0, -3, 0.5]))],
        ["profile missing", (o) => setAt(o, ["cluster", "profile"], `nope-${junkName(rng)}.json`)],
        ["profile junk", (o) => setAt(o, ["cluster", "profile"], ctx.junkFile)],
        [
          "timestamps missing",
          (o) =>
            setAt(o, ["workload", "batching"], {
              kind: "continuous",
              max_batch: 4,
              arrival: { kind: "timestamps", file: `nope-${junkName(rng)}.txt` },
            }),
        ],
        [
          "timestamps junk",
          (o) =>
            setAt(o, ["workload", "batching"], {
              kind: "continuous",
              max_batch: 4,
              arrival: { kind: "timestamps", file: ctx.junkFile },
            }),
        ],
        [
          "model mismatch",
          (o) =>
            setAt(
              o,
              ["model", "preset"],
              pick(rng, ["mixtral-8x7b", "paper-lm-52b", "qwen1.5-moe-a2.7b", "nllb-moe-54b"]),
            ),
        ],
      ];
      const [what, f] = pick(rng, variants);
      const o = fileScenario(ctx.traceFile);
      f(o);
      return { what, bytes: yamlText(o), name: "s.yaml" };
    },
  ],
  [
    "fitted parameters",
    (rng, ctx) => {
      const o = baseScenario();
      const v = pick(rng, [`./nope-${junkName(rng)}.json`, ctx.junkFile, ctx.traceFile, "../", "/dev/null"]);
      return { what: `fitted ${v}`, bytes: yamlText(setAt(o, ["trace", "synthetic", "fitted"], v)), name: "s.yaml" };
    },
  ],
  [
    "model override",
    (rng) => {
      const o = baseScenario();
      const field = pick(rng, [
        "layers",
        "experts",
        "topK",
        "dModel",
        "dFf",
        "heads",
        "kvHeads",
        "vocab",
        "moeEvery",
        "headDim",
        "sharedExperts",
        "firstMoeLayer",
      ]);
      const v = pick(rng, [0, -1, 1.5, 1e308, 2 ** 40, "8", null, true, [8], { a: 1 }]);
      const over: Obj =
        rng.next() < 0.15
          ? { [junkName(rng)]: 1 }
          : rng.next() < 0.15
            ? { dtype: junkName(rng) }
            : {
                [field]: field === "firstMoeLayer" || field === "sharedExperts" ? pick(rng, [-1, 0.5, 1e308, "x"]) : v,
              };
      if (rng.next() < 0.1) Object.assign(over, { topK: 65, experts: 64 });
      return {
        what: `model.overrides ${JSON.stringify(over)}`,
        bytes: yamlText(setAt(o, ["model", "overrides"], over)),
        name: "s.yaml",
      };
    },
  ],
  [
    "cluster override",
    (rng) => {
      const o = baseScenario();
      const over = pick(rng, [
        { gpusPerNode: pick(rng, [0, -1, 1.5, 1e308, 1e9, "8"]) },
        { [junkName(rng)]: 1 },
        { gpu: { hbmBytes: pick(rng, [0, -1, "80GB", null]) } },
        { gpu: 5 },
        { nvlink: { topology: junkName(rng) } },
        { pcie: { latencyNs: -1 } },
      ] as Obj[]);
      return {
        what: `cluster.overrides ${JSON.stringify(over)}`,
        bytes: yamlText(setAt(o, ["cluster", "overrides"], over)),
        name: "s.yaml",
      };
    },
  ],
  [
    "broken YAML",
    (rng) => {
      const text = yamlText(baseScenario());
      const lines = text.split("\n");
      const at = rng.int(lines.length - 1);
      const broken = pick(rng, [
        "bad: [1, 2",
        "bad: {a: 1",
        'bad: "unterminated',
        "bad: 'unterminated",
        "\tcluster: {}",
        "bad: @reserved",
        "bad: `tick",
        "bad: *noanchor",
        "cluster: {preset: again}",
        "- a list item in a mapping",
        "---\nsecond: document",
        "bad: [1, 2]]",
        "bad: !!int notanint",
        "? [complex, key]\n: value",
        "%YAML 9.9",
      ]);
      lines.splice(at, 0, broken);
      return { what: `inserted ${JSON.stringify(broken)} at line ${at + 1}`, bytes: lines.join("\n"), name: "s.yaml" };
    },
  ],
  [
    "truncated",
    (rng) => {
      // The model preset is the last value; cutting anywhere before its last character loses or breaks it.
      const text = yamlText(baseScenario());
      const end = text.lastIndexOf("olmoe-1b-7b") + "olmoe-1b-7b".length;
      const cut = rng.int(end);
      return { what: `truncated to ${cut} of ${text.length} chars`, bytes: text.slice(0, cut), name: "s.yaml" };
    },
  ],
  [
    "truncated mid-character",
    (rng) => {
      const text = yamlText({ ...baseScenario(), description: "débit — ünïcödé ✓" });
      const bytes = Buffer.from(text, "utf8");
      const multi = [...bytes.keys()].filter((i) => bytes[i] >= 0xc0);
      const i = pick(rng, multi) + 1;
      return { what: `cut inside a UTF-8 sequence at byte ${i}`, bytes: bytes.subarray(0, i), name: "s.yaml" };
    },
  ],
  [
    "invalid UTF-8",
    (rng) => {
      const bytes = Buffer.from(yamlText(baseScenario()), "utf8");
      const ins = pick(rng, INVALID_UTF8);
      const at = rng.int(bytes.length + 1);
      return {
        what: `bytes ${ins.map((b) => b.toString(16)).join(" ")} at ${at}`,
        bytes: insertBytes(bytes, at, ins),
        name: "s.yaml",
      };
    },
  ],
  [
    "other encoding",
    (rng) => {
      const text = yamlText({ ...baseScenario(), description: "débit réservé" });
      const enc = pick(rng, ["utf16le", "latin1", "utf16le-bom"] as const);
      const bytes =
        enc === "latin1"
          ? Buffer.from(text, "latin1")
          : Buffer.concat([
              enc === "utf16le-bom" ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0),
              Buffer.from(text, "utf16le"),
            ]);
      return { what: `encoded as ${enc}`, bytes, name: "s.yaml" };
    },
  ],
  [
    "NUL bytes",
    (rng) => {
      const bytes = Buffer.from(yamlText(baseScenario()), "utf8");
      const at = rng.int(bytes.length + 1);
      return { what: `NUL at ${at}`, bytes: insertBytes(bytes, at, new Array(1 + rng.int(3)).fill(0)), name: "s.yaml" };
    },
  ],
  [
    "binary junk",
    (rng) => {
      const n = 16 + rng.int(rng.next() < 0.1 ? 100_000 : 600);
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = rng.int(256);
      if (rng.next() < 0.5) bytes.set(Buffer.from("cluster: "), 0);
      return { what: `${n} random bytes`, bytes, name: "s.yaml" };
    },
  ],
  [
    "not a mapping",
    (rng) => {
      const v = pick(rng, [
        "",
        "\n\n",
        "# only a comment\n",
        "- a\n- b\n",
        "42\n",
        "just text\n",
        "null\n",
        "[]\n",
        "'quoted'\n",
        "~\n",
        "---\n",
        "...\n",
      ]);
      return { what: `document ${JSON.stringify(v)}`, bytes: v, name: "s.yaml" };
    },
  ],
  [
    "deep nesting",
    (rng) => {
      const depth = pick(rng, [70, 300, 1000, 20_000, 100_000]);
      const style = pick(rng, ["flow-seq", "flow-map", "block-seq", "block-map"] as const);
      let v: string;
      if (style === "flow-seq") v = `description: ${"[".repeat(depth)}${"]".repeat(depth)}\n`;
      else if (style === "flow-map") v = `description: ${"{a: ".repeat(depth)}1${"}".repeat(depth)}\n`;
      else if (style === "block-seq")
        v =
          "description:\n" +
          Array.from({ length: Math.min(depth, 5000) }, (_, i) => `${" ".repeat(i + 1)}-`).join("\n") +
          " x\n";
      else
        v =
          "description:\n" +
          Array.from({ length: Math.min(depth, 5000) }, (_, i) => `${" ".repeat(i + 1)}k${i}:`).join("\n") +
          " 1\n";
      const text = yamlText(baseScenario()).replace(/^description: .*\n/m, v);
      return { what: `${style} nesting depth ${depth}`, bytes: text, name: "s.yaml" };
    },
  ],
  [
    "alias bomb",
    (rng) => {
      const width = 5 + rng.int(10);
      const levels = 4 + rng.int(5);
      const lines = [`l0: &l0 [${new Array(width).fill('"lol"').join(", ")}]`];
      for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${new Array(width).fill(`*l${i - 1}`).join(", ")}]`);
      const text = lines.join("\n") + "\n" + yamlText(baseScenario());
      return { what: `alias bomb ${width}^${levels}`, bytes: text, name: "s.yaml" };
    },
  ],
  [
    "huge text",
    (rng) => {
      const o = baseScenario();
      const n = pick(rng, [1 << 18, 1 << 20]);
      setAt(
        o,
        pick(rng, [["description"], ["name"], ["cluster", "preset"]] as Path[]),
        "x".repeat(n) + (rng.next() < 0.5 ? " " : ""),
      );
      const p = pick(rng, [["name"], ["cluster", "preset"], ["model", "preset"]] as Path[]);
      setAt(o, p, `${"y".repeat(1000)} !`);
      return { what: `a ${n}-char value and a bad ${p.join(".")}`, bytes: yamlText(o), name: "s.yaml" };
    },
  ],
];

describe("scenario fuzz (issue 7)", () => {
  it(`>= 1,000 mutated scenarios each end in one clear error with exit code 2`, async () => {
    const dir = tempDir("moesim-fuzz-scenario-");
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, "results");
    const traceFile = join(dir, "small.mtrace");
    const small = synthesize(
      zipfSynthParams({ layers: 16, experts: 64, topK: 8, zipf: 1.1, locality: 0.3, seed: "fuzz" }),
      { sequences: 4, tokensPerSequence: 4, seed: "fuzz" },
    );
    writeFileSync(traceFile, encodeBinaryTrace(small));
    const junkFile = join(dir, "junk.bin");
    writeFileSync(junkFile, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x7b, 0x7d, 0x0a]));
    mkdirSync(join(dir, "cases"));
    const ctx: Ctx = { dir, traceFile, junkFile };

    // The bases themselves must run, or every "error" below could be the base's own.
    for (const [label, base] of [
      ["synthetic", baseScenario()],
      ["file", fileScenario(traceFile)],
    ] as const) {
      const f = join(dir, `base-${label}.yaml`);
      writeFileSync(f, yamlText(base));
      const { runScenarioCli } = await import("./helpers.js");
      const r = await runScenarioCli(f, join(dir, `base-out-${label}`));
      expect(r.err, `base scenario (${label}) must run`).toBe("");
      expect(r.code).toBe(0);
    }

    const rng = rootStream(SEED).child("scenario-fuzz");
    const stats = newStats();
    const perMutator = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const [name, mutate] = MUTATORS[i % MUTATORS.length];
      const c = mutate(rng.child(`case${i}`), ctx);
      const file = writeCase(join(dir, "cases"), i, c);
      await checkScenarioFile(stats, file, out, `#${i} ${name}: ${c.what}`);
      perMutator.set(name, (perMutator.get(name) ?? 0) + 1);
    }
    console.log(summaryLine("scenario fuzz", stats));
    console.log(`  mutators: ${[...perMutator].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    console.log(`  error kinds: ${[...stats.kinds.keys()].slice(0, 40).join(" | ")}`);
    printExamples(stats);
    expect(stats.failures.slice(0, 60).join("\n")).toBe("");
    expect(stats.cases).toBeGreaterThanOrEqual(1000);
    expect(stats.kinds.size).toBeGreaterThan(40);
  });
});
