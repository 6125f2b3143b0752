/**
 * Importers for the expert-routing dumps of two serving engines.
 *
 * vLLM's routed-experts capture (vllm/model_executor/layers/fused_moe/routed_experts_capturer.py): per request, an
 * int32 array [num_tokens, num_hidden_layers, num_experts_per_tok] of the experts each token was routed to,
 * returned with the request's output. Read here as JSONL, one request per line:
 *   {"request_id": "r0", "routed_experts": [[[3, 7], [1, 2]], ...]}   (tokens x layers x top-k; request_id optional)
 * i.e. what `json.dumps({"request_id": o.request_id, "routed_experts": o.routed_experts.tolist()})` writes. The
 * capture buffer starts zeroed and only MoE layers write to it, so layers whose every entry is 0 (a model's dense
 * layers) are left out.
 *
 * SGLang's expert distribution recorder in per-token mode (python/sglang/srt/eplb/expert_distribution.py,
 * --expert-distribution-recorder-mode per_token): torch.save of
 *   {"records": [{"forward_pass_id", "rank", "input_ids", "positions", "extend_seq_lens", "forward_mode",
 *                 "topk_ids_of_layer": [num_layers][num_tokens][8], ...}, ...],
 *    "last_physical_to_logical_map": [num_layers][num_physical_experts]}
 * with physical expert ids and -1 where nothing was written (dense layers, top-k below 8). Read here as that dict
 * in JSON (tensors as nested lists: torch.load, then .tolist() on each tensor, then json.dump). Physical ids map to
 * logical experts through last_physical_to_logical_map; a forward pass with extend_seq_lens holds one request per
 * segment, one without (decode) one token per request; a token's step is its position.
 *
 * Both dumps can be ragged: a token may lack an MoE layer (a vLLM token with fewer layers, or an MoE-layer row that is
 * empty or all 0 with top-k above 1, i.e. never written; an SGLang layer with fewer tokens, or a row of -1 only at an
 * MoE layer). Such tokens follow `incomplete` (error|drop|empty) as in the other readers.
 */
import { UserError } from "../../util/errors.js";
import { TraceBuilder } from "../builder.js";
import { NO_EXPERT, type RoutingTrace } from "../trace.js";
import type { Line } from "./lines.js";
import { parseJsonLine } from "./olmoe.js";
import {
  INCOMPLETE_SHOWN,
  applyIncomplete,
  MAX_EXPERTS_WITH_EMPTY,
  type IncompleteReport,
  type TraceReadOptions,
} from "./options.js";

/** One token's picks per layer (all layers of the dump, before dense ones are dropped; undefined: none written). */
interface RawToken {
  seq: number;
  step: number;
  rows: (number[] | undefined)[];
  /** The request's name as the dump gives it, for messages. */
  request: string;
  /** Where the token is: the `file:line` (or `file: records[i]`) an error names, and the part a message quotes. */
  where: string;
  src: string;
}

/** How one engine's dump marks layers: dense (never written by any token) and missing (not written for a token). */
interface RowKinds {
  isDense: (row: number[]) => boolean;
  isMissing: (row: number[] | undefined) => boolean;
}

/** True for a vLLM routed-experts line. */
export function isVllmLine(v: unknown): boolean {
  return typeof v === "object" && v !== null && Array.isArray((v as Record<string, unknown>).routed_experts);
}

/** True for an SGLang expert-distribution dump. */
export function isSglangDump(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return Array.isArray(o.records) && Array.isArray(o.last_physical_to_logical_map);
}

function intMatrix(v: unknown, what: string, where: string): number[][] {
  if (!Array.isArray(v) || !v.every((r) => Array.isArray(r) && r.every((x) => Number.isInteger(x)))) {
    throw new UserError(`${what}: expected an array of arrays of integers`, where);
  }
  return v as number[][];
}

/** vLLM's capture buffer starts zeroed: a row of 0 only (top-k above 1, whose picks differ) was never written. */
const VLLM_ROWS: RowKinds = {
  isDense: (row) => row.every((x) => x === 0),
  isMissing: (row) => row === undefined || row.length === 0 || (row.length > 1 && row.every((x) => x === 0)),
};

/** SGLang writes -1 where nothing was routed. */
const SGLANG_ROWS: RowKinds = {
  isDense: (row) => row.every((x) => x < 0),
  isMissing: (row) => row === undefined || row.every((x) => x < 0),
};

export async function readVllm(
  path: string,
  lines: AsyncIterable<Line>,
  opts: TraceReadOptions,
): Promise<RoutingTrace> {
  const tokens: RawToken[] = [];
  let seq = 0;
  for await (const line of lines) {
    if (line.text.trim() === "") continue;
    const where = `${path}:${line.no}`;
    const v = parseJsonLine(path, line);
    if (!isVllmLine(v)) {
      throw new UserError('expected {"routed_experts": [tokens][layers][top-k], "request_id": ...} per line', where);
    }
    const o = v as { routed_experts: unknown[]; request_id?: unknown };
    const request = JSON.stringify(typeof o.request_id === "string" ? o.request_id : seq);
    o.routed_experts.forEach((tok, i) =>
      tokens.push({
        seq,
        step: i,
        rows: intMatrix(tok, `routed_experts[${i}]`, where),
        request,
        where,
        src: `line ${line.no}`,
      }),
    );
    seq++;
  }
  return assemble(path, tokens, VLLM_ROWS, opts, "vllm-routed-experts");
}

export async function readSglang(
  path: string,
  lines: AsyncIterable<Line>,
  opts: TraceReadOptions,
): Promise<RoutingTrace> {
  const parts: string[] = [];
  for await (const line of lines) parts.push(line.text);
  let doc: unknown;
  try {
    doc = JSON.parse(parts.join("\n"));
  } catch (e) {
    throw new UserError(`bad JSON (${(e as Error).message}); expected the recorder's dump as one JSON document`, path);
  }
  if (!isSglangDump(doc)) {
    throw new UserError('expected {"records": [...], "last_physical_to_logical_map": [...]} (per_token mode)', path);
  }
  const d = doc as { records: Record<string, unknown>[]; last_physical_to_logical_map: unknown };
  const map = intMatrix(d.last_physical_to_logical_map, "last_physical_to_logical_map", path);
  const tokens: RawToken[] = [];
  let seq = 0;
  d.records.forEach((r, ri) => {
    const where = `${path}: records[${ri}]`;
    const ids = r.topk_ids_of_layer;
    if (!Array.isArray(ids) || ids.length !== map.length) {
      throw new UserError(`topk_ids_of_layer: expected ${map.length} layers (as the physical-to-logical map)`, where);
    }
    const layers = ids.map((l, li) => intMatrix(l, `topk_ids_of_layer[${li}]`, where));
    // A ragged dump's layers may hold fewer tokens: the missing rows are the token's missing layers.
    const n = Math.max(0, ...layers.map((l) => l.length));
    const pos = Array.isArray(r.positions) ? (r.positions as number[]) : [];
    const segs =
      Array.isArray(r.extend_seq_lens) && r.extend_seq_lens.length > 0 ? (r.extend_seq_lens as number[]) : null;
    const logical = (t: number): (number[] | undefined)[] =>
      layers.map((l, li) =>
        l[t]?.map((p) => {
          if (p < 0) return -1;
          const e = map[li][p];
          if (e === undefined) throw new UserError(`physical expert ${p} is not in the map of layer ${li}`, where);
          return e;
        }),
      );
    const push = (s: number, step: number, t: number): void => {
      tokens.push({ seq: s, step, rows: logical(t), request: String(s), where, src: `records[${ri}]` });
    };
    // One request per extend segment; without segments (decode) one per token.
    const lens = segs ?? new Array<number>(n).fill(1);
    let t = 0;
    for (const len of lens) {
      for (let i = 0; i < len && t < n; i++, t++) push(seq, Number.isInteger(pos[t]) ? pos[t] : i, t);
      seq++;
    }
    for (; t < n; t++) push(seq++, Number.isInteger(pos[t]) ? pos[t] : 0, t);
  });
  return assemble(path, tokens, SGLANG_ROWS, opts, "sglang-expert-distribution");
}

/** Incomplete tokens (lacking an MoE layer): the policy's error, or which to drop and the report. */
function incompleteTokens(
  path: string,
  tokens: RawToken[],
  keep: number[],
  kinds: RowKinds,
  opts: TraceReadOptions,
): { drop: Set<number>; report?: IncompleteReport } {
  const bad = new Set<number>();
  const first: string[] = [];
  let present = 0;
  let emptyLayers = 0;
  tokens.forEach((t, i) => {
    const missing = keep.filter((l) => kinds.isMissing(t.rows[l]));
    if (missing.length === 0) return;
    bad.add(i);
    emptyLayers += missing.length;
    present += keep.length - missing.length;
    if (first.length < INCOMPLETE_SHOWN)
      first.push(`request ${t.request} token ${t.step}: no layer ${missing[0]} (${t.src})`);
  });
  if (bad.size === 0) return { drop: bad };
  const firstBad = tokens[bad.values().next().value as number];
  const report = applyIncomplete(
    opts.incomplete ?? "error",
    { tokens: bad.size, total: tokens.length, records: present, emptyLayers, first },
    { token: firstBad.where, file: path },
  );
  return { drop: report.policy === "drop" ? bad : new Set(), report };
}

/** Drops the dense layers and the -1 padding of top-k, checks every row, and builds the trace. */
function assemble(
  path: string,
  tokens: RawToken[],
  kinds: RowKinds,
  opts: TraceReadOptions,
  format: string,
): RoutingTrace {
  if (tokens.length === 0) throw new UserError("no tokens in the dump", path);
  const allLayers = Math.max(...tokens.map((t) => t.rows.length));
  const keep: number[] = [];
  for (let l = 0; l < allLayers; l++) if (!tokens.every((t) => kinds.isDense(t.rows[l] ?? []))) keep.push(l);
  if (keep.length === 0) throw new UserError("every layer is empty (no MoE layer was captured)", path);
  const written = (row: number[] | undefined): number[] | null =>
    kinds.isMissing(row) ? null : row!.filter((x) => x >= 0);
  let topK = 0;
  for (const t of tokens) {
    const row = keep.map((l) => written(t.rows[l])).find((r) => r !== null);
    if (row) {
      topK = row.length;
      break;
    }
  }
  const { drop, report } = incompleteTokens(path, tokens, keep, kinds, opts);
  let maxId = 0;
  tokens.forEach((t, i) => {
    for (const l of keep) {
      const row = written(t.rows[l]);
      if (row === null) continue;
      if (row.length !== topK)
        throw new UserError(`token ${i} layer ${l}: ${row.length} experts, expected ${topK}`, t.where);
      for (const e of row) if (e > maxId) maxId = e;
    }
  });
  const empty = report?.policy === "empty";
  const cap = empty ? MAX_EXPERTS_WITH_EMPTY : 65536;
  const experts = opts.experts ?? maxId + 1;
  if (maxId >= experts) throw new UserError(`expert id ${maxId} is not below the ${experts} experts given`, path);
  if (experts > cap)
    throw new UserError(
      `${experts} experts; at most ${cap}` +
        (empty ? ` with incomplete: empty (expert id ${NO_EXPERT} stands for "no expert")` : " (u16 expert ids)"),
      path,
    );
  const b = new TraceBuilder(keep.length, experts, topK);
  tokens.forEach((t, i) => {
    if (drop.has(i)) return;
    const at = b.addTokenAt(t.seq, t.step);
    const out = b.picksBuffer;
    keep.forEach((l, j) => {
      const row = written(t.rows[l]);
      for (let k = 0; k < topK; k++) out[at + j * topK + k] = row === null ? NO_EXPERT : row[k];
    });
  });
  return b.build({
    source: path,
    format,
    moe_layers: keep,
    ...(report ? { incomplete: report } : {}),
    ...(opts.experts === undefined ? { expertsInferred: true } : {}),
    ...(opts.model ? { model: opts.model } : {}),
  });
}
