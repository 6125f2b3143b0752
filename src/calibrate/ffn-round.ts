/**
 * One timed round entry for an expert FFN of `tokens` tokens on a bank of identical experts: each
 * round routes the tokens to the next expert of the bank (so successive rounds do not reuse one
 * expert's weights from cache) and dispatches it indirectly. Used by the shape-transfer validation
 * and by `calibrate --model`.
 */
import type { ExpertFfnBank } from "./kernels/ffn.js";
import { DEFAULT_TILE } from "./kernels/matmul.js";
import type { RoundEntry } from "./rounds.js";

/**
 * `args` holds the bank's indirect dispatch arguments (bankSize x 24 bytes); `shape` is the bank's
 * expert shape. Entries that share `cursor` take turns over the bank's experts together (so two
 * token counts timed one after the other run on different experts).
 */
export function ffnRoundEntry(
  dev: GPUDevice,
  bank: ExpertFfnBank,
  args: GPUBuffer,
  bankSize: number,
  shape: { dModel: number; dFf: number },
  tokens: number,
  key: string,
  cursor: { next: number } = { next: 0 },
): RoundEntry {
  const { tm, tn } = DEFAULT_TILE;
  let e = 0;
  return {
    key,
    setup: () => {
      e = cursor.next++ % bankSize;
      const route = new Uint32Array(bankSize * 2);
      const a = new Uint32Array(bankSize * 6);
      route.set([0, tokens], 2 * e);
      const rows = Math.ceil(tokens / tm);
      a.set([shape.dFf / tn, rows, 1, shape.dModel / tn, rows, 1], 6 * e);
      dev.queue.writeBuffer(bank.route, 0, route);
      dev.queue.writeBuffer(args, 0, a);
    },
    encode: (enc, tw) => {
      const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
      bank.encodeIndirect(p, e, args, e * 24);
      p.end();
    },
  };
}
