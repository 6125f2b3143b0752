import { UserError } from "../../util/errors.js";
import type { RoutingTrace } from "../trace.js";
import { RecordAssembler } from "./assemble.js";
import type { Line } from "./lines.js";
import type { TraceReadOptions } from "./options.js";
import { resolveMapping } from "./records.js";

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines). */
export function splitCsv(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (text[i] === '"') {
      let v = "";
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error("unterminated quoted field");
        v += text.slice(i, q);
        if (text[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i >= n) return out;
      if (text[i] !== ",") throw new Error(`expected ',' after a quoted field at column ${i + 1}`);
      i++;
    } else {
      const c = text.indexOf(",", i);
      if (c < 0) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, c));
      i = c + 1;
    }
  }
}

function parseList(v: string): number[] {
  const s = v.trim().replace(/^\[|\]$/g, "");
  if (s === "") return [];
  // Non-numbers stay strings, so that the error quotes what the file holds.
  return s
    .split(/[\s;|,]+/)
    .filter((x) => x !== "")
    .map((x) => (Number.isFinite(Number(x)) ? Number(x) : x)) as number[];
}

/**
 * Reads per-(token, layer) CSV rows with a header line. The experts column holds a list
 * ("3 7", "3;7", "[3,7]") or the experts come in numbered columns experts_0, experts_1, ...;
 * the same for weights. Column names follow the field mapping.
 */
export async function readCsv(
  path: string,
  first: Line,
  rest: AsyncIterable<Line>,
  opts: TraceReadOptions,
): Promise<RoutingTrace> {
  const map = resolveMapping(opts.mapping);
  let header: string[];
  try {
    header = splitCsv(first.text).map((h) => h.trim());
  } catch (e) {
    throw new UserError(
      `bad CSV header (${(e as Error).message}); expected a header row naming the columns`,
      `${path}:${first.no}`,
    );
  }
  if (/^\s*[[{]/.test(first.text)) {
    throw new UserError(
      "the first line is JSON, not a CSV header; expected a CSV header row (or give --format " +
        "olmoe-jsonl or records-jsonl)",
      `${path}:${first.no}`,
    );
  }
  const seen = new Map<string, number>();
  header.forEach((h, i) => {
    const j = seen.get(h);
    if (j !== undefined)
      throw new UserError(
        `CSV header names column "${h}" twice (columns ${j + 1} and ${i + 1}); expected distinct column names`,
        `${path}:${first.no}`,
      );
    seen.set(h, i);
  });
  const col = (name: string): number => header.indexOf(name);
  const need = (name: string, what: string): number => {
    const i = col(name);
    if (i < 0)
      throw new UserError(
        `CSV header has no column "${name}" (${what}); columns: ${header.join(", ")}; give a ` +
          `field mapping with --map (e.g. --map seq=problem_id,token=token_idx)`,
        `${path}:${first.no}`,
      );
    return i;
  };
  const iSeq = need(map.seq, "request id");
  const iTok = need(map.token, "token position");
  const iLayer = need(map.layer, "layer");
  /** Columns base_0, base_1, ...: every base_<n> column in the header, numbered from 0 without gaps. */
  const numbered = (base: string): number[] => {
    const cols: number[] = [];
    for (let k = 0; ; k++) {
      const i = col(`${base}_${k}`);
      if (i < 0) break;
      cols.push(i);
    }
    const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}_(\\d+)$`);
    const stray = header.find((h, i) => re.test(h) && !cols.includes(i));
    if (stray !== undefined) {
      throw new UserError(
        `CSV column "${stray}" does not ` +
          `follow ${cols.length === 0 ? "a column" : `"${base}_${cols.length - 1}"`}; numbered ` +
          `columns must run ${base}_0, ${base}_1, ... without gaps`,
        `${path}:${first.no}`,
      );
    }
    return cols;
  };
  const iExperts = col(map.experts);
  const expertCols = iExperts >= 0 ? [] : numbered(map.experts);
  if (iExperts < 0 && expertCols.length === 0) need(map.experts, "expert ids, a list or numbered columns");
  const iWeights = map.weights ? col(map.weights) : -1;
  const weightCols = iWeights >= 0 || !map.weights ? [] : numbered(map.weights);
  const asm = new RecordAssembler(path, opts);
  const num = (v: string | undefined): number | string => {
    if (v === undefined) return NaN;
    const t = v.trim();
    const x = Number(t);
    return t !== "" && Number.isFinite(x) ? x : t;
  };
  for await (const line of rest) {
    if (line.text.trim() === "") continue;
    let f: string[];
    try {
      f = splitCsv(line.text);
    } catch (e) {
      throw new UserError(`bad CSV (${(e as Error).message})`, `${path}:${line.no}`);
    }
    if (f.length !== header.length) {
      throw new UserError(
        `row has ${f.length} fields; expected ${header.length} as in the header`,
        `${path}:${line.no}`,
      );
    }
    const experts = iExperts >= 0 ? parseList(f[iExperts]) : expertCols.map((i) => num(f[i]));
    let weights: number[] | undefined;
    if (iWeights >= 0) weights = parseList(f[iWeights]);
    else if (weightCols.length > 0) weights = weightCols.map((i) => num(f[i])) as number[];
    asm.add(line.no, num(f[iSeq]), num(f[iTok]), num(f[iLayer]), experts, weights, map);
  }
  return asm.finish({ source: path, format: "csv", ...(opts.model ? { model: opts.model } : {}) });
}
