// Reads the real OLMoE routing trace from gzip JSONL and from the binary .mtrace form; prints
// tokens/s for both and, as the last line, {"bench":"trace",...,"ratio": binary/jsonl}.
// Each form is read several times and the best time kept (the machine is shared).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readBinaryTrace, readTrace, writeBinaryTrace } from "../src/workload/read.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const real = resolve(root, "../shared/traces/olmoe-1b-7b-decode.jsonl.gz");
if (!existsSync(real)) {
  console.error(`bench/trace: ${real} is absent`);
  process.exit(2);
}

async function best<T>(n: number, f: () => Promise<T> | T): Promise<{ s: number; v: T }> {
  let bestS = Infinity;
  let v!: T;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    v = await f();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < bestS) bestS = s;
  }
  return { s: bestS, v };
}

const jsonl = await best(3, () => readTrace(real));
const trace = jsonl.v;
const dir = mkdtempSync(join(tmpdir(), "moesim-bench-"));
const bin = join(dir, "olmoe.mtrace");
writeBinaryTrace(bin, trace);
const binary = await best(7, () => readBinaryTrace(bin));
rmSync(dir, { recursive: true, force: true });
if (binary.v.tokens !== trace.tokens) throw new Error("binary read lost tokens");

const picks = trace.picks.length;
const jsonlTps = trace.tokens / jsonl.s;
const binTps = trace.tokens / binary.s;
console.log(`trace: ${trace.tokens} tokens, ${picks} expert picks`);
console.log(`gzip JSONL (streaming, validated): ${jsonl.s.toFixed(3)} s, ${Math.round(jsonlTps)} tokens/s (best of 3)`);
console.log(`binary .mtrace (read + CRC-32):   ${binary.s.toFixed(4)} s, ${Math.round(binTps)} tokens/s (best of 7)`);
console.log(
  `binary is ${(binTps / jsonlTps).toFixed(1)}x faster (goal >= 20x; binary read of ${picks} picks goal < 0.2 s)`,
);
console.log(
  JSON.stringify({
    bench: "trace",
    jsonl_tokens_per_s: Math.round(jsonlTps),
    binary_tokens_per_s: Math.round(binTps),
    jsonl_read_s: Number(jsonl.s.toFixed(4)),
    binary_read_s: Number(binary.s.toFixed(4)),
    picks,
    reference: "gzip-jsonl",
    ratio: Number((binTps / jsonlTps).toFixed(2)),
  }),
);
