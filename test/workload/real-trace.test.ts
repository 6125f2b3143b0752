import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBinaryTrace, readBinaryTrace, readTrace } from "../../src/workload/read.js";
import { traceStats } from "../../src/workload/stats.js";
import type { RoutingTrace } from "../../src/workload/trace.js";
import { haveReal, REAL_TRACE } from "./shared.js";

// Reads the real OLMoE trace once for the whole file (a few seconds).
describe.skipIf(!haveReal)("real OLMoE trace (../shared/traces)", () => {
  let trace: RoutingTrace;
  beforeAll(async () => {
    trace = await readTrace(REAL_TRACE);
  });

  it("reads in full: 51,112 tokens, 16 layers, 64 experts, top-8, 400 requests", () => {
    expect(trace.tokens).toBe(51_112);
    expect(trace.layers).toBe(16);
    expect(trace.experts).toBe(64);
    expect(trace.topK).toBe(8);
    expect(trace.picks.length).toBe(51_112 * 16 * 8);
    expect(new Set(trace.seq).size).toBe(400);
    expect(trace.meta.expertBytes).toBe(12_582_912);
    expect(trace.meta.model).toBe("allenai/OLMoE-1B-7B-0924");
  });

  it("per-layer expert counts agree with a naive JSON.parse of the whole decompressed file", () => {
    const lines = gunzipSync(readFileSync(REAL_TRACE))
      .toString("utf8")
      .split("\n")
      .filter((l) => l.length > 0);
    const header = JSON.parse(lines[0]);
    const naive: number[][] = Array.from({ length: header.layers }, () => new Array(header.experts).fill(0));
    let tokens = 0;
    for (const l of lines.slice(1)) {
      const rec = JSON.parse(l) as { experts: number[][] };
      tokens++;
      rec.experts.forEach((row, layer) => row.forEach((e) => naive[layer][e]++));
    }
    expect(tokens).toBe(trace.tokens);
    expect(traceStats(trace, { correlations: false }).perLayerLoad).toEqual(naive);
    // Each layer's counts sum to tokens * top-k.
    for (const row of naive) expect(row.reduce((a, b) => a + b, 0)).toBe(51_112 * 8);
  });

  it("round-trips through the binary form bit for bit", () => {
    const back = readBinaryTrace(encodeBinaryTrace(trace));
    expect(back.tokens).toBe(trace.tokens);
    expect(
      Buffer.compare(
        Buffer.from(back.picks.buffer, back.picks.byteOffset, back.picks.byteLength),
        Buffer.from(trace.picks.buffer, trace.picks.byteOffset, trace.picks.byteLength),
      ),
    ).toBe(0);
    expect(Array.from(back.seq)).toEqual(Array.from(trace.seq));
    expect(Array.from(back.step)).toEqual(Array.from(trace.step));
    expect(back.meta.domains).toEqual(JSON.parse(JSON.stringify(trace.meta.domains)));
  });

  it("steps count 0.. within each request", () => {
    const next = new Map<number, number>();
    let bad = 0;
    for (let t = 0; t < trace.tokens; t++) {
      const want = next.get(trace.seq[t]) ?? 0;
      if (trace.step[t] !== want) bad++;
      next.set(trace.seq[t], want + 1);
    }
    expect(bad).toBe(0);
  });

  it("maxTokens keeps only the first tokens", async () => {
    const head = await readTrace(REAL_TRACE, { maxTokens: 100 });
    expect(head.tokens).toBe(100);
    expect(Array.from(head.picks)).toEqual(Array.from(trace.picks.subarray(0, 100 * 16 * 8)));
  });
});
