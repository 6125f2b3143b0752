import type { CacheEntry } from "../data.js";
import { CONFIG, HEIGHT, SCHEMA, WIDTH, round4, type ChartDef } from "./common.js";

const isBound = (policy: string): boolean => /belady|min|optimal/i.test(policy);

/** Cache rows from a sweep over buffering policy x slots (summary.cache of each point). */
function fromSweep(input: Extract<Parameters<ChartDef["build"]>[0], { kind: "sweep" }>): CacheEntry[] {
  const keys = input.sweep.param_keys;
  if (!keys.includes("policies.buffering.slots")) return [];
  const rows: CacheEntry[] = [];
  for (const p of input.sweep.points) {
    const c = p.summary.cache;
    if (!c) continue;
    const other = keys.filter((k) => k !== "policies.buffering.slots" && k !== "policies.buffering.policy");
    const suffix = other.length
      ? ` (${other.map((k) => String(p.params[k] as string | number | boolean | null | undefined)).join(", ")})`
      : "";
    rows.push({
      policy: `${p.summary.policies.buffering}${suffix}`,
      slots: Number(p.params["policies.buffering.slots"]),
      requests: c.requests,
      misses: c.misses,
      miss_rate: c.miss_rate,
      bytes_moved: c.bytes_moved,
    });
  }
  return rows;
}

/**
 * Miss rate vs cache size per policy. Belady MIN (the offline optimum) is drawn dashed in black
 * with the region below it shaded: no online policy can get there.
 */
export const missrate: ChartDef = {
  id: "missrate",
  title: "Miss rate vs cache size",
  build(input) {
    const entries = input.kind === "cache" ? input.entries : input.kind === "sweep" ? fromSweep(input) : [];
    if (entries.length === 0) return null;
    const values = entries
      .map((e) => ({
        policy: e.policy,
        slots: e.slots,
        miss_rate: round4(e.miss_rate),
        bound: isBound(e.policy) ? "Belady (bound)" : "online policy",
      }))
      .sort((a, b) => a.policy.localeCompare(b.policy) || a.slots - b.slots);
    const hasBound = values.some((v) => v.bound !== "online policy");
    const x = {
      field: "slots",
      type: "quantitative" as const,
      title: "cache size (expert slots per GPU per layer)",
      axis: { tickMinStep: 1 },
    };
    const y = { field: "miss_rate", type: "quantitative" as const, title: "miss rate", scale: { domain: [0, 1] } };
    return {
      $schema: SCHEMA,
      title: hasBound ? "Miss rate vs cache size (Belady = lower bound)" : "Miss rate vs cache size",
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values },
      layer: [
        ...(hasBound
          ? [
              {
                mark: { type: "area" as const, color: "#888", opacity: 0.15 },
                transform: [{ filter: "datum.bound !== 'online policy'" }],
                encoding: { x, y },
              },
            ]
          : []),
        {
          mark: { type: "line", point: true },
          encoding: {
            x,
            y,
            color: { field: "policy", type: "nominal", title: "policy" },
            strokeDash: {
              field: "bound",
              type: "nominal",
              title: "kind",
              legend: { symbolType: "stroke", symbolStrokeWidth: 2, labelLimit: 200 },
              sort: ["online policy", "Belady (bound)"],
            },
            tooltip: [{ field: "policy" }, { field: "slots" }, { field: "miss_rate" }],
          },
        },
      ],
    };
  },
};
