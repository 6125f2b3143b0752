import { CONFIG, HEIGHT, SCHEMA, WIDTH, byteUnit, round4, type ChartDef } from "./common.js";

/** Link utilization: bytes moved per link kind (NVLink, PCIe, InfiniBand, ...). */
export const links: ChartDef = {
  id: "links",
  title: "Link utilization",
  build(input) {
    if (input.kind !== "run") return null;
    const byKind = new Map<string, { bytes: number; links: number }>();
    if (input.links.length) {
      for (const l of input.links) {
        const k = byKind.get(l.kind) ?? { bytes: 0, links: 0 };
        k.bytes += l.bytes;
        k.links += 1;
        byKind.set(l.kind, k);
      }
    } else {
      for (const [kind, bytes] of Object.entries(input.summary.links_bytes)) byKind.set(kind, { bytes, links: 0 });
    }
    if (byKind.size === 0) return null;
    const max = Math.max(...[...byKind.values()].map((v) => v.bytes));
    const unit = byteUnit(max);
    const secs = input.summary.simulated_s;
    const values = [...byKind.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, v]) => ({
        kind,
        amount: round4(v.bytes / unit.div),
        links: v.links,
        gb_per_s: secs > 0 ? round4(v.bytes / secs / 1e9) : 0,
      }));
    return {
      $schema: SCHEMA,
      title: "Link utilization (bytes moved per link kind)",
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values },
      mark: { type: "bar" },
      encoding: {
        x: { field: "kind", type: "nominal", title: "link kind", axis: { labelAngle: 0 } },
        y: { field: "amount", type: "quantitative", title: `bytes moved (${unit.name})` },
        color: { field: "kind", type: "nominal", legend: null },
        tooltip: [
          { field: "kind" },
          { field: "amount", title: unit.name },
          { field: "links" },
          { field: "gb_per_s", title: "GB/s mean" },
        ],
      },
    };
  },
};
