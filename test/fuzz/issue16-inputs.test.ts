/**
 * Issue 16, accepted bad data and unbounded work in the trace readers: each case by name, each
 * through `moesim trace info` in-process, ending in exit 2 with one stderr line naming the file
 * (and line where there is one), or in a documented success.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import { badOutcome } from "./helpers.js";
import { binaryTraceCrc, encodeBinaryTrace, readTrace } from "../../src/workload/read.js";
import { lineReaderCounters, readLines } from "../../src/workload/readers/lines.js";
import type { RoutingTrace } from "../../src/workload/trace.js";

const dir = mkdtempSync(join(tmpdir(), "moesim-issue16-"));
let n = 0;
const file = (name: string, bytes: string | Uint8Array): string => {
  const p = join(dir, `${n++}-${name}`);
  writeFileSync(p, bytes);
  return p;
};

async function expectOneLine(path: string, pattern: RegExp, extra: string[] = []): Promise<void> {
  const r = await runCli(["trace", "info", path, ...extra]);
  expect(badOutcome({ ...r, ms: 0 }), r.err).toBeNull();
  expect(r.err).toContain(path);
  expect(r.err).toMatch(pattern);
}

function small(): RoutingTrace {
  return {
    layers: 2,
    experts: 64,
    topK: 2,
    tokens: 3,
    picks: Uint16Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    seq: Int32Array.from([0, 0, 1]),
    step: Int32Array.from([0, 1, 0]),
    weights: Float32Array.from([0.6, 0.4, 0.5, 0.5, 0.7, 0.3, 0.6, 0.4, 0.5, 0.5, 0.9, 0.1]),
    meta: { model: "m" },
  };
}

/** A binary trace with a header field changed and the CRC left as written. */
function tampered(at: number, v: number): Buffer {
  const b = Buffer.from(encodeBinaryTrace(small()));
  b.writeUInt32LE(v, at);
  return b;
}

describe("issue 16: accepted bad data is refused", () => {
  it(".mtrace: the CRC covers the header (experts 64 -> 100 refused)", async () => {
    await expectOneLine(file("experts.mtrace", tampered(20, 100)), /checksum mismatch/);
  });
  it(".mtrace: negative and 2^31-1 seq/step are refused like the JSONL reader", async () => {
    for (const [field, v] of [
      ["seq", -1],
      ["seq", 2 ** 31 - 1],
      ["step", -5],
      ["step", 2 ** 31 - 1],
    ] as const) {
      const t = small();
      t[field][1] = v;
      await expectOneLine(file(`${field}.mtrace`, encodeBinaryTrace(t)), field === "seq" ? /request id/ : /has step/);
    }
  });
  it(".mtrace: negative router weights are refused", async () => {
    const t = small();
    t.weights![3] = -0.5;
    await expectOneLine(file("w.mtrace", encodeBinaryTrace(t)), /router weight -0.5/);
  });
  it(".mtrace: the message for a corrupt length field says what is wrong", async () => {
    const b = Buffer.from(encodeBinaryTrace(small()));
    b.writeDoubleLE(12345, 40);
    b.writeUInt32LE(binaryTraceCrc(b, 2), 36);
    await expectOneLine(file("len.mtrace", b), /header says the file is 12345 bytes; it is \d+/);
  });
  it(".mtrace version 1 is still read", async () => {
    const b = Buffer.from(encodeBinaryTrace(small()));
    b.writeUInt32LE(1, 8);
    b.writeUInt32LE(binaryTraceCrc(b, 1), 36);
    expect((await readTrace(file("v1.mtrace", b))).tokens).toBe(3);
  });
  it("CSV with gapped experts_0, experts_2 columns", async () => {
    await expectOneLine(
      file("gap.csv", "seq,token,layer,experts_0,experts_2\n0,0,0,1,2\n"),
      /:1: CSV column "experts_2" does not follow "experts_0"/,
    );
  });
  it("CSV with a duplicated seq column", async () => {
    await expectOneLine(
      file("dup.csv", "seq,token,layer,seq,experts\n0,0,0,0,1 2\n"),
      /:1: CSV header names column "seq" twice/,
    );
  });
  it("records and CSV: negative router weights", async () => {
    await expectOneLine(
      file("w.jsonl", '{"seq":0,"token":0,"layer":0,"experts":[1,2],"weights":[0.5,-0.1]}\n'),
      /:1: "weights"\[1\] = -0.1/,
    );
    await expectOneLine(
      file("w.csv", "seq,token,layer,experts,weights\n0,0,0,1 2,0.5 -1\n"),
      /:2: "weights"\[1\] = -1/,
    );
  });
  it("OLMoE header expert_bytes: -1", async () => {
    const h = JSON.stringify({ format: "moe-routing-trace/v1", layers: 1, experts: 4, top_k: 2, expert_bytes: -1 });
    await expectOneLine(
      file("eb.jsonl", `${h}\n{"seq":0,"experts":[[1,2]]}\n`),
      /:1: header field "expert_bytes" must be a positive number of bytes/,
    );
  });
  it("a .jsonl.gz that is not JSON says so (not 'CSV header has no column seq')", async () => {
    await expectOneLine(file("x.jsonl.gz", gzipSync("a,b,c\n1,2,3\n")), /:1: the first line is not a JSON object/);
  });
});

describe("issue 16: ragged routing data", () => {
  const lines = [0, 1, 2].flatMap((t) =>
    [0, 1]
      .filter((l) => !(t === 1 && l === 1))
      .map((l) => JSON.stringify({ seq: 0, token: t, layer: l, experts: [t, 3] })),
  );
  it("--incomplete error (default) names how many and the first", async () => {
    await expectOneLine(
      file("rag.jsonl", lines.join("\n") + "\n"),
      /1 of 3 tokens have no record for some MoE layer \(request 0 token 1: no layer 1/,
    );
  });
});

describe("issue 16: bounded work on huge lines", () => {
  it("a line just over the cap is one error naming the line", async () => {
    const p = file("long.jsonl", "\n\n" + "x".repeat(1000) + "\n");
    await expect(async () => {
      for await (const _ of readLines(p, { maxLineBytes: 999, chunkBytes: 64 })) void _;
    }).rejects.toThrow(/:3: line is longer than 999 bytes/);
  });
  it("a long line across many chunks is copied once (no quadratic re-copying)", async () => {
    const len = 200_000;
    const p = file("one.jsonl", "y".repeat(len) + "\nz\n");
    lineReaderCounters.copiedBytes = 0;
    const got: number[] = [];
    for await (const l of readLines(p, { chunkBytes: 1024 })) got.push(l.text.length);
    expect(got).toEqual([len, 1]);
    // 196 chunks: re-joining the partial line per chunk would copy ~100x the line.
    expect(lineReaderCounters.copiedBytes).toBeLessThanOrEqual(len);
  });
  it("blank lines are counted without being yielded, and line numbers stay right", async () => {
    const p = file("blank.jsonl", "\n".repeat(100_000) + "{}\n");
    const got = [];
    for await (const l of readLines(p, { chunkBytes: 4096 })) got.push(l);
    expect(got).toEqual([{ text: "{}", no: 100_001 }]);
  });
});

describe("issue 16: trace info", () => {
  it("expert ids up to 65535: correlations skipped with a note, the rest printed", async () => {
    const t = small();
    t.experts = 65536;
    t.picks[5] = 65535;
    const r = await runCli(["trace", "info", file("wide.mtrace", encodeBinaryTrace(t)), "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.notes[0]).toMatch(/MI skipped: 65536 experts per layer is more than 2048/);
    expect(doc.cross_layer_mi_bits).toBeNull();
    expect(Object.keys(doc.skew.mean)).toEqual(["max_over_mean", "gini", "cv", "zipf_s"]);
  });
  it("--incomplete drop: trace info prints what was dropped", async () => {
    const lines = [0, 1, 2].flatMap((t) =>
      [0, 1]
        .filter((l) => !(t === 1 && l === 1))
        .map((l) => JSON.stringify({ seq: 0, token: t, layer: l, experts: [t, 3] })),
    );
    const p = file("rag2.jsonl", lines.join("\n") + "\n");
    const r = await runCli(["trace", "info", p, "--incomplete", "drop"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dropped 1 incomplete tokens \(1 records\): request 0 token 1: no layer 1 \(line 3\)/);
    const empty = await runCli(["trace", "info", p, "--incomplete", "empty"]);
    expect(empty.code).toBe(0);
    expect(empty.out).toMatch(
      /filled 1 incomplete tokens with no experts at 1 \(token, layer\) pairs: request 0 token 1/,
    );
    const bad = await runCli(["trace", "info", p, "--incomplete", "fill"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe("moesim: error: --incomplete: expected error, drop or empty, got 'fill'\n");
  });
});
