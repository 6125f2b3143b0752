import { describe, expect, it } from "vitest";
import {
  Window,
  WINDOW_GPUS,
  WINDOW_LINK_SAMPLES,
  WINDOW_MAX_INTERVALS,
  WINDOW_STEPS,
  recordComm,
  recordDispatch,
  recordSpan,
  windowOpen,
} from "../../src/moe/window.js";

describe("the run's window (bounded whatever the run's size)", () => {
  it("records the first steps and GPUs only", () => {
    const w = new Window(72, 100, 10);
    expect(w.record.window_gpus).toBe(WINDOW_GPUS);
    expect(windowOpen(w, WINDOW_STEPS - 1)).toBe(true);
    expect(windowOpen(w, WINDOW_STEPS)).toBe(false);
    recordComm(w, 0, 0, 3, "dispatch", 10, 20);
    expect(w.record.timeline.length).toBe(WINDOW_GPUS);
    recordSpan(w, 0, WINDOW_GPUS, "compute", 0, 3, "experts", 0, 5); // past the window's GPUs
    recordSpan(w, 0, 0, "compute", 0, 3, "experts", 5, 5); // empty
    expect(w.record.timeline.length).toBe(WINDOW_GPUS);
    expect(new Window(4, 100, 10).record.window_gpus).toBe(4);
  });

  it("samples links every k-th collective so that about WINDOW_LINK_SAMPLES fit", () => {
    expect(new Window(8, 10, 10).record.sample_every).toBe(1);
    const links = 1000;
    const perStep = 61 * 3 * 2;
    const w = new Window(72, links, perStep);
    expect(w.record.sample_every).toBe(Math.ceil((links * perStep * WINDOW_STEPS) / WINDOW_LINK_SAMPLES));
    expect((links * perStep * WINDOW_STEPS) / w.record.sample_every).toBeLessThanOrEqual(WINDOW_LINK_SAMPLES);
  });

  it("stops at its cap on intervals and says so; keeps the first dispatch matrix only", () => {
    const w = new Window(16, 10, 10);
    for (let i = 0; i < WINDOW_MAX_INTERVALS / 16 + 10; i++) recordComm(w, 0, 0, 0, "dispatch", i, i + 1);
    expect(w.record.timeline.length).toBe(WINDOW_MAX_INTERVALS);
    expect(w.record.truncated).toBe(true);
    expect(windowOpen(w, 0)).toBe(false);
    recordDispatch(w, 0, 0, 2, () => Float64Array.from([0, 1, 2, 0]));
    recordDispatch(w, 1, 5, 2, () => Float64Array.from([0, 9, 9, 0]));
    expect(w.record.dispatch).toEqual({ step: 0, layer: 0, gpus: 2, bytes: [0, 1, 2, 0] });
  });
});
