/**
 * The precision of a dispatch and of its combine on the wire, and the bytes of one token row it
 * gives: every dispatch/combine algorithm moves rows of this size (docs/hardware.md, "Dispatch and
 * combine precision"). FP8 rows are cast per token with one float32 scale per 128 channels, as
 * DeepEP does (deepseek-ai/DeepEP, csrc/kernels/internode_ll.cu: kNumPerChannels 128, `kHidden +
 * num_scales * sizeof(float)`): hidden 7168 gives 7168 + 56 x 4 = 7392 bytes.
 */

/** Precisions a dispatch or combine may send its token rows in. */
export const WIRE_PRECISIONS = ["fp8", "bf16", "fp16", "fp32"] as const;
export type WirePrecision = (typeof WIRE_PRECISIONS)[number];

/** Channels that share one FP8 scale (DeepEP's kNumPerChannels). */
export const FP8_SCALE_CHANNELS = 128;
/** Bytes of one FP8 scale (float32). */
export const FP8_SCALE_BYTES = 4;

/** Bytes of one token row of `hidden` channels in precision p (FP8 with its per-128-channel scales). */
export function tokenRowBytes(hidden: number, p: WirePrecision): number {
  switch (p) {
    case "fp8":
      return hidden + Math.ceil(hidden / FP8_SCALE_CHANNELS) * FP8_SCALE_BYTES;
    case "bf16":
    case "fp16":
      return 2 * hidden;
    case "fp32":
      return 4 * hidden;
  }
}

/** A dispatch's and its combine's precision; either may be left out (then: `fallbackBytes` per channel). */
export interface ExchangePrecision {
  dispatch?: WirePrecision;
  combine?: WirePrecision;
}

/**
 * Bytes of one token row of the dispatch and of the combine. A side without a precision sends
 * `fallbackBytes` per channel and no scales (the model's activation dtype, the default).
 */
export function exchangeRowBytes(
  hidden: number,
  precision: ExchangePrecision | undefined,
  fallbackBytes: number,
): { dispatch: number; combine: number } {
  const side = (p: WirePrecision | undefined): number =>
    p === undefined ? hidden * fallbackBytes : tokenRowBytes(hidden, p);
  return { dispatch: side(precision?.dispatch), combine: side(precision?.combine) };
}
