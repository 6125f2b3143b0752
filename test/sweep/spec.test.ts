import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseShard, parseSweep, pointText, setPath, shardPoints, stableHash } from "../../src/sweep/index.js";
import { loadSweepFile } from "../../src/sweep/spec.js";
import { pointError } from "../../src/sweep/run.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/util/errors.js";
import { SMALL_SWEEP } from "./helpers.js";

describe("sweep files", () => {
  it("expands a grid as a cartesian product, last axis fastest, with stable keys", () => {
    const s = loadSweepFile(SMALL_SWEEP);
    expect(s.paramKeys).toEqual(["policies.gating.policy", "workload.batching.batch_size"]);
    expect(s.points.map((p) => [p.params["policies.gating.policy"], p.params["workload.batching.batch_size"]])).toEqual(
      [
        ["static", 4],
        ["static", 8],
        ["static", 16],
        ["dynamic", 4],
        ["dynamic", 8],
        ["dynamic", 16],
      ],
    );
    expect(new Set(s.points.map((p) => p.key)).size).toBe(6);
    // The key is the hash of the parameters alone: key order in the file does not change it.
    expect(s.points[0].key).toBe(stableHash({ "workload.batching.batch_size": 4, "policies.gating.policy": "static" }));
    expect(loadSweepFile(SMALL_SWEEP).points.map((p) => p.key)).toEqual(s.points.map((p) => p.key));
  });

  it("crosses a points list with the grid, and puts constant overrides into the base hash", () => {
    const text = (steps: number) =>
      `base: { cluster: { preset: dgx-h100 }, model: { preset: olmoe-1b-7b } }\nset: { workload.max_steps: ${steps} }\npoints:\n  - { policies.placement.policy: greedy }\n  - { policies.placement.policy: contiguous }\ngrid:\n  workload.batching.batch_size: [1, 2]\n`;
    const s = parseSweep(text(3));
    expect(s.points).toHaveLength(4);
    expect(s.paramKeys).toEqual(["policies.placement.policy", "workload.batching.batch_size"]);
    expect((s.base.workload as { max_steps: number }).max_steps).toBe(3);
    expect(parseSweep(text(4)).baseHash).not.toBe(s.baseHash);
    expect(parseSweep(text(4)).points.map((p) => p.key)).toEqual(s.points.map((p) => p.key));
  });

  it("applies overrides at key paths, deep-merging mappings, and validates each point like a scenario", () => {
    const base = { a: { b: { c: 1, d: 2 } }, l: [1, 2] };
    expect(setPath(base, "a.b.c", 5)).toEqual({ a: { b: { c: 5, d: 2 } }, l: [1, 2] });
    expect(setPath(base, "a.b", { e: 3 })).toEqual({ a: { b: { c: 1, d: 2, e: 3 } }, l: [1, 2] });
    expect(setPath(base, "x.y", true)).toEqual({ ...base, x: { y: true } });
    expect(setPath(base, "l.1", 9)).toEqual({ a: base.a, l: [1, 9] });
    expect(base.a.b.c).toBe(1); // the base is not changed
    expect(() => setPath(base, "a.b.c.d", 1)).toThrow(/a\.b\.c is 1, not a mapping/);
    const s = parseSweep(
      `base: { cluster: { preset: dgx-h100 }, model: { preset: olmoe-1b-7b }, workload: { batching: { kind: static, batch_size: 2 } } }\ngrid:\n  workload.batching.batch_size: [8, -1]\n`,
      "s.yaml",
    );
    expect(() => pointText(s, s.points[0])).not.toThrow();
    expect(() => pointText(s, s.points[1])).toThrow(
      /^s\.yaml:3:37: point 1 \(workload\.batching\.batch_size=-1\): workload\.batching\.batch_size: too small: expected >0, got -1$/,
    );
    const typo = parseSweep(
      `base: { cluster: { preset: dgx-h100 }, model: { preset: olmoe-1b-7b } }\ngrid:\n  policies.gating.polcy: [static]\n`,
      "t.yaml",
    );
    // An unknown key in a point names the valid keys there, and the grid line that set it.
    expect(() => pointText(typo, typo.points[0])).toThrow(
      /^t\.yaml:3:27: point 0 \(policies\.gating\.polcy=static\): policies\.gating\.polcy: unknown key 'polcy' \(valid: policy, .*\)$/,
    );
  });

  it("places a point's error at the override behind it: its value in the grid, or its entry in points", () => {
    const base = "base: { cluster: { preset: dgx-h100 }, model: { preset: olmoe-1b-7b } }\n";
    const g = parseSweep(
      `${base}grid:\n  workload.batching:\n    - { kind: static, batch_size: 2 }\n    - { kind: static, batch_size: 2, batch_sz: 2 }\n  seed: [1, 2]\n`,
      "g.yaml",
    );
    expect(() => pointText(g, g.points[1])).not.toThrow();
    expect(() => pointText(g, g.points[2])).toThrow(
      /^g\.yaml:5:7: point 2 \(workload\.batching=\{.*\}, seed=1\): workload\.batching\.batch_sz: unknown key 'batch_sz' \(valid: kind, batch_size\)$/,
    );
    const p = parseSweep(`${base}points:\n  - { seed: 4 }\n  - { polices.gating.policy: static }\n`, "p.yaml");
    expect(() => pointText(p, p.points[1])).toThrow(
      /^p\.yaml:4:30: point 1 .*polices: unknown key 'polices' \(valid: name, .*cluster, .*\)$/,
    );
    // A constant override (set) is placed at its entry; an error in the base itself names the sweep file.
    const st = parseSweep(`${base}set:\n  policies.gating: { policy: static, x: 1 }\ngrid: { seed: [1] }\n`, "s.yaml");
    expect(() => pointText(st, st.points[0])).toThrow(
      /^s\.yaml:3:20: point 0 \(seed=1\): policies\.gating\.x: unknown key 'x'/,
    );
    const b = parseSweep(
      `base: { cluster: { preset: dgx-h100, nodez: 1 }, model: { preset: olmoe-1b-7b } }\ngrid: { seed: [1] }\n`,
      "b.yaml",
    );
    expect(() => pointText(b, b.points[0])).toThrow(
      /^b\.yaml: point 0 \(seed=1\): cluster\.nodez: unknown key 'nodez'/,
    );
  });

  it("reports sweep-file mistakes with file:line:col and the key path", () => {
    expect(() => parseSweep(`base: b.yaml\ngrid:\n  policies.gating.policy: []\n`, "s.yaml")).toThrow(
      /^s\.yaml:3:\d+: grid\.policies\.gating\.policy: a grid axis needs at least one value/,
    );
    expect(() => parseSweep(`base: b.yaml\ngird: {}\n`, "s.yaml")).toThrow(
      /^s\.yaml:2:\d+: gird: unknown key 'gird' \(valid: name, description, base, set, grid, points, out\)$/,
    );
    // A value that is no YAML scalar, list or mapping: the key path with its index, not "grid.seed.0: Invalid input".
    expect(() => parseSweep(`base: b.yaml\ngrid:\n  seed: [1, .nan]\n`, "s.yaml")).toThrow(
      /^s\.yaml:3:13: grid\.seed\[1\]: expected a string, number, boolean, null, list or mapping \(numbers must be finite\), got NaN$/,
    );
    expect(() => parseSweep(`base: b.yaml\nset:\n  seed: .inf\ngrid: { x: [1] }\n`, "s.yaml")).toThrow(
      /^s\.yaml:3:9: set\.seed: expected .*got infinity$/,
    );
    expect(() => parseSweep(`base: x.yaml\n`, "s.yaml")).toThrow(/needs 'grid'.*or 'points'/);
    expect(() => parseSweep(`grid: { seed: [1] }\n`, "s.yaml")).toThrow(
      /^s\.yaml:1:1: base: missing required key \(a scenario file path, or an inline scenario mapping\)/,
    );
    expect(() => parseSweep(`base: 3\ngrid: { seed: [1] }\n`, "s.yaml")).toThrow(
      /^s\.yaml:1:7: base: expected a scenario file path/,
    );
    expect(() => parseSweep(`base: missing.yaml\ngrid: { seed: [1] }\n`, "s.yaml")).toThrow(
      /s\.yaml:1:7: base: cannot read scenario missing\.yaml \(ENOENT\)/,
    );
    expect(() =>
      parseSweep(
        `base: { cluster: { preset: dgx-h100 }, model: { preset: olmoe-1b-7b } }\npoints: [{ seed: 1 }, { seed: 1 }]\n`,
        "s.yaml",
      ),
    ).toThrow(/repeats point 0/);
  });

  it("refuses hostile YAML (alias bombs, deep nesting) in a sweep file and in its base as one user error", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(", ")}]`,
      );
    const laughs = bomb.join("\n") + "\n";
    expect(() => parseSweep(`${laughs}base: b.yaml\ngrid: { seed: [1] }\n`, "s.yaml")).toThrow(UserError);
    expect(() => parseSweep(`${laughs}base: b.yaml\ngrid: { seed: [1] }\n`, "s.yaml")).toThrow(
      /^s\.yaml: invalid YAML: .*alias/i,
    );
    expect(() => parseSweep(`base: b.yaml\ngrid: { seed: [1] }\nx: ${"[".repeat(300)}\n`, "s.yaml")).toThrow(
      /^s\.yaml:3:\d+: invalid YAML: .*nested too deeply/,
    );
    const dir = mkdtempSync(join(tmpdir(), "moesim-sweep-"));
    try {
      writeFileSync(join(dir, "b.yaml"), laughs);
      expect(() => parseSweep(`base: b.yaml\ngrid: { seed: [1] }\n`, join(dir, "s.yaml"))).toThrow(
        /s\.yaml:1:7: base: .*b\.yaml: invalid YAML: .*alias/i,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses __proto__, constructor and prototype as key path segments, and leaves Object.prototype alone", () => {
    const base = "base: { cluster: { preset: dgx-h100 }, model: { preset: olmoe-1b-7b } }\n";
    expect(() => parseSweep(`${base}grid:\n  __proto__.polluted: [1]\n`, "s.yaml")).toThrow(
      /^s\.yaml:3:\d+: grid\.__proto__\.polluted: '__proto__' in key path/,
    );
    expect(() => parseSweep(`${base}set:\n  model.constructor.x: 1\ngrid: { seed: [1] }\n`, "s.yaml")).toThrow(
      /^s\.yaml:3:\d+: set\.model\.constructor\.x: 'constructor'/,
    );
    expect(() => parseSweep(`${base}points:\n  - { a.prototype: 1 }\n`, "s.yaml")).toThrow(
      /^s\.yaml:3:\d+: points\[0\]\.a\.prototype: 'prototype'/,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    for (const path of ["__proto__.polluted", "a.constructor.prototype.polluted", "prototype"]) {
      expect(() => setPath({ a: {} }, path, 1)).toThrow(UserError);
    }
    expect(() =>
      setPath({}, "a", JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, number>),
    ).not.toThrow();
    expect(() =>
      setPath({ a: {} }, "a", JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, number>),
    ).toThrow(UserError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("shards are disjoint and together cover every point, whatever n", () => {
    const s = loadSweepFile(SMALL_SWEEP);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), (n) => {
        const seen = new Map<string, number>();
        for (let i = 0; i < n; i++)
          for (const p of shardPoints(s.points, { index: i, count: n })) seen.set(p.key, (seen.get(p.key) ?? 0) + 1);
        return seen.size === s.points.length && [...seen.values()].every((c) => c === 1);
      }),
    );
    expect(parseShard("1/4")).toEqual({ index: 1, count: 4 });
    expect(() => parseShard("4/4")).toThrow(/0 <= i < n/);
    expect(() => parseShard("a/b")).toThrow(/expected i\/n/);
  });
});

describe("errors a worker raised for a point (pointError)", () => {
  const s = parseSweep(
    `base: { cluster: { preset: dgx-h100 }, model: { preset: olmoe-1b-7b } }\n` +
      `set: { seed: 3 }\ngrid:\n  trace.file: [a.mtrace, b.mtrace]\n`,
    "s.yaml",
  );
  const reply = (message: string, path?: (string | number)[]) =>
    ({ type: "error", index: 1, key: s.points[1].key, user: true, message, ...(path ? { path } : {}) }) as const;

  it("is placed at the sweep line behind its key path, naming the point; the key path is added where missing", () => {
    const base = `${s.baseFile}: trace.file: no such file /x/b.mtrace`;
    const e = pointError(s, s.points[1], reply(base, ["trace", "file"]));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe("s.yaml:4:26: point 1 (trace.file=b.mtrace): trace.file: no such file /x/b.mtrace");
    expect(pointError(s, s.points[1], reply("no tokens", ["trace"])).message).toMatch(
      /^s\.yaml:4:26: point 1 \(trace\.file=b\.mtrace\): trace: no tokens$/,
    );
    // A section-level message keeps its own prefix; a key set by `set:` is placed there.
    expect(pointError(s, s.points[1], reply("seed: bad", ["seed"])).message).toBe(
      "s.yaml:2:14: point 1 (trace.file=b.mtrace): seed: bad",
    );
    // No key path (or one no override covers): the sweep file alone.
    expect(pointError(s, s.points[1], reply("boom")).message).toBe("s.yaml: point 1 (trace.file=b.mtrace): boom");
    expect(pointError(s, s.points[1], reply("model: x", ["model", "preset"])).message).toBe(
      "s.yaml: point 1 (trace.file=b.mtrace): model: x",
    );
  });

  it("an internal error keeps its stack and is no user error", () => {
    const e = pointError(s, s.points[0], { ...reply("bug"), user: false, stack: "at x" });
    expect(e).not.toBeInstanceOf(UserError);
    expect(e.stack).toBe("at x");
  });
});
