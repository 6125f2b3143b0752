/**
 * How a model's weights are stored as deployed, per tensor kind (ModelSpec.weights), and what that
 * costs: bytes per parameter (HBM capacity and the bytes a matmul reads) and the precision the
 * matmul computes in. Sources and the modelled rates: docs/deployments.md, "Weight precision".
 */

/** Weight/activation data type; bytes per parameter follow from it (ModelSpec.dtype). */
export type DType = "fp32" | "fp16" | "bf16" | "fp8";

/**
 * A weight storage format. "fp8": E4M3 with one float32 scale per 128 x 128 block (DeepSeek-V3's
 * quantization_config: fmt e4m3, weight_block_size [128, 128]; README_WEIGHTS.md). "mxfp4": OCP
 * microscaling FP4 (E2M1), one E8M0 scale per 32 values: 4.25 bits per parameter (gpt-oss's experts).
 */
export type WeightFormat = DType | "mxfp4";

/** Bytes per element of a plain (unscaled) data type. */
export function bytesPerParam(dtype: DType): number {
  switch (dtype) {
    case "fp32":
      return 4;
    case "fp16":
    case "bf16":
      return 2;
    case "fp8":
      return 1;
  }
}
export const WEIGHT_FORMATS: readonly WeightFormat[] = ["fp32", "fp16", "bf16", "fp8", "mxfp4"];

/** Values per FP8 scale block (128 x 128; one float32 scale each). */
export const FP8_BLOCK_VALUES = 128 * 128;
/** Values per MXFP4 block (one 8-bit E8M0 scale each). */
export const MXFP4_BLOCK_VALUES = 32;

/** Bytes per stored parameter, scales included (whole blocks: a padded edge block is not counted). */
export function weightBytesPerParam(f: WeightFormat): number {
  switch (f) {
    case "fp8":
      return bytesPerParam("fp8") + 4 / FP8_BLOCK_VALUES;
    case "mxfp4":
      return (4 + 8 / MXFP4_BLOCK_VALUES) / 8;
    default:
      return bytesPerParam(f);
  }
}

/**
 * The precision a matmul over weights of format f computes in, with activations of `activation`:
 * FP8 weights run FP8 GEMMs (activations cast per token and 128 channels, as DeepSeek-V3 does) at
 * the GPU's FP8 rate; MXFP4 weights are dequantised to the activation dtype and run at its rate
 * (Hopper has no FP4 tensor cores; Blackwell's FP4 rate is not credited); the others as stored.
 */
export function matmulDtype(f: WeightFormat, activation: DType): DType {
  return f === "mxfp4" ? activation : f;
}
