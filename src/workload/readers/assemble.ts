import { UserError } from "../../util/errors.js";
import { TraceBuilder } from "../builder.js";
import { NO_EXPERT, type RoutingTrace, type TraceMeta } from "../trace.js";
import {
  INCOMPLETE_SHOWN,
  MAX_EXPERTS_WITH_EMPTY,
  MAX_POSITION,
  applyIncomplete,
  type IncompleteReport,
  type TraceReadOptions,
} from "./options.js";

/** Growable typed column. */
class Col<T extends Int32Array | Uint16Array | Float32Array> {
  buf: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.buf = make(4096);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = this.make(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
}

const TOKEN_BITS = 2 ** 24;
const INT32_MAX = 2 ** 31 - 1;
/** Whether a request id fits the trace's i32 column as is (otherwise ids are numbered). */
const isPosition = (s: string | number): boolean =>
  typeof s === "number" && Number.isInteger(s) && s >= 0 && s <= MAX_POSITION;

/**
 * Collects per-(token, layer) records in typed columns (no per-record objects) and assembles them
 * into a token-major RoutingTrace: tokens ordered by request (in order of first appearance) then
 * token position; layer ids (any integers, e.g. 1..26 or 3,7,11) mapped in ascending order to
 * 0..L-1. Every token must have exactly one record per layer, all with the same top-k.
 */
export class RecordAssembler {
  private readonly seqIdx = new Col((n) => new Int32Array(n));
  private readonly tok = new Col((n) => new Int32Array(n));
  private readonly layer = new Col((n) => new Int32Array(n));
  private readonly line = new Col((n) => new Int32Array(n));
  private readonly picks = new Col((n) => new Uint16Array(n));
  private readonly weights = new Col((n) => new Float32Array(n));
  private readonly seqIds = new Map<string | number, number>();
  private readonly seqNames: (string | number)[] = [];
  private topK: number | undefined;
  private hasWeights: boolean | undefined;
  private maxExpert = -1;
  private readonly expertLimit: number;

  constructor(
    private readonly path: string,
    private readonly opts: Pick<TraceReadOptions, "experts" | "topK" | "layers" | "incomplete">,
  ) {
    this.topK = opts.topK;
    // Under `incomplete: empty` id 65535 is NO_EXPERT, so real ids stop one short.
    const cap = opts.incomplete === "empty" ? MAX_EXPERTS_WITH_EMPTY : 65536;
    if (opts.experts !== undefined && opts.experts > cap)
      throw new UserError(
        `${opts.experts} experts with incomplete: empty; at most ${cap} (expert id 65535 stands for "no expert")`,
        path,
      );
    this.expertLimit = opts.experts ?? cap;
  }

  get records(): number {
    return this.tok.length;
  }

  add(
    lineNo: number,
    seq: unknown,
    token: unknown,
    layer: unknown,
    experts: unknown,
    weights: unknown,
    names: { seq: string; token: string; layer: string; experts: string; weights?: string },
  ): void {
    const where = `${this.path}:${lineNo}`;
    if (typeof seq !== "number" && typeof seq !== "string")
      throw new UserError(`field "${names.seq}" (request id) is missing or not a number/string`, where);
    if (typeof token !== "number" || !Number.isInteger(token) || token < 0 || token >= TOKEN_BITS)
      throw new UserError(
        `field "${names.token}" must be a token position, an integer in 0..${TOKEN_BITS - 1}; ` +
          `got ${JSON.stringify(token)}`,
        where,
      );
    if (typeof layer !== "number" || !Number.isInteger(layer) || layer < 0 || layer > INT32_MAX)
      throw new UserError(
        `field "${names.layer}" must be a layer id, an integer in 0..${INT32_MAX}; got ${JSON.stringify(layer)}`,
        where,
      );
    const ex = typeof experts === "number" ? [experts] : experts;
    if (!Array.isArray(ex))
      throw new UserError(
        `field "${names.experts}" must be an array of expert ids; got ${JSON.stringify(experts)}`,
        where,
      );
    if (ex.length === 0) throw new UserError(`field "${names.experts}" is empty; expected the top-k expert ids`, where);
    if (this.topK === undefined) this.topK = ex.length;
    if (ex.length !== this.topK)
      throw new UserError(
        `"${names.experts}" has ${ex.length} experts; expected top-${this.topK} (as in the first record)`,
        where,
      );
    const start = this.picks.length;
    for (let k = 0; k < ex.length; k++) {
      const e: unknown = ex[k];
      if (typeof e !== "number" || !Number.isInteger(e) || e < 0 || e >= this.expertLimit) {
        const what = typeof e === "number" && Number.isInteger(e) ? "is out of range" : "is not an integer";
        throw new UserError(
          `"${names.experts}"[${k}] = ${JSON.stringify(e)} ${what}; expected an expert id in ` +
            `0..${this.expertLimit - 1}`,
          where,
        );
      }
      for (let j = start; j < this.picks.length; j++) {
        if (this.picks.buf[j] === e)
          throw new UserError(
            `"${names.experts}" picks expert ${e} twice; expected ${this.topK} distinct experts`,
            where,
          );
      }
      if (e > this.maxExpert) this.maxExpert = e;
      this.picks.push(e);
    }
    const w = weights === undefined || weights === null ? undefined : typeof weights === "number" ? [weights] : weights;
    if (this.hasWeights === undefined) this.hasWeights = w !== undefined;
    if (this.hasWeights) {
      if (!Array.isArray(w) || w.length !== ex.length || w.some((x) => typeof x !== "number")) {
        throw new UserError(
          `field "${names.weights}" must be ${ex.length} numbers (one router weight per expert), ` +
            `as in the first record`,
          where,
        );
      }
      for (let k = 0; k < w.length; k++) {
        const x = w[k] as number;
        if (!Number.isFinite(x) || x < 0) {
          throw new UserError(
            `"${names.weights}"[${k}] = ${JSON.stringify(x)}; expected a router weight, a finite number >= 0`,
            where,
          );
        }
        this.weights.push(x);
      }
    }
    let s = this.seqIds.get(seq);
    if (s === undefined) {
      s = this.seqNames.length;
      this.seqIds.set(seq, s);
      this.seqNames.push(seq);
    }
    this.seqIdx.push(s);
    this.tok.push(token);
    this.layer.push(layer);
    this.line.push(lineNo);
  }

  /**
   * Tokens without a record for some layer. Under "error" (default) any is one UserError naming
   * how many and the first few; under "drop" they are returned to be left out, with a report;
   * under "empty" they are kept (nothing is returned to leave out), with a report.
   */
  private incompleteTokens(
    recOf: Int32Array,
    keys: number[],
    L: number,
    layerIds: number[],
  ): { has: (t: number) => boolean; report?: IncompleteReport } {
    const T = keys.length;
    const bad = new Set<number>();
    const first: string[] = [];
    let records = 0;
    let emptyLayers = 0;
    let firstLine = 0;
    for (let t = 0; t < T; t++) {
      let missing = -1;
      let present = -1;
      let n = 0;
      for (let l = 0; l < L; l++) {
        const r = recOf[t * L + l];
        if (r < 0) {
          missing = missing < 0 ? l : missing;
          emptyLayers++;
        } else {
          n++;
          if (present < 0) present = r;
        }
      }
      if (missing < 0) continue;
      bad.add(t);
      records += n;
      if (firstLine === 0) firstLine = this.line.buf[present];
      if (first.length < INCOMPLETE_SHOWN) {
        const seq = JSON.stringify(this.seqNames[Math.floor(keys[t] / TOKEN_BITS)]);
        first.push(
          `request ${seq} token ${keys[t] % TOKEN_BITS}: no layer ${layerIds[missing]} ` +
            `(line ${this.line.buf[present]})`,
        );
      }
    }
    if (bad.size === 0) return { has: () => false };
    const report = applyIncomplete(
      this.opts.incomplete ?? "error",
      { tokens: bad.size, total: T, records, emptyLayers, first },
      { token: `${this.path}:${firstLine}`, file: this.path },
    );
    return { has: report.policy === "drop" ? (t) => bad.has(t) : () => false, report };
  }

  finish(meta: TraceMeta): RoutingTrace {
    const n = this.records;
    if (n === 0 || this.topK === undefined)
      throw new UserError("no records; expected one record per (token, layer)", this.path);
    const topK = this.topK;
    // Layer ids -> 0..L-1.
    const layerSet = new Set<number>();
    for (let i = 0; i < n; i++) layerSet.add(this.layer.buf[i]);
    const layerIds = [...layerSet].sort((a, b) => a - b);
    const L = layerIds.length;
    if (this.opts.layers !== undefined && L !== this.opts.layers) {
      throw new UserError(
        `records cover ${L} distinct layers (${layerIds.join(", ")}); expected ${this.opts.layers}`,
        this.path,
      );
    }
    const layerIndex = new Map(layerIds.map((id, i) => [id, i]));
    // Distinct tokens, ordered by (request first appearance, token position).
    const keyToToken = new Map<number, number>();
    const keys: number[] = [];
    for (let i = 0; i < n; i++) {
      const key = this.seqIdx.buf[i] * TOKEN_BITS + this.tok.buf[i];
      if (!keyToToken.has(key)) {
        keyToToken.set(key, -1);
        keys.push(key);
      }
    }
    keys.sort((a, b) => a - b);
    keys.forEach((k, i) => keyToToken.set(k, i));
    const T = keys.length;
    const recOf = new Int32Array(T * L).fill(-1);
    for (let i = 0; i < n; i++) {
      const t = keyToToken.get(this.seqIdx.buf[i] * TOKEN_BITS + this.tok.buf[i])!;
      const slot = t * L + layerIndex.get(this.layer.buf[i])!;
      if (recOf[slot] >= 0) {
        throw new UserError(
          `duplicate record for request ${JSON.stringify(this.seqNames[this.seqIdx.buf[i]])} ` +
            `token ${this.tok.buf[i]} layer ${this.layer.buf[i]} (first at ` +
            `line ${this.line.buf[recOf[slot]]}); expected one record per (token, layer)`,
          `${this.path}:${this.line.buf[i]}`,
        );
      }
      recOf[slot] = i;
    }
    const incomplete = this.incompleteTokens(recOf, keys, L, layerIds);
    // Request ids are kept when they are valid positions; otherwise numbered in order of appearance.
    const numericSeqs = this.seqNames.every(isPosition);
    const experts = this.opts.experts ?? this.maxExpert + 1;
    const b = new TraceBuilder(L, experts, topK, this.hasWeights === true);
    let prevSeq = -1;
    let stepInSeq = 0;
    for (let t = 0; t < T; t++) {
      if (incomplete.has(t)) continue;
      const sIdx = Math.floor(keys[t] / TOKEN_BITS);
      stepInSeq = sIdx === prevSeq ? stepInSeq + 1 : 0;
      prevSeq = sIdx;
      const slot = b.addToken(numericSeqs ? (this.seqNames[sIdx] as number) : sIdx, stepInSeq);
      for (let l = 0; l < L; l++) {
        const r = recOf[t * L + l];
        if (r < 0) {
          // incomplete: empty, a layer without a record: no expert picks (and no router weights).
          slot.picks.fill(NO_EXPERT, slot.at + l * topK, slot.at + l * topK + topK);
          slot.weights?.fill(0, slot.at + l * topK, slot.at + l * topK + topK);
          continue;
        }
        slot.picks.set(this.picks.buf.subarray(r * topK, r * topK + topK), slot.at + l * topK);
        if (slot.weights) slot.weights.set(this.weights.buf.subarray(r * topK, r * topK + topK), slot.at + l * topK);
      }
    }
    const m: TraceMeta = { ...meta, layerIds };
    if (this.opts.experts === undefined) m.expertsInferred = true;
    if (!numericSeqs) m.seqNames = this.seqNames.map(String);
    if (incomplete.report) m.incomplete = incomplete.report;
    return b.build(m);
  }
}
