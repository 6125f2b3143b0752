import { UserError } from "../../util/errors.js";
import type { RoutingTrace } from "../trace.js";
import { RecordAssembler } from "./assemble.js";
import type { Line } from "./lines.js";
import { parseJsonLine } from "./olmoe.js";
import { DEFAULT_MAPPING, type FieldMapping, type TraceReadOptions } from "./options.js";

export function resolveMapping(m: Partial<FieldMapping> | undefined): FieldMapping {
  return { ...DEFAULT_MAPPING, ...(m ?? {}) };
}

/**
 * Reads per-(token, layer) JSONL records, e.g.
 * {"problem_id":0,"layer":5,"token_idx":12,"experts":[3,7],"gating_probs":[0.7,0.3]},
 * with a field mapping naming the request, token, layer, experts and (optional) weights fields.
 */
export async function readRecordsJsonl(
  path: string,
  lines: AsyncIterable<Line>,
  opts: TraceReadOptions,
): Promise<RoutingTrace> {
  const map = resolveMapping(opts.mapping);
  const asm = new RecordAssembler(path, opts);
  for await (const line of lines) {
    if (line.text.trim() === "") continue;
    const rec = parseJsonLine(path, line) as Record<string, unknown>;
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
      throw new UserError("expected a JSON object per line", `${path}:${line.no}`);
    }
    for (const k of [map.seq, map.token, map.layer, map.experts]) {
      if (!(k in rec)) {
        throw new UserError(
          `record has no field "${k}" (fields: ${Object.keys(rec).join(", ")}); give a field ` +
            `mapping such as --map seq=problem_id,token=token_idx,layer=layer,experts=experts`,
          `${path}:${line.no}`,
        );
      }
    }
    asm.add(
      line.no,
      rec[map.seq],
      rec[map.token],
      rec[map.layer],
      rec[map.experts],
      map.weights ? rec[map.weights] : undefined,
      map,
    );
  }
  return asm.finish({ source: path, format: "records-jsonl", ...(opts.model ? { model: opts.model } : {}) });
}
