/**
 * Issue 7: a seeded fuzz test feeds >= 1,000 mutated trace files — OLMoE JSONL (plain and gzip),
 * per-(token, layer) records JSONL, CSV and binary .mtrace — through `moesim run` (a scenario
 * naming the mutated file, model olmoe-1b-7b: 16 MoE layers, 64 experts, top-8). Every mutation is
 * built to be invalid: truncated mid-line or mid-gzip-stream, flipped header/body/checksum bytes,
 * wrong top-k, expert ids out of range, negative, huge or not integers, wrong types, missing or
 * duplicate layers, invalid UTF-8, NUL bytes, other encodings, wrong gzip magic, empty or
 * header-only files. Each must end in one line `moesim: error: ...` and exit code 2.
 */
import { gzipSync } from "node:zlib";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { stringify } from "yaml";
import { rootStream, type RandomStream } from "../../src/sim/rng.js";
import { encodeBinaryTrace } from "../../src/workload/read.js";
import { synthesize, zipfSynthParams } from "../../src/workload/synth.js";
import type { RoutingTrace } from "../../src/workload/trace.js";
import {
  INVALID_UTF8,
  checkScenarioFile,
  printExamples,
  insertBytes,
  newStats,
  pick,
  runScenarioCli,
  summaryLine,
  tempDir,
  writeCase,
  type FuzzCase,
} from "./helpers.js";

const SEED = 7;
const CASES = 1250;
const LAYERS = 16;
const EXPERTS = 64;
const TOP_K = 8;

type Fmt = "olmoe" | "olmoe-gz" | "records" | "csv" | "binary";

/** 12 tokens of 4 requests, OLMoE-shaped, from the project's own generator. */
function smallTrace(): RoutingTrace {
  const params = zipfSynthParams({
    layers: LAYERS,
    experts: EXPERTS,
    topK: TOP_K,
    zipf: 1.1,
    locality: 0.3,
    seed: "trace-fuzz",
  });
  return synthesize(params, { sequences: 4, tokensPerSequence: 3, seed: "trace-fuzz" });
}

interface TokenLine {
  seq: unknown;
  domain: string;
  prompt_len: number;
  step: unknown;
  token: number;
  experts: unknown[];
}

function olmoeLines(t: RoutingTrace): { header: Record<string, unknown>; tokens: TokenLine[] } {
  const header = {
    format: "moe-routing-trace/v1",
    model: "olmoe-1b-7b",
    layers: LAYERS,
    experts: EXPERTS,
    top_k: TOP_K,
    expert_bytes: 12582912,
  };
  const tokens: TokenLine[] = [];
  for (let i = 0; i < t.tokens; i++) {
    const experts: number[][] = [];
    for (let l = 0; l < LAYERS; l++)
      experts.push([...t.picks.subarray((i * LAYERS + l) * TOP_K, (i * LAYERS + l + 1) * TOP_K)]);
    tokens.push({
      seq: t.seq[i],
      domain: i % 2 ? "général" : "coding",
      prompt_len: 9,
      step: t.step[i],
      token: 100 + i,
      experts,
    });
  }
  return { header, tokens };
}

type Rec = Record<string, unknown>;

/** Per-(token, layer) records with the problem_id mapping and router weights. */
function records(t: RoutingTrace): Rec[] {
  const out: Rec[] = [];
  for (let i = 0; i < t.tokens; i++) {
    for (let l = 0; l < LAYERS; l++) {
      const ex = [...t.picks.subarray((i * LAYERS + l) * TOP_K, (i * LAYERS + l + 1) * TOP_K)];
      out.push({
        problem_id: t.seq[i],
        layer: l + 1,
        token_idx: t.step[i],
        experts: ex,
        gating_probs: ex.map((_, k) => 1 / (k + 2)),
        note: "ü",
      });
    }
  }
  return out;
}

const RECORDS_MAPPING = {
  seq: "problem_id",
  token: "token_idx",
  layer: "layer",
  experts: "experts",
  weights: "gating_probs",
};

/** CSV rows: seq,token,note,layer,experts (a space-separated list, last). */
function csvRows(t: RoutingTrace): string[][] {
  const rows: string[][] = [];
  for (let i = 0; i < t.tokens; i++) {
    for (let l = 0; l < LAYERS; l++) {
      const ex = [...t.picks.subarray((i * LAYERS + l) * TOP_K, (i * LAYERS + l + 1) * TOP_K)];
      rows.push([String(t.seq[i]), String(t.step[i]), "réq", String(l), ex.join(" ")]);
    }
  }
  return rows;
}
const CSV_HEADER = ["seq", "token", "note", "layer", "experts"];

const jsonl = (lines: unknown[]): string =>
  lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n";
const csvText = (rows: string[][]): string => [CSV_HEADER, ...rows].map((r) => r.join(",")).join("\n") + "\n";

/** A binary .mtrace from raw parts, with a correct checksum and length (for well-formed but invalid content). */
function rawBinary(p: {
  flags?: number;
  layers: number;
  experts: number;
  topK: number;
  tokens: number;
  meta: string;
  picks: Uint16Array;
  seq: Int32Array;
  step: Int32Array;
}): Buffer {
  const metaBuf = Buffer.from(p.meta, "utf8");
  const pad = (n: number, a: number) => Math.ceil(n / a) * a;
  const nPicks = p.picks.length;
  const picksAt = 48 + pad(metaBuf.length, 8);
  const seqAt = picksAt + pad(nPicks * 2, 4);
  const stepAt = seqAt + p.seq.length * 4;
  const end = stepAt + p.step.length * 4;
  const buf = Buffer.alloc(end);
  buf.write("MOETRACE", 0, "latin1");
  buf.writeUInt32LE(1, 8);
  buf.writeUInt32LE(p.flags ?? 0, 12);
  buf.writeUInt32LE(p.layers, 16);
  buf.writeUInt32LE(p.experts, 20);
  buf.writeUInt32LE(p.topK, 24);
  buf.writeUInt32LE(p.tokens, 28);
  buf.writeUInt32LE(metaBuf.length, 32);
  buf.writeDoubleLE(end, 40);
  metaBuf.copy(buf, 48);
  Buffer.from(p.picks.buffer, p.picks.byteOffset, p.picks.byteLength).copy(buf, picksAt);
  Buffer.from(p.seq.buffer, p.seq.byteOffset, p.seq.byteLength).copy(buf, seqAt);
  Buffer.from(p.step.buffer, p.step.byteOffset, p.step.byteLength).copy(buf, stepAt);
  buf.writeUInt32LE(crc32(buf.subarray(48)), 36);
  return buf;
}

/** Values that are never a valid expert id here (64 experts). */
const BAD_IDS: unknown[] = [
  64,
  65,
  100,
  65535,
  65536,
  70000,
  1e9,
  1e308,
  -1,
  -64,
  3.5,
  0.5,
  "3",
  "",
  null,
  true,
  [],
  {},
  [3],
];

function strictlyInsideCut(rng: RandomStream, text: string, keepComma: boolean): number {
  // A cut strictly inside a line: after its first character and before its last one; for CSV
  // before the line's last comma, so that a field goes missing.
  const starts: number[] = [0];
  for (let i = 0; i < text.length - 1; i++) if (text[i] === "\n") starts.push(i + 1);
  for (;;) {
    const s = pick(rng, starts);
    const e = text.indexOf("\n", s);
    const last = keepComma ? text.lastIndexOf(",", e) : e - 1;
    if (last <= s + 1) continue;
    return s + 1 + rng.int(last - s - 1);
  }
}

function deleteStructural(rng: RandomStream, line: string): string {
  const at: number[] = [];
  for (let i = 0; i < line.length; i++) if ('{}[]":'.includes(line[i])) at.push(i);
  const i = pick(rng, at);
  return line.slice(0, i) + line.slice(i + 1);
}

/** Byte-level damage that applies to every text format. */
function textDamage(rng: RandomStream, text: string, csv: boolean): { what: string; bytes: Uint8Array | string } {
  const kind = rng.int(9);
  const bytes = Buffer.from(text, "utf8");
  switch (kind) {
    case 0:
    case 1: {
      const cut = strictlyInsideCut(rng, text, csv);
      return { what: `truncated mid-line at char ${cut}`, bytes: text.slice(0, cut) };
    }
    case 2: {
      const ins = pick(rng, INVALID_UTF8);
      const at = rng.int(bytes.length + 1);
      return {
        what: `invalid UTF-8 ${ins.map((b) => b.toString(16)).join(" ")} at byte ${at}`,
        bytes: insertBytes(bytes, at, ins),
      };
    }
    case 3: {
      const at = rng.int(bytes.length + 1);
      return { what: `NUL at byte ${at}`, bytes: insertBytes(bytes, at, [0]) };
    }
    case 4: {
      const enc = pick(rng, ["latin1", "utf16le", "utf16le-bom", "utf16be-bom"] as const);
      if (enc === "latin1") return { what: "encoded as Latin-1", bytes: Buffer.from(text, "latin1") };
      const le = Buffer.from(text, "utf16le");
      if (enc === "utf16be-bom") le.swap16();
      const bom =
        enc === "utf16le"
          ? Buffer.alloc(0)
          : enc === "utf16le-bom"
            ? Buffer.from([0xff, 0xfe])
            : Buffer.from([0xfe, 0xff]);
      return { what: `encoded as ${enc}`, bytes: Buffer.concat([bom, le]) };
    }
    case 5: {
      const v = pick(rng, ["", "\n", "\n\n  \n", "   ", "\r\n"]);
      return { what: `empty file ${JSON.stringify(v)}`, bytes: v };
    }
    case 6: {
      const n = 64 + rng.int(4000);
      const junk = new Uint8Array(n);
      for (let i = 0; i < n; i++) junk[i] = rng.int(256);
      junk[rng.int(n)] = 0xff; // never valid UTF-8
      return { what: `${n} random bytes`, bytes: junk };
    }
    case 7: {
      // Random bytes after a valid start.
      const at = text.indexOf("\n", text.length >> 1) + 1;
      const junk = Array.from({ length: 16 + rng.int(64) }, () => 0x80 + rng.int(128));
      return { what: `binary tail at ${at}`, bytes: insertBytes(bytes.subarray(0, at), at, junk) };
    }
    default: {
      const lines = text.split("\n");
      lines.splice(1 + rng.int(lines.length - 2), 0, csv ? "\u0000,\u0000" : "\u0007{");
      return { what: "control characters on a line", bytes: lines.join("\n") };
    }
  }
}

function mutateOlmoe(rng: RandomStream, t: RoutingTrace): { what: string; bytes: Uint8Array | string } {
  const { header, tokens } = olmoeLines(t);
  const ti = rng.int(tokens.length);
  const tok = tokens[ti];
  const l = rng.int(LAYERS);
  const k = rng.int(TOP_K);
  const row = tok.experts[l] as unknown[];
  const lines = (): string => jsonl([header, ...tokens]);
  switch (rng.int(12)) {
    case 0: {
      const v = pick(rng, BAD_IDS);
      row[k] = v;
      return { what: `token ${ti} experts[${l}][${k}] = ${JSON.stringify(v)}`, bytes: lines() };
    }
    case 1:
      row[k] = row[(k + 1 + rng.int(TOP_K - 1)) % TOP_K];
      return { what: `token ${ti} experts[${l}] repeats an expert`, bytes: lines() };
    case 2:
      if (rng.next() < 0.5) row.splice(k, 1);
      else row.push(rng.next() < 0.5 ? row[0] : 63 - k);
      return { what: `token ${ti} experts[${l}] has ${row.length} picks`, bytes: lines() };
    case 3:
      if (rng.next() < 0.6) tok.experts.splice(l, 1);
      else tok.experts.push([...row]);
      return { what: `token ${ti} has ${tok.experts.length} layers`, bytes: lines() };
    case 4: {
      const v = pick(rng, [5, "x", null, [], [1, 2, 3], { a: 1 }, [[1, 2], 3]]);
      tok.experts = v as unknown[];
      return { what: `token ${ti} experts = ${JSON.stringify(v)}`, bytes: lines() };
    }
    case 5: {
      const field = pick(rng, ["seq", "step"] as const);
      const v = pick(rng, [-1, 1.5, "0", null, true, 1e308, 2 ** 31, 2 ** 53, [], {}]);
      tok[field] = v;
      return { what: `token ${ti} ${field} = ${JSON.stringify(v)}`, bytes: lines() };
    }
    case 6: {
      delete (tok as Partial<TokenLine>).seq;
      return { what: `token ${ti} without seq`, bytes: lines() };
    }
    case 7: {
      const field = pick(rng, ["experts", "layers", "top_k"] as const);
      const bad: Record<string, unknown[]> = {
        experts: [65, 128, 0, -1, "64", 1.5, 1e308, 65537, null],
        layers: [15, 17, 0, -16, "16", 1e308, 4097, null],
        top_k: [7, 9, 0, 1e308, "8", 65, null],
      };
      const v = pick(rng, bad[field]);
      header[field] = v;
      return { what: `header ${field} = ${JSON.stringify(v)}`, bytes: lines() };
    }
    case 8: {
      const text = lines().split("\n");
      const i = rng.int(text.length - 1);
      text[i] = deleteStructural(rng, text[i]);
      return { what: `line ${i + 1} lost a structural character`, bytes: text.join("\n") };
    }
    case 9: {
      const text = lines().split("\n");
      const i = 1 + rng.int(text.length - 2);
      text[i] = pick(rng, ["[1, 2]", "42", '"text"', "null", "true", "{}", '{"seq": 0}']);
      return { what: `line ${i + 1} is ${text[i]}`, bytes: text.join("\n") };
    }
    case 10: {
      const v = pick(rng, ["header only", "header and blank lines"]);
      return { what: v, bytes: JSON.stringify(header) + (v === "header only" ? "\n" : "\n\n\n") };
    }
    default:
      return textDamage(rng, lines(), false);
  }
}

function mutateRecords(rng: RandomStream, t: RoutingTrace): { what: string; bytes: Uint8Array | string } {
  const recs = records(t);
  const ri = rng.int(recs.length);
  const notFirst = 1 + rng.int(recs.length - 1);
  const r = recs[ri];
  const ex = r.experts as unknown[];
  const k = rng.int(TOP_K);
  const out = (): string => jsonl(recs);
  switch (rng.int(11)) {
    case 0: {
      const v = pick(rng, BAD_IDS);
      ex[k] = v;
      return { what: `record ${ri} experts[${k}] = ${JSON.stringify(v)}`, bytes: out() };
    }
    case 1:
      ex[k] = ex[(k + 1) % TOP_K];
      return { what: `record ${ri} repeats an expert`, bytes: out() };
    case 2:
      if (rng.next() < 0.5) ex.splice(k, 1);
      else ex.push(63 - k);
      (r.gating_probs as unknown[]).length = ex.length;
      (r.gating_probs as unknown[]).fill(0.1);
      return { what: `record ${ri} has ${ex.length} experts`, bytes: out() };
    case 3:
      recs.splice(ri, 1);
      return { what: `record ${ri} deleted (a missing layer)`, bytes: out() };
    case 4:
      recs.splice(ri, 0, { ...r });
      return { what: `record ${ri} duplicated`, bytes: out() };
    case 5: {
      const v = pick(rng, [LAYERS + 5, 99, 0, -1, 1.5, "3", null, 1e308, 2 ** 31, ((r.layer as number) % LAYERS) + 1]);
      if (v === r.layer) r.layer = (r.layer as number) + 1;
      else r.layer = v;
      return { what: `record ${ri} layer = ${JSON.stringify(r.layer)}`, bytes: out() };
    }
    case 6: {
      const v = pick(rng, [-1, 1.5, "x", null, 2 ** 24, 1e308, []]);
      r.token_idx = v;
      return { what: `record ${ri} token_idx = ${JSON.stringify(v)}`, bytes: out() };
    }
    case 7: {
      const v = pick(rng, [null, true, {}, [], 1e308, 2 ** 31, 1.5, "new-request"]);
      r.problem_id = v;
      return { what: `record ${ri} problem_id = ${JSON.stringify(v)}`, bytes: out() };
    }
    case 8: {
      const which = rng.int(3);
      if (which === 0)
        recs[ri].gating_probs = pick(rng, ["x", [0.5], [1, 2, 3, 4, 5, 6, 7, 8, 9], ["a", 1, 1, 1, 1, 1, 1, 1], 5]);
      else if (which === 1) delete recs[notFirst].gating_probs;
      else recs[notFirst].gating_probs = null;
      return { what: `weights broken (${which})`, bytes: out() };
    }
    case 9: {
      const f = pick(rng, ["problem_id", "token_idx", "layer", "experts"]);
      delete r[f];
      return { what: `record ${ri} without ${f}`, bytes: out() };
    }
    default: {
      if (rng.next() < 0.3) {
        const text = out().split("\n");
        const i = rng.int(text.length - 1);
        text[i] = deleteStructural(rng, text[i]);
        return { what: `line ${i + 1} lost a structural character`, bytes: text.join("\n") };
      }
      return textDamage(rng, out(), false);
    }
  }
}

function mutateCsv(rng: RandomStream, t: RoutingTrace): { what: string; bytes: Uint8Array | string } {
  const rows = csvRows(t);
  const ri = rng.int(rows.length);
  const row = rows[ri];
  const ex = row[4].split(" ");
  const k = rng.int(TOP_K);
  const out = (): string => csvText(rows);
  switch (rng.int(9)) {
    case 0: {
      ex[k] = pick(rng, ["64", "65536", "-1", "3.5", "abc", "1e308", "NaN", "Infinity", "0x", "[3]"]);
      row[4] = ex.join(" ");
      return { what: `row ${ri} expert ${k} = ${ex[k]}`, bytes: out() };
    }
    case 1:
      ex[k] = ex[(k + 1) % TOP_K];
      row[4] = ex.join(" ");
      return { what: `row ${ri} repeats an expert`, bytes: out() };
    case 2:
      if (rng.next() < 0.5) ex.splice(k, 1);
      else ex.push(String(63 - k));
      row[4] = ex.join(" ");
      return { what: `row ${ri} has ${ex.length} experts`, bytes: out() };
    case 3:
      if (rng.next() < 0.5) row.splice(rng.int(4), 1);
      else row.splice(rng.int(4), 0, "7");
      return { what: `row ${ri} has ${row.length} fields`, bytes: out() };
    case 4: {
      const col = pick(rng, [0, 1, 3]);
      const v = pick(rng, col === 0 ? ["", "x", "9999", "1.5"] : ["-1", "1.5", "x", "", "1e308", "NaN"]);
      row[col] = v === row[col] ? `${v}0` : v;
      return { what: `row ${ri} ${CSV_HEADER[col]} = ${JSON.stringify(row[col])}`, bytes: out() };
    }
    case 5:
      rows.splice(ri, 1);
      return { what: `row ${ri} deleted (a missing layer)`, bytes: out() };
    case 6: {
      const v = pick(rng, ['"unterminated', '"a"b', '"x""']);
      row[2] = v;
      return { what: `row ${ri} bad quoting ${v}`, bytes: out() };
    }
    case 7: {
      const v = pick(rng, ["header only", "header missing a column", "no header"]);
      if (v === "header only") return { what: v, bytes: CSV_HEADER.join(",") + "\n" };
      if (v === "no header") return { what: v, bytes: rows.map((r) => r.join(",")).join("\n") + "\n" };
      const drop = pick(rng, ["seq", "token", "layer", "experts"]);
      const h = CSV_HEADER.filter((c) => c !== drop);
      return {
        what: v,
        bytes: [h, ...rows.map((r) => r.slice(0, h.length))].map((r) => r.join(",")).join("\n") + "\n",
      };
    }
    default:
      return textDamage(rng, out(), true);
  }
}

function mutateGzip(rng: RandomStream, t: RoutingTrace): { what: string; bytes: Uint8Array | string } {
  const kind = rng.int(4);
  if (kind === 0) {
    const m = mutateOlmoe(rng, t);
    return { what: `gzip of: ${m.what}`, bytes: gzipSync(Buffer.from(m.bytes)) };
  }
  const { header, tokens } = olmoeLines(t);
  const gz = gzipSync(Buffer.from(jsonl([header, ...tokens])));
  if (kind === 1) {
    const cut = 1 + rng.int(gz.length - 1);
    return { what: `gzip truncated to ${cut} of ${gz.length} bytes`, bytes: gz.subarray(0, cut) };
  }
  // Bytes that always matter: the magic and method (0..2) and everything from the deflate
  // stream on (the header's flags, time and OS bytes 3..9 may legally hold other values).
  const positions = [0, 1, 2, ...Array.from({ length: gz.length - 10 }, (_, i) => 10 + i)];
  const at = kind === 2 ? pick(rng, [0, 1, 2, gz.length - 1, gz.length - 5, gz.length - 8]) : pick(rng, positions);
  const out = Buffer.from(gz);
  out[at] ^= 1 + rng.int(255);
  return { what: `gzip byte ${at} of ${gz.length} flipped`, bytes: out };
}

function mutateBinary(rng: RandomStream, t: RoutingTrace): { what: string; bytes: Uint8Array | string } {
  const good = encodeBinaryTrace(t);
  const base = {
    layers: LAYERS,
    experts: EXPERTS,
    topK: TOP_K,
    tokens: t.tokens,
    meta: JSON.stringify(t.meta),
    picks: Uint16Array.from(t.picks),
    seq: Int32Array.from(t.seq),
    step: Int32Array.from(t.step),
  };
  switch (rng.int(8)) {
    case 0: {
      const cut = rng.int(good.length);
      return { what: `truncated to ${cut} of ${good.length} bytes`, bytes: good.subarray(0, cut) };
    }
    case 1:
    case 2: {
      const at = rng.int(48);
      const out = Buffer.from(good);
      out[at] ^= 1 << rng.int(8);
      return { what: `header byte ${at} flipped`, bytes: out };
    }
    case 3: {
      const at = 48 + rng.int(good.length - 48);
      const out = Buffer.from(good);
      out[at] ^= 1 + rng.int(255);
      return { what: `body byte ${at} flipped (checksum)`, bytes: out };
    }
    case 4: {
      const extra = Buffer.alloc(1 + rng.int(64), rng.int(256));
      return { what: `${extra.length} bytes appended`, bytes: Buffer.concat([good, extra]) };
    }
    case 5: {
      // Well-formed file (right checksum and length) with content that is not.
      const picks = base.picks;
      const i = rng.int(picks.length);
      const v = pick(rng, [64, 65, 1000, 65535]);
      picks[i] = v;
      return { what: `pick ${i} = ${v} with a valid checksum`, bytes: rawBinary({ ...base, picks }) };
    }
    case 6: {
      const which = pick(rng, [
        "meta null",
        "meta array",
        "meta number",
        "meta bad JSON",
        "meta invalid UTF-8",
        "step negative",
        "flags bit 3",
      ]);
      if (which === "step negative") {
        base.step[rng.int(base.step.length)] = -1 - rng.int(1000);
        return { what: which, bytes: rawBinary(base) };
      }
      if (which === "flags bit 3") return { what: which, bytes: rawBinary({ ...base, flags: 8 }) };
      if (which === "meta invalid UTF-8") {
        const buf = rawBinary({ ...base, meta: '{"source":"xx"}' });
        buf[48 + 11] = 0xff;
        buf.writeUInt32LE(crc32(buf.subarray(48)), 36);
        return { what: which, bytes: buf };
      }
      const meta = { "meta null": "null", "meta array": "[1]", "meta number": "42", "meta bad JSON": "{oops" }[which]!;
      return { what: which, bytes: rawBinary({ ...base, meta }) };
    }
    default: {
      // Header dimensions that disagree with the model or make no sense, with a consistent layout.
      const dims = pick(rng, [
        { experts: 0 },
        { experts: 65537 },
        { experts: 63 },
        { experts: 4 },
        { experts: 128 },
        { topK: 0, picks: new Uint16Array(0) },
        { layers: 0, picks: new Uint16Array(0) },
        { tokens: 0, picks: new Uint16Array(0), seq: new Int32Array(0), step: new Int32Array(0) },
        { topK: 65, experts: 64, picks: new Uint16Array(t.tokens * LAYERS * 65) },
      ] as Partial<typeof base>[]);
      return {
        what: `header ${JSON.stringify(Object.fromEntries(Object.entries(dims).filter(([k]) => !["picks", "seq", "step"].includes(k))))}`,
        bytes: rawBinary({ ...base, ...dims }),
      };
    }
  }
}

const EXT: Record<Fmt, string> = {
  olmoe: "jsonl",
  "olmoe-gz": "jsonl.gz",
  records: "jsonl",
  csv: "csv",
  binary: "mtrace",
};

function scenarioFor(traceFile: string, fmt: Fmt, explicitFormat: boolean): string {
  const trace: Record<string, unknown> = { file: traceFile };
  if (fmt === "records") trace.mapping = RECORDS_MAPPING;
  if (explicitFormat)
    trace.format = {
      olmoe: "olmoe-jsonl",
      "olmoe-gz": "olmoe-jsonl",
      records: "records-jsonl",
      csv: "csv",
      binary: "binary",
    }[fmt];
  return stringify({
    name: "trace-fuzz",
    cluster: { preset: "dgx-h100", gpus: 2 },
    model: { preset: "olmoe-1b-7b" },
    trace,
    workload: { batching: { kind: "static", batch_size: 4 }, max_steps: 2 },
    outputs: { timelines: false, report: false },
  });
}

function validFile(fmt: Fmt, t: RoutingTrace): Uint8Array | string {
  if (fmt === "binary") return encodeBinaryTrace(t);
  if (fmt === "csv") return csvText(csvRows(t));
  if (fmt === "records") return jsonl(records(t));
  const { header, tokens } = olmoeLines(t);
  const text = jsonl([header, ...tokens]);
  return fmt === "olmoe-gz" ? gzipSync(Buffer.from(text)) : text;
}

const MUTATE: Record<Fmt, (rng: RandomStream, t: RoutingTrace) => { what: string; bytes: Uint8Array | string }> = {
  olmoe: mutateOlmoe,
  "olmoe-gz": mutateGzip,
  records: mutateRecords,
  csv: mutateCsv,
  binary: mutateBinary,
};

describe("trace fuzz (issue 7)", () => {
  it(">= 1,000 mutated trace files each end in one clear error with exit code 2", async () => {
    const dir = tempDir("moesim-fuzz-trace-");
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const cases = join(dir, "cases");
    mkdirSync(cases);
    const out = join(dir, "results");
    const t = smallTrace();
    const fmts: Fmt[] = ["olmoe", "olmoe-gz", "records", "csv", "binary"];

    // Each unmutated file runs, with and without an explicit format: the errors below are the mutations'.
    for (const fmt of fmts) {
      for (const explicit of [false, true]) {
        const f = join(dir, `valid.${EXT[fmt]}`);
        writeFileSync(f, validFile(fmt, t));
        const s = join(dir, `valid-${fmt}-${explicit}.yaml`);
        writeFileSync(s, scenarioFor(f, fmt, explicit));
        const r = await runScenarioCli(s, join(dir, `valid-out-${fmt}-${explicit}`));
        expect(r.err, `valid ${fmt} trace must run`).toBe("");
        expect(r.code).toBe(0);
      }
    }

    const rng = rootStream(SEED).child("trace-fuzz");
    const stats = newStats();
    const perFmt = new Map<Fmt, number>();
    for (let i = 0; i < CASES; i++) {
      const fmt = fmts[i % fmts.length];
      const crng = rng.child(`case${i}`);
      const m = MUTATE[fmt](crng, t);
      const c: FuzzCase = { what: `${fmt}: ${m.what}`, bytes: m.bytes, name: `t.${EXT[fmt]}` };
      const traceFile = writeCase(cases, i, c);
      const scenario = join(cases, `${String(i).padStart(4, "0")}-s.yaml`);
      writeFileSync(scenario, scenarioFor(traceFile, fmt, crng.next() < 0.3));
      await checkScenarioFile(stats, scenario, out, `#${i} ${c.what}`);
      perFmt.set(fmt, (perFmt.get(fmt) ?? 0) + 1);
    }
    console.log(summaryLine("trace fuzz", stats));
    console.log(`  formats: ${[...perFmt].map(([k, n]) => `${k} ${n}`).join(", ")}`);
    console.log(`  error kinds: ${[...stats.kinds.keys()].slice(0, 40).join(" | ")}`);
    printExamples(stats);
    expect(stats.failures.slice(0, 60).join("\n")).toBe("");
    expect(stats.cases).toBeGreaterThanOrEqual(1000);
    expect(stats.kinds.size).toBeGreaterThan(30);
  });
});
