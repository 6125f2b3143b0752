import { describe, expect, it } from "vitest";
import { progress, progressActive } from "../../src/util/progress.js";

function sink(isTTY: boolean): { write(s: string): boolean; isTTY: boolean; text: string } {
  return {
    isTTY,
    text: "",
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

describe("progress on stderr (issue 16)", () => {
  it("is silent with --quiet, when stderr is not a terminal, and in CI", () => {
    expect(progressActive({ stream: sink(true), env: {} })).toBe(true);
    expect(progressActive({ stream: sink(true), env: {}, quiet: true })).toBe(false);
    expect(progressActive({ stream: sink(false), env: {} })).toBe(false);
    expect(progressActive({ stream: sink(true), env: { CI: "true" } })).toBe(false);
    expect(progressActive({ stream: sink(true), env: { CI: "false" } })).toBe(true);
    for (const o of [
      { quiet: true, tty: true, env: {} },
      { quiet: false, tty: false, env: {} },
      { quiet: false, tty: true, env: { CI: "1" } },
    ]) {
      const s = sink(o.tty);
      let t = 0;
      const p = progress("moesim run", { stream: s, env: o.env, quiet: o.quiet, now: () => (t += 5000) });
      p.stage("simulating");
      p.tick(1, 10);
      p.done();
      expect(s.text).toBe("");
    }
  });

  it("on a terminal: a line per stage, at most one count line per interval with an ETA, and the elapsed time at the end", () => {
    const s = sink(true);
    let t = 0;
    const p = progress("moesim run", { stream: s, env: {}, now: () => t, intervalMs: 2000 });
    p.stage("simulating 10 steps");
    t = 500;
    p.tick(1, 10); // too soon after the stage line
    t = 2500;
    p.tick(5, 10);
    t = 3000;
    p.tick(6, 10); // too soon after the last line
    t = 4600;
    p.tick(8, 10);
    p.done();
    expect(s.text.split("\n").filter(Boolean)).toEqual([
      "moesim run: simulating 10 steps",
      "moesim run: simulating 10 steps: 5/10 (50%), 2.5 s eta 2.5 s",
      "moesim run: simulating 10 steps: 8/10 (80%), 4.6 s eta 1.1 s",
      "moesim run: done in 4.6 s",
    ]);
  });
});
