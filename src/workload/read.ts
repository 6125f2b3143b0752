import { UserError, listValues } from "../util/errors.js";
import { isBinaryTrace, readBinaryTrace } from "./readers/binary.js";
import { readCsv } from "./readers/csv.js";
import { peekBytes, readLines, type Line } from "./readers/lines.js";
import { isOlmoeHeader, isOlmoeTokenLine, readOlmoe } from "./readers/olmoe.js";
import { INCOMPLETE_POLICIES, TRACE_FORMATS, type TraceReadOptions } from "./readers/options.js";
import { readRecordsJsonl } from "./readers/records.js";
import { isSglangDump, isVllmLine, readSglang, readVllm } from "./readers/engines.js";
import { emptyCounts, type RoutingTrace } from "./trace.js";

export type {
  FieldMapping,
  IncompletePolicy,
  IncompleteReport,
  TraceFormat,
  TraceReadOptions,
} from "./readers/options.js";
export {
  DEFAULT_MAPPING,
  INCOMPLETE_POLICIES,
  PROBLEM_ID_MAPPING,
  parseMappingSpec,
  TRACE_FORMATS,
} from "./readers/options.js";
export {
  writeBinaryTrace,
  readBinaryTrace,
  encodeBinaryTrace,
  binaryTraceCrc,
  BINARY_VERSION,
} from "./readers/binary.js";

/** The remaining lines after the first, from the same iterator. */
async function* restOf(it: AsyncIterator<Line>): AsyncGenerator<Line> {
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}

/**
 * Reads a routing trace in any supported format. With format "auto" (default): the binary magic
 * "MOETRACE" -> binary; otherwise (gzip or plain text) the first non-empty line decides: a JSON
 * header "moe-routing-trace/..." or a token line with experts[layer][k] -> OLMoE JSONL; a line with
 * "routed_experts" -> vLLM's capture; a one-line {"records", "last_physical_to_logical_map"} -> SGLang's
 * per-token expert distribution dump (a pretty-printed one needs its format named); another
 * JSON object -> per-(token, layer) records with opts.mapping; anything else -> CSV with a header.
 */
export async function readTrace(path: string, opts: TraceReadOptions = {}): Promise<RoutingTrace> {
  const trace = await readAny(path, opts);
  if (opts.maxTokens !== undefined && opts.maxTokens < trace.tokens) return truncateTrace(trace, opts.maxTokens);
  return trace;
}

/** The first n tokens of a trace (views, no copies). */
export function truncateTrace(trace: RoutingTrace, n: number): RoutingTrace {
  const per = trace.layers * trace.topK;
  const out: RoutingTrace = {
    ...trace,
    tokens: n,
    picks: trace.picks.subarray(0, n * per),
    seq: trace.seq.subarray(0, n),
    step: trace.step.subarray(0, n),
  };
  if (trace.weights) out.weights = trace.weights.subarray(0, n * per);
  const inc = trace.meta.incomplete;
  if (inc?.policy === "empty") {
    // The report counts what the kept tokens hold.
    const c = emptyCounts(out);
    out.meta = { ...trace.meta, incomplete: { ...inc, empty_tokens: c.tokens, empty_layers: c.layers } };
  }
  return out;
}

async function readAny(path: string, opts: TraceReadOptions): Promise<RoutingTrace> {
  const format = opts.format ?? "auto";
  if (!TRACE_FORMATS.includes(format))
    throw new UserError(`unknown trace format '${format}'; expected ${listValues([...TRACE_FORMATS])}`);
  if (opts.incomplete !== undefined && !INCOMPLETE_POLICIES.includes(opts.incomplete)) {
    throw new UserError(
      `unknown incomplete-token policy '${String(opts.incomplete)}'; expected ${listValues([...INCOMPLETE_POLICIES])}`,
    );
  }
  const head = peekBytes(path, 8);
  if (format === "binary" || (format === "auto" && isBinaryTrace(head))) return readBinaryTrace(path);
  const it = readLines(path)[Symbol.asyncIterator]();
  let first: Line | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    if (r.value.text.trim() !== "") {
      first = r.value;
      break;
    }
  }
  if (first === undefined) throw new UserError("empty trace file; expected a header or records", path);
  const rest = restOf(it);
  try {
    if (format === "olmoe-jsonl") return await readOlmoe(path, first, rest, opts);
    if (format === "csv") return await readCsv(path, first, rest, opts);
    if (format === "records-jsonl") return await readRecordsJsonl(path, prepend(first, rest), opts);
    if (format === "vllm-routed-experts") return await readVllm(path, prepend(first, rest), opts);
    if (format === "sglang-expert-distribution") return await readSglang(path, prepend(first, rest), opts);
    const t = first.text.trimStart();
    if (t.startsWith("{")) {
      let v: unknown;
      try {
        v = JSON.parse(first.text);
      } catch (e) {
        throw new UserError(
          `bad JSON (${(e as Error).message}); expected one JSON object per line`,
          `${path}:${first.no}`,
        );
      }
      if (isOlmoeHeader(v) || isOlmoeTokenLine(v)) return await readOlmoe(path, first, rest, opts);
      if (isVllmLine(v)) return await readVllm(path, prepend(first, rest), opts);
      if (isSglangDump(v)) return await readSglang(path, prepend(first, rest), opts);
      return await readRecordsJsonl(path, prepend(first, rest), opts);
    }
    if (/\.(jsonl|json|ndjson)(\.gz)?$/i.test(path)) {
      throw new UserError(
        `the first line is not a JSON object (it starts ${JSON.stringify(t.slice(0, 20))}); ` +
          `expected one JSON object per line in ` +
          `a ${path.replace(/^.*?(\.[^./]+(\.gz)?)$/i, "$1")} trace`,
        `${path}:${first.no}`,
      );
    }
    return await readCsv(path, first, rest, opts);
  } finally {
    await it.return?.(undefined);
  }
}

async function* prepend(first: Line, rest: AsyncIterable<Line>): AsyncGenerator<Line> {
  yield first;
  yield* rest;
}
