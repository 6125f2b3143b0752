import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/util/errors.js";
import { encodeBinaryTrace, readBinaryTrace, readTrace, writeBinaryTrace } from "../../src/workload/read.js";
import type { RoutingTrace } from "../../src/workload/trace.js";

const dir = mkdtempSync(join(tmpdir(), "moesim-trace-"));
let n = 0;
function file(content: string | Buffer, ext = ".jsonl"): string {
  const p = join(dir, `t${n++}${ext}`);
  writeFileSync(p, content);
  return p;
}

const HEADER = JSON.stringify({
  format: "moe-routing-trace/v1",
  model: "m",
  layers: 2,
  experts: 4,
  top_k: 2,
  expert_bytes: 100,
});
const tok = (seq: number, step: number, experts: unknown) =>
  JSON.stringify({ seq, domain: "math", prompt_len: 3, step, token: 1, experts });

async function userError(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("OLMoE JSONL reader", () => {
  const good =
    [
      HEADER,
      tok(0, 0, [
        [0, 1],
        [2, 3],
      ]),
      tok(0, 1, [
        [1, 0],
        [3, 2],
      ]),
      tok(1, 0, [
        [3, 2],
        [0, 1],
      ]),
    ].join("\n") + "\n";
  it("reads plain and gzip the same", async () => {
    const a = await readTrace(file(good));
    const b = await readTrace(file(gzipSync(good), ".jsonl.gz"));
    expect(a.tokens).toBe(3);
    expect(Array.from(a.picks)).toEqual([0, 1, 2, 3, 1, 0, 3, 2, 3, 2, 0, 1]);
    expect(Array.from(b.picks)).toEqual(Array.from(a.picks));
    expect(Array.from(a.seq)).toEqual([0, 0, 1]);
    expect(a.meta.expertBytes).toBe(100);
    expect(a.meta.domains).toEqual({ 0: "math", 1: "math" });
  });
  it("truncated gzip: one UserError with file:line", async () => {
    const gz = gzipSync(good);
    const p = file(gz.subarray(0, gz.length - 12), ".jsonl.gz");
    expect(await userError(readTrace(p))).toMatch(new RegExp(`${p}:\\d+: truncated or corrupt gzip`));
  });
  it("wrong top-k names the line and the expected k", async () => {
    const p = file(
      [
        HEADER,
        tok(0, 0, [
          [0, 1],
          [2, 3],
        ]),
        tok(0, 1, [
          [0, 1, 2],
          [2, 3],
        ]),
      ].join("\n"),
    );
    expect(await userError(readTrace(p))).toBe(`${p}:3: experts[0] has 3 picks; expected top-2`);
  });
  it("expert id out of range", async () => {
    const p = file(
      [
        HEADER,
        tok(0, 0, [
          [0, 4],
          [2, 3],
        ]),
      ].join("\n"),
    );
    expect(await userError(readTrace(p))).toBe(
      `${p}:2: experts[0][1] = 4 is out of range; expected an expert id in 0..3`,
    );
  });
  it("missing layer", async () => {
    const p = file([HEADER, tok(0, 0, [[0, 1]])].join("\n"));
    expect(await userError(readTrace(p))).toMatch(
      /:2: 1 of 1 tokens have no record for some MoE layer \(line 2: request 0 has 1 of 2 layers\).*--incomplete drop/,
    );
  });
  it("incomplete: drop leaves a token missing a layer out and reports it", async () => {
    const p = file(
      [
        HEADER,
        tok(0, 0, [[0, 1]]),
        tok(0, 1, [
          [0, 1],
          [2, 3],
        ]),
      ].join("\n"),
    );
    const t = await readTrace(p, { incomplete: "drop" });
    expect(t.tokens).toBe(1);
    expect(t.meta.incomplete).toEqual({
      policy: "drop",
      dropped_tokens: 1,
      dropped_records: 1,
      first: ["line 2: request 0 has 1 of 2 layers"],
    });
  });
  it("bad JSON", async () => {
    const p = file(
      [
        HEADER,
        tok(0, 0, [
          [0, 1],
          [2, 3],
        ]),
        '{"seq": 0, ',
      ].join("\n"),
    );
    expect(await userError(readTrace(p))).toMatch(new RegExp(`^${p}:3: bad JSON`));
  });
  it("repeated expert within a layer", async () => {
    const p = file(
      [
        HEADER,
        tok(0, 0, [
          [1, 1],
          [2, 3],
        ]),
      ].join("\n"),
    );
    expect(await userError(readTrace(p))).toMatch(/:2: experts\[0\] picks expert 1 twice/);
  });
  it("missing file is a UserError", async () => {
    expect(await userError(readTrace(join(dir, "nope.jsonl")))).toMatch(/no such file/);
  });
});

describe("per-(token, layer) records with a field mapping", () => {
  const recs = [
    { problem_id: 7, layer: 5, token_idx: 12, experts: [3, 7], gating_probs: [0.7, 0.3] },
    { problem_id: 7, layer: 1, token_idx: 12, experts: [0, 1], gating_probs: [0.6, 0.4] },
    { problem_id: 7, layer: 1, token_idx: 11, experts: [2, 1], gating_probs: [0.5, 0.5] },
    { problem_id: 7, layer: 5, token_idx: 11, experts: [4, 5], gating_probs: [0.9, 0.1] },
    { problem_id: 3, layer: 1, token_idx: 0, experts: [6, 7], gating_probs: [0.8, 0.2] },
    { problem_id: 3, layer: 5, token_idx: 0, experts: [0, 2], gating_probs: [0.5, 0.5] },
  ];
  const mapping = {
    seq: "problem_id",
    token: "token_idx",
    layer: "layer",
    experts: "experts",
    weights: "gating_probs",
  };
  it("assembles tokens by (request, position) with layers in ascending id order", async () => {
    const t = await readTrace(file(recs.map((r) => JSON.stringify(r)).join("\n")), { mapping, experts: 8 });
    expect(t.layers).toBe(2);
    expect(t.topK).toBe(2);
    expect(t.tokens).toBe(3);
    expect(Array.from(t.seq)).toEqual([7, 7, 3]);
    expect(Array.from(t.step)).toEqual([0, 1, 0]);
    expect(Array.from(t.picks)).toEqual([2, 1, 4, 5, 0, 1, 3, 7, 6, 7, 0, 2]);
    expect(Array.from(t.weights!)).toEqual(
      Array.from(new Float32Array([0.5, 0.5, 0.9, 0.1, 0.6, 0.4, 0.7, 0.3, 0.8, 0.2, 0.5, 0.5])),
    );
    expect(t.meta.layerIds).toEqual([1, 5]);
  });
  it("a token missing a layer is one error naming it", async () => {
    const p = file(
      recs
        .slice(0, 5)
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    expect(await userError(readTrace(p, { mapping }))).toMatch(
      /:5: 1 of 3 tokens have no record for some MoE layer \(request 3 token 0: no layer 5 \(line 5\)\)/,
    );
    const t = await readTrace(p, { mapping, incomplete: "drop" });
    expect(t.tokens).toBe(2);
    expect(t.meta.incomplete).toMatchObject({ policy: "drop", dropped_tokens: 1, dropped_records: 1 });
  });
  it("mixed top-k", async () => {
    const bad = [...recs, { problem_id: 3, layer: 9, token_idx: 0, experts: [1, 2, 3], gating_probs: [1, 0, 0] }];
    const p = file(bad.map((r) => JSON.stringify(r)).join("\n"));
    expect(await userError(readTrace(p, { mapping }))).toMatch(/:7: "experts" has 3 experts; expected top-2/);
  });
  it("without the mapping, names the missing field and how to map it", async () => {
    const p = file(recs.map((r) => JSON.stringify(r)).join("\n"));
    expect(await userError(readTrace(p))).toMatch(/:1: record has no field "seq".*--map/);
  });
  it("duplicate (token, layer)", async () => {
    const p = file([...recs, recs[0]].map((r) => JSON.stringify(r)).join("\n"));
    expect(await userError(readTrace(p, { mapping }))).toMatch(/:7: duplicate record for request 7 token 12 layer 5/);
  });
});

describe("CSV reader", () => {
  it("list column and numbered columns read the same", async () => {
    const a = await readTrace(
      file('seq,token,layer,experts\n0,0,0,"1 2"\n0,0,1,3;0\n0,1,0,"[2,1]"\n0,1,1,0 3\n', ".csv"),
    );
    const b = await readTrace(
      file("seq,token,layer,experts_0,experts_1\n0,0,0,1,2\n0,0,1,3,0\n0,1,0,2,1\n0,1,1,0,3\n", ".csv"),
    );
    expect(Array.from(a.picks)).toEqual([1, 2, 3, 0, 2, 1, 0, 3]);
    expect(Array.from(b.picks)).toEqual(Array.from(a.picks));
    expect(a.experts).toBe(4);
  });
  it("a short row names its line", async () => {
    const p = file("seq,token,layer,experts\n0,0,0,1 2\n0,0\n", ".csv");
    expect(await userError(readTrace(p))).toBe(`${p}:3: row has 2 fields; expected 4 as in the header`);
  });
});

describe("binary form", () => {
  const arb = fc
    .record({
      layers: fc.integer({ min: 1, max: 4 }),
      experts: fc.integer({ min: 2, max: 300 }),
      tokens: fc.integer({ min: 0, max: 30 }),
      weights: fc.boolean(),
    })
    .chain((s) => {
      const topK = Math.min(2, s.experts);
      const n = s.tokens * s.layers * topK;
      return fc.record({
        s: fc.constant({ ...s, topK }),
        picks: fc.array(fc.integer({ min: 0, max: s.experts - 1 }), { minLength: n, maxLength: n }),
        seq: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: s.tokens, maxLength: s.tokens }),
        // router weights are finite and >= 0 (others are refused, see test/fuzz/issue16-inputs.test.ts)
        w: fc.array(fc.float({ min: 0, max: Math.fround(1e6), noNaN: true }), { minLength: n, maxLength: n }),
      });
    });
  it("round-trips any trace (property)", () => {
    fc.assert(
      fc.property(arb, ({ s, picks, seq, w }) => {
        // distinct experts within each token's top-k (a repeat is refused, tested below)
        for (let i = 1; i < picks.length; i += 2) if (picks[i] === picks[i - 1]) picks[i] = (picks[i] + 1) % s.experts;
        const t: RoutingTrace = {
          layers: s.layers,
          experts: s.experts,
          topK: s.topK,
          tokens: s.tokens,
          picks: Uint16Array.from(picks),
          seq: Int32Array.from(seq),
          step: Int32Array.from(seq, (_, i) => i),
          meta: { model: "x", note: "ü" },
        };
        if (s.weights) t.weights = Float32Array.from(w);
        const back = readBinaryTrace(encodeBinaryTrace(t));
        expect(back).toEqual({ ...t, picks: t.picks, meta: t.meta });
      }),
      { numRuns: 60 },
    );
  });
  it("detects truncation and corruption; written atomically", async () => {
    const t: RoutingTrace = {
      layers: 1,
      experts: 4,
      topK: 2,
      tokens: 2,
      picks: Uint16Array.from([0, 1, 2, 3]),
      seq: Int32Array.from([0, 0]),
      step: Int32Array.from([0, 1]),
      meta: {},
    };
    const p = join(dir, "x.mtrace");
    writeBinaryTrace(p, t);
    const buf = readFileSync(p);
    expect((await readTrace(p)).tokens).toBe(2);
    expect(() => readBinaryTrace(buf.subarray(0, buf.length - 4))).toThrow(/truncated/);
    const bad = Buffer.from(buf);
    bad[bad.length - 1] ^= 1;
    expect(() => readBinaryTrace(bad)).toThrow(/checksum mismatch/);
    expect(() => readBinaryTrace(Buffer.from("not a trace at all, definitely not one"))).toThrow(
      /expected the magic "MOETRACE"/,
    );
  });
  it("refuses an expert picked twice in one token's top-k, and ids out of range, naming token and layer", () => {
    const t: RoutingTrace = {
      layers: 2,
      experts: 4,
      topK: 2,
      tokens: 2,
      picks: Uint16Array.from([0, 1, 2, 3, 1, 2, 3, 3]),
      seq: Int32Array.from([0, 0]),
      step: Int32Array.from([0, 1]),
      meta: {},
    };
    expect(() => readBinaryTrace(encodeBinaryTrace(t))).toThrow(
      new UserError("binary trace: token 1 layer 1 picks expert 3 twice; expected 2 distinct experts", "<buffer>"),
    );
    t.picks[7] = 4;
    expect(() => readBinaryTrace(encodeBinaryTrace(t))).toThrow(
      /token 1 layer 1 picks expert 4; expected an expert id in 0\.\.3/,
    );
    t.picks[7] = 0; // the same id in another token's row is fine
    expect(readBinaryTrace(encodeBinaryTrace(t)).picks[7]).toBe(0);
  });
});
