/**
 * Shared pieces of the fuzz tests (issue 7): run the real `moesim run` code path in-process on a
 * file, capture what it prints, and check that it ended in one clear user error.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import type { RandomStream } from "../../src/sim/rng.js";

export interface CliResult {
  code: number;
  out: string;
  err: string;
  ms: number;
}

/** `moesim ARGS...` in-process, with stdout and stderr captured and the exit code reset afterwards. */
export async function runCliCaptured(args: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = (s: string | Uint8Array) => ((out += String(s)), true);
  process.stderr.write = (s: string | Uint8Array) => ((err += String(s)), true);
  const t0 = performance.now();
  let code: number;
  try {
    code = await main(["node", "moesim", ...args]);
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
    process.exitCode = undefined;
  }
  return { code, out, err, ms: performance.now() - t0 };
}

/** `moesim run FILE --json --no-report --out OUT` in-process, with stdout and stderr captured. */
export function runScenarioCli(file: string, outDir: string): Promise<CliResult> {
  return runCliCaptured(["run", file, "--json", "--no-report", "--out", outDir]);
}

/** Why a result is not "one clear user error" (null when it is). */
export function badOutcome(r: CliResult): string | null {
  if (r.code !== 2) return `exit code ${r.code}, expected 2`;
  if (r.out !== "") return `printed on stdout: ${r.out.slice(0, 200)}`;
  if (/\n\s+at /.test(r.err) || /^\s+at /m.test(r.err)) return "stack trace on stderr";
  if (!r.err.startsWith("moesim: error: ")) return "stderr does not start with 'moesim: error: '";
  if (!r.err.endsWith("\n") || r.err.indexOf("\n") !== r.err.length - 1) return "stderr is not exactly one line";
  if (/internal error/i.test(r.err)) return "internal error";
  const msg = r.err.slice("moesim: error: ".length).trim();
  if (msg.length < 15) return "message too short to be clear";
  const unquoted = msg.replace(/"[^"]*"|'[^']*'/g, "");
  if (/\bundefined\b|\[object Object\]/.test(unquoted) || /(?<!got )\bNaN\b/.test(unquoted))
    return "message shows undefined/NaN/[object Object]";
  return null;
}

/**
 * A coarse class of an error message, for the summary: the location, numbers and quoted values
 * are removed so that messages of one kind collapse together.
 */
export function errorKind(err: string): string {
  let m = err.replace(/^moesim: error: /, "").trim();
  m = m.replace(/(?:\/|<)[^\s:]*(?::\d+)*:? ?/g, ""); // file paths with :line:col
  for (let i = 0; i < 3; i++) m = m.replace(/^[A-Za-z_][\w.[\]-]*: /, ""); // key paths
  m = m.replace(/"[^"]*"|'[^']*'|\([^)]*\)/g, "Q").replace(/-?\d[\d.e+-]*/g, "N");
  return m.split(/[;,]/)[0].slice(0, 60);
}

export interface FuzzCase {
  /** What the mutation did, for failure reports. */
  what: string;
  /** The file's bytes. */
  bytes: Uint8Array | string;
  /** File name (extension matters for some readers). */
  name: string;
}

export interface FuzzStats {
  cases: number;
  kinds: Map<string, number>;
  /** One full message per kind. */
  examples: Map<string, string>;
  failures: string[];
  slowestMs: number;
  slowest: string;
}

export function newStats(): FuzzStats {
  return { cases: 0, kinds: new Map(), examples: new Map(), failures: [], slowestMs: 0, slowest: "" };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs one scenario file through the CLI and records its outcome in `stats`. */
export async function checkScenarioFile(stats: FuzzStats, file: string, outDir: string, what: string): Promise<void> {
  const r = await runScenarioCli(file, outDir);
  stats.cases++;
  if (r.ms > stats.slowestMs) {
    stats.slowestMs = r.ms;
    stats.slowest = what;
  }
  const bad = badOutcome(r);
  if (bad) {
    stats.failures.push(`${what} [${file}]: ${bad}\n    stderr: ${r.err.slice(0, 600).replace(/\n/g, "\n    ")}`);
    return;
  }
  const k = errorKind(r.err);
  stats.kinds.set(k, (stats.kinds.get(k) ?? 0) + 1);
  if (!stats.examples.has(k)) stats.examples.set(k, `${what}\n      -> ${r.err.trim()}`);
}

export function writeCase(dir: string, i: number, c: FuzzCase): string {
  const path = join(dir, `${String(i).padStart(4, "0")}-${c.name}`);
  writeFileSync(path, c.bytes);
  return path;
}

/** With MOESIM_FUZZ_VERBOSE=1: one example message per error kind (for reviewing their clarity). */
export function printExamples(stats: FuzzStats): void {
  if (!process.env.MOESIM_FUZZ_VERBOSE) return;
  for (const [k, ex] of stats.examples) console.log(`  [${k}] ${ex}`);
}

export function summaryLine(label: string, stats: FuzzStats): string {
  return `${label}: ${stats.cases} cases, ${stats.kinds.size} distinct error kinds, ${stats.failures.length} failures, slowest case ${stats.slowestMs.toFixed(0)} ms (${stats.slowest})`;
}

export const pick = <T>(rng: RandomStream, xs: readonly T[]): T => xs[rng.int(xs.length)];

/** Bytes that are never valid UTF-8 wherever they stand. */
export const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0xc0, 0xaf], // overlong '/'
  [0xed, 0xa0, 0x80], // UTF-16 surrogate
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
  [0x80], // lone continuation byte
  [0xc3, 0x28], // lead byte without its continuation
];

export function insertBytes(buf: Uint8Array, at: number, ins: readonly number[]): Uint8Array {
  const out = new Uint8Array(buf.length + ins.length);
  out.set(buf.subarray(0, at), 0);
  out.set(ins, at);
  out.set(buf.subarray(at), at + ins.length);
  return out;
}
