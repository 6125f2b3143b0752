/**
 * The driver: the run's static memory, then the steps one after another, each its own process: the
 * scenario's static steps, or what the continuous batcher forms as requests arrive (the
 * simulation idles until the next arrival when no request is waiting).
 */
import type { ProcessGenerator } from "../sim/engine.js";
import { allocStaticMemory, OomStop } from "./memory.js";
import type { Run } from "./state.js";
import { runStep } from "./step.js";
import { overlapStep } from "./overlap.js";
import { Rebalancer, recordRebalance } from "./rebalance.js";

/** The run's rebalancer, when the scenario rebalances (policies.placement.rebalance_every). */
function rebalancerOf(run: Run): Rebalancer | null {
  const p = run.c.cfg.placement;
  if (!(p.rebalanceEvery && p.rebalanceEvery > 0) || run.c.placements.length === 0) return null;
  return new Rebalancer(run, p.rebalanceEvery, p.window ?? p.rebalanceEvery);
}

export function* driver(run: Run): ProcessGenerator<void> {
  const { c, t } = run;
  const rb = rebalancerOf(run);
  try {
    for (let g = 0; g < c.D; g++) {
      t.currentStep = -1;
      allocStaticMemory(c, g);
    }
    const maxSteps = c.cfg.maxSteps ?? Infinity;
    if (c.cfg.steps) {
      for (let s = 0; s < c.cfg.steps.length && s < maxSteps; s++) {
        t.currentStep = s;
        if (rb) yield* rb.beforeStep(s);
        yield c.sim.process((run.ov ? overlapStep : runStep)(run, s, c.cfg.steps[s]), "step");
        rb?.afterStep(c.cfg.steps[s]);
        if (t.oom) return;
      }
    } else if (c.cfg.continuous) {
      yield* continuousSteps(run, maxSteps, rb);
    }
  } catch (e) {
    if (e instanceof OomStop) {
      t.oom = { ...e.info, step: t.currentStep };
      return;
    }
    throw e;
  } finally {
    if (rb) recordRebalance(run, rb.finish());
  }
}

/** Continuous batching: a step of the batcher's next batch whenever it has one, else idle until the next arrival. */
function* continuousSteps(run: Run, maxSteps: number, rb: Rebalancer | null): ProcessGenerator<void> {
  const { c, t } = run;
  const b = c.cfg.continuous!.batcher();
  for (let s = 0; s < maxSteps; s++) {
    let toks = b.nextStep(c.sim.now);
    if (toks === null) break;
    while (toks.length === 0) {
      const next = b.nextArrivalNs();
      if (next === null) break;
      const wait = Math.max(0, next - c.sim.now);
      t.phaseTotals.idle += wait;
      yield wait;
      const t2 = b.nextStep(c.sim.now);
      if (t2 === null) break;
      toks = t2;
    }
    if (toks.length === 0) break;
    t.currentStep = s;
    if (rb) yield* rb.beforeStep(s);
    yield c.sim.process((run.ov ? overlapStep : runStep)(run, s, toks), "step");
    rb?.afterStep(toks);
    if (t.oom) return;
  }
  b.finish(c.sim.now);
  t.batcherStats = b.requestStats();
}
