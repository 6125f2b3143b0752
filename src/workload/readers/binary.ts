import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { isUtf8 } from "node:buffer";
import { crc32 } from "node:zlib";
import { UserError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { NO_EXPERT, type RoutingTrace, type TraceMeta } from "../trace.js";
import { MAX_POSITION, checkExpertBytes, incompleteReport } from "./options.js";

/**
 * The compact binary trace (.mtrace), little-endian:
 *
 *   0  "MOETRACE"            magic, 8 bytes
 *   8  u32 version (2; version 1 is still read, see below)
 *  12  u32 flags             bit 0: router weights present
 *  16  u32 layers, 20 u32 experts, 24 u32 topK, 28 u32 tokens
 *  32  u32 metaBytes         length of the UTF-8 JSON meta that follows the header
 *  36  u32 crc32             of every byte of the file but these four (header included)
 *  40  f64 fileBytes         total length, to tell truncation from corruption
 *  48  meta JSON, zero-padded to a multiple of 8
 *      picks  u16[tokens*layers*topK], zero-padded to a multiple of 4
 *      seq    i32[tokens]
 *      step   i32[tokens]
 *      weights f32[tokens*layers*topK]   (when flag bit 0)
 *
 * Reading is one file read, a CRC and typed-array views over the buffer (no parsing).
 *
 * Version 1 (same layout) had its CRC cover only the bytes after the header, so a changed header
 * field went unseen when the file's size still matched: layers, top-k and tokens are pinned by the
 * size identity, but `experts` raised within range (64 -> 100) is not detectable in a version 1
 * file. Version 1 files are still read, with the header checks below; `moesim trace convert OLD
 * NEW` rewrites one as version 2.
 */
export const BINARY_MAGIC = "MOETRACE";
export const BINARY_VERSION = 2;
const CRC_AT = 36;
const HEADER_BYTES = 48;

// Arithmetic, not bitwise: header fields of a corrupt file can make n exceed 2^31.
const pad = (n: number, a: number): number => Math.ceil(n / a) * a;

function layout(tokens: number, layers: number, topK: number, metaBytes: number, weights: boolean) {
  const nPicks = tokens * layers * topK;
  const picksAt = HEADER_BYTES + pad(metaBytes, 8);
  const seqAt = picksAt + pad(nPicks * 2, 4);
  const stepAt = seqAt + tokens * 4;
  const weightsAt = stepAt + tokens * 4;
  const end = weightsAt + (weights ? nPicks * 4 : 0);
  return { nPicks, picksAt, seqAt, stepAt, weightsAt, end };
}

function checkHost(): void {
  if (endianness() !== "LE") throw new UserError("binary traces are little-endian; this host is big-endian");
}

/** Serialises a trace to the binary form in memory. */
export function encodeBinaryTrace(trace: RoutingTrace): Buffer {
  checkHost();
  const meta = Buffer.from(JSON.stringify(trace.meta ?? {}), "utf8");
  const hasW = trace.weights !== undefined;
  const lay = layout(trace.tokens, trace.layers, trace.topK, meta.length, hasW);
  if (trace.picks.length !== lay.nPicks)
    throw new Error(`trace has ${trace.picks.length} picks; expected tokens*layers*topK = ${lay.nPicks}`);
  const buf = Buffer.alloc(lay.end);
  buf.write(BINARY_MAGIC, 0, "latin1");
  buf.writeUInt32LE(BINARY_VERSION, 8);
  buf.writeUInt32LE(hasW ? 1 : 0, 12);
  buf.writeUInt32LE(trace.layers, 16);
  buf.writeUInt32LE(trace.experts, 20);
  buf.writeUInt32LE(trace.topK, 24);
  buf.writeUInt32LE(trace.tokens, 28);
  buf.writeUInt32LE(meta.length, 32);
  buf.writeDoubleLE(lay.end, 40);
  meta.copy(buf, HEADER_BYTES);
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  buf.set(bytes(trace.picks), lay.picksAt);
  buf.set(bytes(trace.seq), lay.seqAt);
  buf.set(bytes(trace.step), lay.stepAt);
  if (trace.weights) buf.set(bytes(trace.weights), lay.weightsAt);
  buf.writeUInt32LE(binaryTraceCrc(buf, BINARY_VERSION), CRC_AT);
  return buf;
}

/** The CRC-32 a binary trace of `version` stores: version 2 covers the whole file but the CRC field. */
export function binaryTraceCrc(buf: Uint8Array, version: number): number {
  if (version === 1) return crc32(buf.subarray(HEADER_BYTES));
  return crc32(buf.subarray(CRC_AT + 4), crc32(buf.subarray(0, CRC_AT)));
}

/** Writes the binary form atomically (temporary file + rename). */
export function writeBinaryTrace(path: string, trace: RoutingTrace): void {
  writeFileAtomic(path, encodeBinaryTrace(trace));
}

export function isBinaryTrace(head: Uint8Array): boolean {
  return head.length >= 8 && Buffer.from(head.buffer, head.byteOffset, 8).toString("latin1") === BINARY_MAGIC;
}

function view<T extends Uint16Array | Int32Array | Float32Array>(
  C: { new (b: ArrayBuffer, o: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number },
  buf: Buffer,
  at: number,
  n: number,
): T {
  const off = buf.byteOffset + at;
  if (off % C.BYTES_PER_ELEMENT === 0) return new C(buf.buffer as ArrayBuffer, off, n);
  const out = new C(n);
  new Uint8Array(out.buffer).set(buf.subarray(at, at + n * C.BYTES_PER_ELEMENT));
  return out;
}

/**
 * The checksum only says the bytes are the ones written: a file written by other tools could
 * still hold expert ids out of range (which would index past per-expert arrays), an expert picked
 * twice in one token's top-k (as the text readers refuse), or a negative step. One pass, a stamp
 * per expert: the row that last picked it.
 */
function checkPicks(t: RoutingTrace, where: string): void {
  const { picks, experts, topK: K } = t;
  const last = new Int32Array(experts).fill(-1);
  const at = (row: number): string => `binary trace: token ${Math.floor(row / t.layers)} layer ${row % t.layers}`;
  // (token, layer) rows of NO_EXPERT only: a trace converted with `incomplete: empty`.
  let emptyRows = 0;
  let emptyTokens = 0;
  let lastEmptyToken = -1;
  for (let row = 0, i = 0; i < picks.length; row++) {
    if (picks[i] === NO_EXPERT && experts < NO_EXPERT + 1) {
      for (let k = 0; k < K; k++, i++)
        if (picks[i] !== NO_EXPERT)
          throw new UserError(
            `${at(row)} mixes "no expert" (${NO_EXPERT}) with expert ${picks[i]}; expected all ${K} or none`,
            where,
          );
      emptyRows++;
      const tok = Math.floor(row / t.layers);
      if (tok !== lastEmptyToken) emptyTokens++;
      lastEmptyToken = tok;
      continue;
    }
    for (let k = 0; k < K; k++, i++) {
      const e = picks[i];
      if (e >= experts)
        throw new UserError(`${at(row)} picks expert ${e}; expected an expert id in 0..${experts - 1}`, where);
      if (last[e] === row)
        throw new UserError(`${at(row)} picks expert ${e} twice; expected ${K} distinct experts`, where);
      last[e] = row;
    }
  }
  if (emptyRows > 0) {
    const prev = t.meta.incomplete;
    t.meta.incomplete = incompleteReport("empty", {
      tokens: emptyTokens,
      records: 0,
      emptyLayers: emptyRows,
      first: Array.isArray(prev?.first) ? prev.first.filter((x) => typeof x === "string").slice(0, 5) : [],
    });
  }
  for (let i = 0; i < t.tokens; i++) {
    if (t.seq[i] < 0 || t.seq[i] > MAX_POSITION)
      throw new UserError(
        `binary trace: token ${i} has request id ${t.seq[i]}; expected an integer in 0..${MAX_POSITION}`,
        where,
      );
    if (t.step[i] < 0 || t.step[i] > MAX_POSITION)
      throw new UserError(
        `binary trace: token ${i} has step ${t.step[i]}; expected a position in its request, 0..${MAX_POSITION}`,
        where,
      );
  }
  if (t.weights) {
    const w = t.weights;
    for (let i = 0; i < w.length; i++) {
      if (!(w[i] >= 0) || w[i] === Infinity)
        throw new UserError(`${at(Math.floor(i / K))} has router weight ${w[i]}; expected a finite number >= 0`, where);
    }
  }
}

/** Reads a binary trace from a path or a buffer; typed arrays are views over the file's bytes. */
export function readBinaryTrace(pathOrBuffer: string | Uint8Array, opts: { verify?: boolean } = {}): RoutingTrace {
  checkHost();
  const where = typeof pathOrBuffer === "string" ? pathOrBuffer : "<buffer>";
  let buf: Buffer;
  if (typeof pathOrBuffer === "string") {
    try {
      buf = readFileSync(pathOrBuffer);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UserError(err.code === "ENOENT" ? "no such file" : `cannot read (${err.code ?? err.message})`, where);
    }
  } else {
    buf = Buffer.from(pathOrBuffer.buffer, pathOrBuffer.byteOffset, pathOrBuffer.byteLength);
  }
  if (buf.length < HEADER_BYTES || buf.toString("latin1", 0, 8) !== BINARY_MAGIC) {
    throw new UserError(
      `not a binary moesim trace; expected the magic "${BINARY_MAGIC}" and a ${HEADER_BYTES}-byte header`,
      where,
    );
  }
  const version = buf.readUInt32LE(8);
  if (version !== BINARY_VERSION && version !== 1)
    throw new UserError(`binary trace version ${version}; expected ${BINARY_VERSION} (or 1)`, where);
  const flags = buf.readUInt32LE(12);
  const layers = buf.readUInt32LE(16);
  const experts = buf.readUInt32LE(20);
  const topK = buf.readUInt32LE(24);
  const tokens = buf.readUInt32LE(28);
  const metaBytes = buf.readUInt32LE(32);
  const crc = buf.readUInt32LE(36);
  const fileBytes = buf.readDoubleLE(40);
  if ((flags & ~1) !== 0)
    throw new UserError(
      `binary trace has unknown flags 0x${flags.toString(16)}; expected only bit 0 (router weights)`,
      where,
    );
  if (layers < 1 || topK < 1 || experts < 1 || experts > 65536 || topK > experts) {
    throw new UserError(
      `binary trace header has ${layers} layers, ${experts} experts, top-${topK}; expected at ` +
        `least 1 layer and 1 <= top-k <= experts <= 65536`,
      where,
    );
  }
  const lay = layout(tokens, layers, topK, metaBytes, (flags & 1) !== 0);
  if (buf.length === lay.end && fileBytes !== lay.end) {
    throw new UserError(
      `binary trace header says the file is ${fileBytes} bytes; it is ${buf.length}, as its ` +
        `header's shape needs (the header is corrupt)`,
      where,
    );
  }
  if (buf.length !== lay.end) {
    throw new UserError(
      `binary trace is ${buf.length} bytes; expected ${lay.end} for ${tokens} tokens ` +
        `x ${layers} layers x top-${topK}${buf.length < lay.end ? " (truncated)" : ""}`,
      where,
    );
  }
  if (opts.verify !== false && binaryTraceCrc(buf, version) !== crc) {
    throw new UserError(
      `binary trace checksum mismatch; the file is corrupt (expected the CRC-32 in its ` +
        `header, over ${version === 1 ? "the bytes after the header" : "header and body"})`,
      where,
    );
  }
  let meta: TraceMeta;
  const metaBuf = buf.subarray(HEADER_BYTES, HEADER_BYTES + metaBytes);
  try {
    if (!isUtf8(metaBuf)) throw new Error("not UTF-8");
    meta = JSON.parse(metaBuf.toString("utf8")) as TraceMeta;
  } catch {
    throw new UserError("binary trace meta is not valid UTF-8 JSON", where);
  }
  if (meta === null || typeof meta !== "object" || Array.isArray(meta))
    throw new UserError("binary trace meta must be a JSON object", where);
  checkExpertBytes(meta.expertBytes, "binary trace meta field expertBytes", where);
  const trace: RoutingTrace = {
    layers,
    experts,
    topK,
    tokens,
    picks: view(Uint16Array, buf, lay.picksAt, lay.nPicks),
    seq: view(Int32Array, buf, lay.seqAt, tokens),
    step: view(Int32Array, buf, lay.stepAt, tokens),
    meta,
  };
  if (flags & 1) trace.weights = view(Float32Array, buf, lay.weightsAt, lay.nPicks);
  checkPicks(trace, where);
  return trace;
}
