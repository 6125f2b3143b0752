import { UserError } from "../../util/errors.js";
import { TraceBuilder } from "../builder.js";
import { NO_EXPERT, type RoutingTrace, type TraceMeta } from "../trace.js";
import type { Line } from "./lines.js";
import {
  INCOMPLETE_SHOWN,
  MAX_EXPERTS_WITH_EMPTY,
  MAX_POSITION,
  checkExpertBytes,
  incompleteError,
  incompleteReport,
  type TraceReadOptions,
} from "./options.js";

/** Header line of the OLMoE decode-trace format ("moe-routing-trace/v1"). */
export interface OlmoeHeader {
  format?: string;
  model?: string;
  layers?: number;
  experts?: number;
  top_k?: number;
  expert_bytes?: number;
  [key: string]: unknown;
}

export function isOlmoeHeader(v: unknown): v is OlmoeHeader {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as OlmoeHeader).format === "string" &&
    (v as OlmoeHeader).format!.startsWith("moe-routing-trace")
  );
}

/** A token line of that format: experts[layer][k]. */
export function isOlmoeTokenLine(v: unknown): boolean {
  return (
    typeof v === "object" &&
    v !== null &&
    Array.isArray((v as { experts?: unknown }).experts) &&
    Array.isArray((v as { experts: unknown[] }).experts[0])
  );
}

/** Expert ids are stored as u16. */
const MAX_EXPERTS = 65536;
const MAX_LAYERS = 4096;

/** A JSON value for a message; a missing field says so. */
function shown(v: unknown): string {
  return v === undefined ? "nothing (the field is missing)" : JSON.stringify(v);
}

function positiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

/**
 * One past the largest expert id: the header's (or --experts') count, else what u16 ids hold; under
 * `incomplete: empty` id 65535 is NO_EXPERT, so real ids stop one short.
 */
function expertIdLimit(experts: number | undefined, empty: boolean, where: string): number {
  if (empty && experts !== undefined && experts > MAX_EXPERTS_WITH_EMPTY)
    throw new UserError(
      `${experts} experts with incomplete: empty; at most ${MAX_EXPERTS_WITH_EMPTY} ` +
        `(expert id 65535 stands for "no expert")`,
      where,
    );
  return experts ?? (empty ? MAX_EXPERTS_WITH_EMPTY : MAX_EXPERTS);
}

/**
 * Reads the OLMoE trace format: a JSON header line, then one line per generated token
 * {seq, domain, prompt_len, step, token, experts[layer][k]}. Every line is checked against the
 * header's shape; the first violation is one UserError with file:line and what was expected.
 */
export async function readOlmoe(
  path: string,
  first: Line,
  rest: AsyncIterable<Line>,
  opts: TraceReadOptions,
): Promise<RoutingTrace> {
  let header: OlmoeHeader = {};
  const parsedFirst = parseJsonLine(path, first);
  let pending: Line | null = null;
  if (isOlmoeHeader(parsedFirst)) header = parsedFirst;
  else pending = first;
  const fromHeader = (key: "layers" | "experts" | "top_k", v: unknown): number | undefined => {
    if (v === undefined) return undefined;
    const max = key === "layers" ? MAX_LAYERS : MAX_EXPERTS;
    if (!positiveInt(v) || v > max)
      throw new UserError(
        `header field "${key}" must be an integer in 1..${max}, got ${JSON.stringify(v)}`,
        `${path}:${first.no}`,
      );
    return v;
  };
  let layers = opts.layers ?? fromHeader("layers", header.layers);
  let topK = opts.topK ?? fromHeader("top_k", header.top_k);
  const experts = opts.experts ?? fromHeader("experts", header.experts);
  if (topK !== undefined && experts !== undefined && topK > experts)
    throw new UserError(`header field "top_k" (${topK}) is more than "experts" (${experts})`, `${path}:${first.no}`);
  const emptyIncomplete = opts.incomplete === "empty";
  const expertLimit = expertIdLimit(experts, emptyIncomplete, `${path}:${first.no}`);
  const expertBytes = checkExpertBytes(header.expert_bytes, 'header field "expert_bytes"', `${path}:${first.no}`);
  const dropIncomplete = opts.incomplete === "drop";
  const incomplete = { tokens: 0, lines: 0, emptyLayers: 0, first: [] as string[], firstLine: 0 };
  let builder: TraceBuilder | null = null;
  const domains: Record<number, string> = {};
  const promptLens: Record<number, number> = {};
  let maxExpert = -1;

  const handle = (line: Line): void => {
    if (line.text.trim() === "") return;
    const where = `${path}:${line.no}`;
    const rec = parseJsonLine(path, line) as Record<string, unknown>;
    if (typeof rec !== "object" || rec === null || Array.isArray(rec))
      throw new UserError("expected a JSON object per line", where);
    const seq = rec.seq;
    const step = rec.step;
    if (typeof seq !== "number" || !Number.isInteger(seq) || seq < 0 || seq > MAX_POSITION)
      throw new UserError(`"seq" must be an integer in 0..${MAX_POSITION}, got ${shown(seq)}`, where);
    if (step !== undefined && (typeof step !== "number" || !Number.isInteger(step) || step < 0 || step > MAX_POSITION))
      throw new UserError(`"step" must be an integer in 0..${MAX_POSITION}, got ${shown(step)}`, where);
    const ex = rec.experts;
    if (!Array.isArray(ex) || ex.length === 0 || !Array.isArray(ex[0]))
      throw new UserError(`"experts" must be an array of per-layer arrays experts[layer][k]`, where);
    if (layers === undefined) {
      if (ex.length > MAX_LAYERS)
        throw new UserError(`"experts" has ${ex.length} layers; at most ${MAX_LAYERS} are supported`, where);
      layers = ex.length;
    }
    if (topK === undefined) {
      topK = (ex[0] as unknown[]).length;
      if (topK === 0) throw new UserError(`experts[0] is empty; expected the top-k expert ids of each layer`, where);
    }
    const short = ex.length < layers;
    if (short) {
      // A token line missing layers (the last ones): refused, left out, or kept with no experts
      // there (--incomplete), counted either way.
      incomplete.tokens++;
      incomplete.lines++;
      incomplete.emptyLayers += layers - ex.length;
      if (incomplete.first.length < INCOMPLETE_SHOWN)
        incomplete.first.push(`line ${line.no}: request ${seq} has ${ex.length} of ${layers} layers`);
      if (incomplete.firstLine === 0) incomplete.firstLine = line.no;
      if (!emptyIncomplete) return;
    }
    if (!short && ex.length !== layers)
      throw new UserError(
        `"experts" has ${ex.length} layers; expected ${layers} (one list per MoE ` +
          `layer${ex.length < layers ? ", a layer is missing" : ""})`,
        where,
      );
    if (builder === null) builder = new TraceBuilder(layers, experts ?? 0, topK);
    const slot = builder.addToken(seq, typeof step === "number" ? step : -1);
    maxExpert = Math.max(maxExpert, copyPicks(ex, topK, expertLimit, slot.picks, slot.at, where));
    if (short) slot.picks.fill(NO_EXPERT, slot.at + ex.length * topK, slot.at + layers * topK);
    if (typeof rec.domain === "string" && domains[seq] === undefined) domains[seq] = rec.domain;
    if (typeof rec.prompt_len === "number" && promptLens[seq] === undefined) promptLens[seq] = rec.prompt_len;
  };

  const max = opts.maxTokens ?? Infinity;
  if (pending) handle(pending);
  for await (const line of rest) {
    if (builder !== null && (builder as TraceBuilder).tokens >= max) break;
    handle(line);
  }
  if (incomplete.tokens > 0 && !dropIncomplete && !emptyIncomplete) {
    throw incompleteError(
      incomplete.tokens,
      incomplete.tokens + ((builder as TraceBuilder | null)?.tokens ?? 0),
      incomplete.first,
      `${path}:${incomplete.firstLine}`,
    );
  }
  if (builder === null)
    throw new UserError(
      `no ${incomplete.tokens > 0 ? "complete " : ""}token lines; expected one JSON line per token after the header`,
      path,
    );
  const b = builder as TraceBuilder;
  const meta: TraceMeta = { source: path, format: "olmoe-jsonl" };
  if (typeof header.model === "string") meta.model = header.model;
  if (expertBytes !== undefined) meta.expertBytes = expertBytes;
  if (incomplete.tokens > 0)
    meta.incomplete = incompleteReport(emptyIncomplete ? "empty" : "drop", {
      ...incomplete,
      records: incomplete.lines,
    });
  if (Object.keys(domains).length > 0) meta.domains = domains;
  if (Object.keys(promptLens).length > 0) meta.promptLens = promptLens;
  const trace = b.build(meta);
  trace.experts = experts ?? maxExpert + 1;
  if (experts === undefined) trace.meta.expertsInferred = true;
  fillMissingSteps(trace);
  return trace;
}

/** Lines without a step get their position within the request, in file order. */
export function fillMissingSteps(trace: RoutingTrace): void {
  const next = new Map<number, number>();
  for (let t = 0; t < trace.tokens; t++) {
    const s = trace.seq[t];
    const n = next.get(s) ?? 0;
    if (trace.step[t] < 0) trace.step[t] = n;
    next.set(s, trace.step[t] + 1);
  }
}

export function parseJsonLine(path: string, line: Line): unknown {
  try {
    return JSON.parse(line.text);
  } catch (e) {
    throw new UserError(`bad JSON (${(e as Error).message}); expected one JSON object per line`, `${path}:${line.no}`);
  }
}

/**
 * Copies one token line's experts[layer][k] into the builder's picks from `at`, checking each row's
 * length, each id's range and that a row names distinct experts; returns the largest id seen.
 */
function copyPicks(
  ex: unknown[],
  topK: number,
  expertLimit: number,
  picks: Uint16Array,
  at: number,
  where: string,
): number {
  let maxExpert = -1;
  for (let l = 0; l < ex.length; l++) {
    const row: unknown = ex[l];
    if (!Array.isArray(row) || row.length !== topK) {
      throw new UserError(
        `experts[${l}] has ${Array.isArray(row) ? row.length : "no"} picks; expected top-${topK}`,
        where,
      );
    }
    const start = at;
    for (let k = 0; k < topK; k++) {
      const e: unknown = row[k];
      if (typeof e !== "number" || !Number.isInteger(e) || e < 0 || e >= expertLimit) {
        const what = typeof e === "number" && Number.isInteger(e) ? "is out of range" : "is not an integer";
        throw new UserError(
          `experts[${l}][${k}] = ${JSON.stringify(e)} ${what}; expected an expert id in 0..${expertLimit - 1}`,
          where,
        );
      }
      for (let j = start; j < at; j++) {
        if (picks[j] === e)
          throw new UserError(`experts[${l}] picks expert ${e} twice; expected ${topK} distinct experts`, where);
      }
      if (e > maxExpert) maxExpert = e;
      picks[at++] = e;
    }
  }
  return maxExpert;
}
