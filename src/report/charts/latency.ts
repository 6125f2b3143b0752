import { CONFIG, HEIGHT, SCHEMA, WIDTH, paramLabel, phasesOf, round4, type ChartDef } from "./common.js";

/** At most this many bars; longer runs are averaged over groups of consecutive steps. */
const MAX_BARS = 120;

/**
 * Latency breakdown as stacked bars: per step (a run: time of each phase in the step) or per
 * sweep point (mean step time split by phase). Phases follow the simulator's PHASES order.
 */
export const latency: ChartDef = {
  id: "latency",
  title: "Latency breakdown",
  build(input) {
    const values: { bar: string | number; order: number; phase: string; ms: number }[] = [];
    let xTitle: string;
    let nominal = false;
    let PHASES: string[];
    if (input.kind === "run") {
      const steps = input.steps;
      if (steps.length === 0) return null;
      const skip = new Set(["start_ns", "end_ns", "latency_ns"]);
      PHASES = phasesOf(
        Object.keys(steps[0])
          .filter((k) => k.endsWith("_ns") && !skip.has(k))
          .map((k) => k.slice(0, -3)),
      );
      const group = Math.ceil(steps.length / MAX_BARS);
      for (let g = 0; g * group < steps.length; g++) {
        const chunk = steps.slice(g * group, (g + 1) * group);
        PHASES.forEach((ph, order) => {
          const mean = chunk.reduce((a, s) => a + (s[`${ph}_ns`] ?? 0), 0) / chunk.length / 1e6;
          values.push({ bar: chunk[0].step, order, phase: ph, ms: round4(mean) });
        });
      }
      xTitle = group > 1 ? `step (mean over ${group} steps)` : "step";
    } else if (input.kind === "sweep") {
      const s = input.sweep;
      const pts = s.points.filter((p) => !p.summary.oom && p.summary.steps > 0);
      if (pts.length === 0) return null;
      PHASES = phasesOf(pts.flatMap((p) => Object.keys(p.summary.phase_breakdown_ms)));
      for (const p of pts) {
        PHASES.forEach((ph, order) => {
          values.push({
            bar: paramLabel(p.params, s.param_keys),
            order,
            phase: ph,
            ms: round4((p.summary.phase_breakdown_ms[ph] ?? 0) / p.summary.steps),
          });
        });
      }
      xTitle = s.param_keys.join(", ");
      nominal = true;
    } else {
      return null;
    }
    return {
      $schema: SCHEMA,
      title: "Latency breakdown per step",
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values },
      mark: { type: "bar" },
      encoding: {
        x: nominal
          ? { field: "bar", type: "nominal", title: xTitle, sort: null, axis: { labelAngle: -40 } }
          : { field: "bar", type: "ordinal", title: xTitle, axis: { labelOverlap: true, labelAngle: 0 } },
        y: { field: "ms", type: "quantitative", title: "time per step (ms)", stack: "zero" },
        color: { field: "phase", type: "nominal", title: "phase", sort: [...PHASES], scale: { domain: [...PHASES] } },
        order: { field: "order", type: "quantitative" },
        tooltip: [{ field: "bar", title: "step" }, { field: "phase" }, { field: "ms", title: "ms" }],
      },
    };
  },
};
