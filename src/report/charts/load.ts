import { CONFIG, HEIGHT, SCHEMA, WIDTH, round4, type ChartDef } from "./common.js";

/** Tokens routed to each GPU over the run, with the even share as a rule. */
export const load: ChartDef = {
  id: "load",
  title: "Per-GPU load",
  build(input) {
    if (input.kind !== "run") return null;
    const tokens = input.summary.load.gpu_tokens;
    if (!tokens.length) return null;
    const total = tokens.reduce((a, b) => a + b, 0);
    const values = tokens.map((t, g) => ({
      gpu: `gpu${g}`,
      order: g,
      tokens: t,
      share: total ? round4(t / total) : 0,
    }));
    const even = total / tokens.length;
    return {
      $schema: SCHEMA,
      title:
        `Per-GPU load (max share ${(input.summary.load.max_gpu_share_mean * 100).toFixed(1)}% ` +
        `per step on average)`,
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      layer: [
        {
          data: { values },
          mark: { type: "bar" },
          encoding: {
            x: { field: "gpu", type: "nominal", title: "GPU", sort: { field: "order" } },
            y: { field: "tokens", type: "quantitative", title: "token-expert assignments" },
            tooltip: [{ field: "gpu" }, { field: "tokens" }, { field: "share", format: ".1%" }],
          },
        },
        {
          data: { values: [{ even: round4(even) }] },
          mark: { type: "rule", strokeDash: [6, 4], color: "#333" },
          encoding: { y: { field: "even", type: "quantitative" } },
        },
      ],
    };
  },
};
