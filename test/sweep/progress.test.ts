import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { lineProgress, progressFor, quietProgress } from "../../src/sweep/index.js";

function sink(isTTY: boolean): Writable & { text: string; isTTY: boolean } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string; isTTY: boolean };
  w.text = "";
  w.isTTY = isTTY;
  return w;
}

describe("sweep progress", () => {
  it("prints one plain line per point with an ETA from the mean time so far when not a terminal", () => {
    const out = sink(false);
    let now = 0;
    const p = lineProgress(out, () => now);
    p.start(10, 2);
    now = 4000; // 2 points in 4 s -> 2 s per point, 6 left -> 12 s
    p.point(3, 10, "point 2 (a=1)", 2);
    p.point(4, 10, "point 3 (a=2)", 2);
    now = 130_000;
    p.point(9, 10, "point 8 (a=7)", 1);
    p.stop();
    expect(out.text.split("\n")).toEqual([
      "sweep: 10 points, 2 already done (skipped)",
      "[3/10] point 2 (a=1) 2.00s  eta 28s",
      "[4/10] point 3 (a=2) 2.00s  eta 12s",
      "[9/10] point 8 (a=7) 1.00s  eta 19s",
      "",
    ]);
  });

  it("picks a bar on a terminal, lines otherwise, and nothing with --quiet", () => {
    const tty = sink(true);
    const pipe = sink(false);
    expect(progressFor({ quiet: true }, tty as unknown as NodeJS.WriteStream)).toBe(quietProgress);
    const lines = progressFor({}, pipe as unknown as NodeJS.WriteStream);
    lines.start(1, 0);
    expect(pipe.text).toBe("sweep: 1 points\n");
    const bar = progressFor({}, tty as unknown as NodeJS.WriteStream);
    bar.start(4, 0);
    bar.point(2, 4, "point 1", 0.5);
    bar.stop();
    expect(tty.text).toMatch(/sweep \|.*\| 2\/4 points \| 50% \| ETA/);
  });
});
