import { z } from "zod";
import { LIMITS } from "./limits.js";
import { DISPATCH_ALGORITHMS, WIRE_PRECISIONS } from "../hardware/collectives/index.js";
import { TRACE_FORMATS, type TraceFormat } from "../workload/readers/options.js";

/**
 * The scenario schema. Policy, preset and model names are plain strings here and are checked
 * against their registries when the scenario is resolved (src/scenario/resolve.ts), so the error
 * lists the valid values of the registry as it is, not a copy that could go stale.
 */
const positiveInt = z.number().int().positive();
export { LIMITS } from "./limits.js";
const count = (max: number) => positiveInt.max(max);
const nonNegative = z.number().nonnegative();

const overrides = z.record(z.string(), z.unknown()).describe("Deep-merged over the preset's fields");

export const clusterSchema = z
  .object({
    preset: z.string().describe("Node preset, e.g. paper-v100, dgx-a100, dgx-h100, hgx-h200, consumer-pcie4"),
    nodes: count(LIMITS.nodes)
      .default(1)
      .describe(
        `Number of nodes (at most ${LIMITS.nodes}: memory grows with the square of the ` +
          `GPUs, ${LIMITS.gpus} GPUs take about 0.8 GB)`,
      ),
    gpus: count(LIMITS.gpus).optional().describe("Use only this many GPUs (default: all GPUs of all nodes)"),
    overrides: overrides.optional(),
    profile: z
      .string()
      .optional()
      .describe("Path to a calibrated cost-model profile (moesim calibrate); relative to the scenario file"),
    efficiency: z
      .object({ compute: z.number().gt(0).lte(1).optional(), memory: z.number().gt(0).lte(1).optional() })
      .strict()
      .optional()
      .describe("Roofline efficiencies of the preset cost model"),
    fabric: z
      .object({
        kind: z
          .enum(["fat-tree", "rail"])
          .default("fat-tree")
          .describe("fat-tree: one non-blocking fabric; rail: NIC i of every node on rail switch i (docs/hardware.md)"),
        cross_rail: z
          .enum(["spine", "pxn"])
          .optional()
          .describe(
            "Rail fabrics: traffic between rails goes through a spine (spine, the default) or over NVLink " +
              "to the GPU on the destination's rail first (pxn, as NCCL's PXN)",
          ),
        latency_ns: z
          .number()
          .nonnegative()
          .max(1e9)
          .optional()
          .describe("Extra one-way latency through the fabric's switches"),
        oversubscription: z
          .number()
          .min(1)
          .max(1000)
          .optional()
          .describe("NIC bandwidth over uplink bandwidth (1 = non-blocking)"),
      })
      .strict()
      .optional()
      .describe("The network between nodes (InfiniBand/RoCE)"),
    hierarchical_all_to_all: z
      .boolean()
      .default(false)
      .describe(
        "All-to-all in two stages across nodes: gather within the node over NVLink, then one " +
          "exchange per node pair over the NICs",
      ),
    dispatch: z
      .enum(DISPATCH_ALGORITHMS)
      .optional()
      .describe(
        "Dispatch/combine algorithm of the MoE layers (docs/hardware.md): nccl (flat per-pair " +
          "sends), hierarchical, deepep-normal (once per node over RDMA, then NVLink), " +
          "deepep-low-latency (per token and expert); default nccl, or hierarchical with " +
          "hierarchical_all_to_all",
      ),
    dispatch_precision: z
      .object({
        dispatch: z
          .enum(WIRE_PRECISIONS)
          .optional()
          .describe("Token rows of the dispatch: fp8 (with one float32 scale per 128 channels, as DeepEP), bf16, ..."),
        combine: z.enum(WIRE_PRECISIONS).optional().describe("Token rows of the combine (DeepEP: bf16)"),
      })
      .strict()
      .optional()
      .describe(
        "Precision of the MoE dispatch/combine on the wire (docs/hardware.md); a side left out " +
          "sends the model's dtype without scales",
      ),
    network_model: z
      .enum(["flow", "analytic"])
      .default("flow")
      .describe(
        "flow: flows share links max-min fairly as they start and end (default). analytic: " +
          "every link serves bytes at its capacity, first come first served, and a collective or " +
          "copy ends when the last link on its route is through; much faster on many nodes, within " +
          "~1% of flow on the tested scenarios",
      ),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.fabric?.cross_rail !== undefined && c.fabric.kind !== "rail") {
      ctx.addIssue({
        code: "custom",
        path: ["fabric", "cross_rail"],
        message: `cross_rail applies to a rail fabric only (fabric.kind: rail), not ${c.fabric.kind}`,
      });
    }
    const perNode = c.overrides?.gpusPerNode;
    if (typeof perNode === "number" && perNode * c.nodes > LIMITS.gpus) {
      ctx.addIssue({
        code: "custom",
        path: ["overrides", "gpusPerNode"],
        message:
          `${c.nodes} nodes x ${perNode} GPUs is ${c.nodes * perNode} GPUs; at ` +
          `most ${LIMITS.gpus} GPUs in all (memory grows with the square of the GPUs)`,
      });
    }
  });

const fieldMapping = z
  .object({
    seq: z.string(),
    token: z.string(),
    layer: z.string(),
    experts: z.string(),
    weights: z.string().optional(),
  })
  .strict();

export const traceSchema = z
  .object({
    file: z
      .string()
      .optional()
      .describe(
        "Routing trace (binary .mtrace, OLMoE gzip JSONL, per-(token,layer) JSONL, CSV); relative to the scenario file",
      ),
    format: z.enum(TRACE_FORMATS as [TraceFormat, ...TraceFormat[]]).default("auto"),
    mapping: fieldMapping.optional().describe("Field names of per-(token, layer) records"),
    synthetic: z
      .object({
        fitted: z.string().optional().describe("Name or path of fitted synthetic parameters (e.g. olmoe-1b-7b)"),
        zipf: nonNegative
          .optional()
          .describe("Expert popularity skew (Zipf exponent) when no fitted parameters are given"),
        locality: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe("Probability a token reuses the previous token's expert"),
        topics: count(LIMITS.topics)
          .optional()
          .describe("Latent topics, each with its own expert popularity (co-activation between experts of a topic)"),
        topic_stay: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe("Probability a token keeps the previous token's topic"),
        sequences: count(LIMITS.sequences).default(64),
        tokens_per_sequence: z
          .union([
            count(LIMITS.tokensPerSequence),
            z.tuple([count(LIMITS.tokensPerSequence), count(LIMITS.tokensPerSequence)]),
          ])
          .default(32)
          .describe("Tokens per request: a number, or [min, max] drawn uniformly per request"),
      })
      .strict()
      .optional(),
    max_tokens: positiveInt.optional().describe("Use only the first N tokens of the trace"),
    incomplete: z
      .enum(["error", "drop", "empty"])
      .optional()
      .describe(
        "Tokens without a record for every MoE layer: error (default: refuse the trace), drop (left out, " +
          "reported) or empty (kept with no expert picks at the missing layers, reported)",
      ),
    group_limit: z
      .object({
        groups: count(65536).describe("Expert groups (consecutive expert ids), e.g. DeepSeek-V3's n_group 8"),
        top_groups: count(65536).describe("Groups a token's top-k may span, e.g. DeepSeek-V3's topk_group 4"),
      })
      .strict()
      .optional()
      .describe(
        "Group-limited routing: a synthetic trace is generated with it; a trace file is checked " +
          "against it (error if a token spans more groups)",
      ),
  })
  .strict();

export const batchingSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("static"), batch_size: count(LIMITS.batch) }).strict(),
  z
    .object({
      kind: z.literal("continuous"),
      max_batch: count(LIMITS.batch),
      arrival: z
        .discriminatedUnion("kind", [
          z
            .object({
              kind: z.literal("poisson"),
              rate_per_s: z
                .number()
                .min(LIMITS.minRatePerS)
                .max(LIMITS.maxRatePerS)
                .describe("Mean requests per second (simulated times are whole ns below 2^53, about 104 days)"),
            })
            .strict(),
          z.object({ kind: z.literal("timestamps"), file: z.string() }).strict(),
          z.object({ kind: z.literal("all-at-once") }).strict(),
        ])
        .default({ kind: "all-at-once" }),
    })
    .strict(),
]);

export const workloadSchema = z
  .object({
    phase: z
      .enum(["decode", "prefill", "encode"])
      .default("decode")
      .describe("decode: one token per request per step; prefill/encode: batch_size tokens per step"),
    batching: batchingSchema.default({ kind: "static", batch_size: 16 }),
    tokens_per_step: count(LIMITS.batch)
      .optional()
      .describe("For prefill/encode: tokens in one step (sequence length x requests)"),
    context_tokens: z
      .number()
      .int()
      .nonnegative()
      .max(LIMITS.contextTokens)
      .default(512)
      .describe("KV-cache context per request for decode attention"),
    max_steps: count(LIMITS.steps).optional().describe("Stop after this many steps"),
    dense_baseline: z.boolean().default(false).describe("Also simulate a dense model with the same FLOPs per token"),
    routing: z
      .enum(["tokens", "load"])
      .default("tokens")
      .describe(
        "Synthetic traces: tokens (default) draws every token's top-k experts; load draws each step's per-expert " +
          "token counts per MoE layer directly (faster; refused where a policy needs token identity: docs/traces.md)",
      ),
    overlap: z
      .enum(["none", "two-batch", "three-batch"])
      .optional()
      .describe(
        "Micro-batch overlap: two-batch splits each step into two micro-batches whose compute " +
          "and all-to-alls interleave; three-batch, a deeper pipeline; none (default): one batch",
      ),
  })
  .strict();

export const policiesSchema = z
  .object({
    gating: z
      .object({
        policy: z.string().default("dynamic"),
        capacity_factor: z.number().positive().optional(),
        block_size: count(LIMITS.batch).optional(),
      })
      .strict()
      .default({ policy: "dynamic" }),
    buffering: z
      .object({
        policy: z.string().default("none").describe("none keeps all of a GPU's experts resident"),
        slots: count(LIMITS.slots).optional().describe("Expert-cache slots per GPU per MoE layer"),
        pinned: z.boolean().default(true).describe("Pinned host memory for expert copies"),
      })
      .strict()
      .default({ policy: "none", pinned: true }),
    placement: z
      .object({
        policy: z.string().default("contiguous"),
        replicate_hot: z.number().int().nonnegative().max(LIMITS.slots).default(0),
        redundant_experts: z
          .number()
          .int()
          .nonnegative()
          .max(65536)
          .optional()
          .describe("eplb: extra expert copies beyond one per expert (experts + redundant must divide by the GPUs)"),
        rebalance_every: z
          .number()
          .int()
          .nonnegative()
          .max(1_000_000)
          .default(0)
          .describe("Recompute the placement every N steps from recent load, moving weights over the links (0: never)"),
        window: z
          .number()
          .int()
          .positive()
          .max(1_000_000)
          .optional()
          .describe("Steps of recent load a rebalance reads (default rebalance_every)"),
      })
      .strict()
      .default({ policy: "contiguous", replicate_hot: 0, rebalance_every: 0 }),
  })
  .strict();

export const outputsSchema = z
  .object({
    dir: z
      .string()
      .optional()
      .describe("Results directory (default results/<name>); relative to the working directory"),
    timelines: z.boolean().default(true),
    event_log: z.boolean().default(false),
    report: z.boolean().default(true),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only")
      .refine((n) => n !== "." && n !== "..", "'.' and '..' are not names: the name names the folder results/<name>")
      .optional(),
    description: z.string().optional(),
    seed: z.union([z.number().int(), z.string()]).default(1),
    cluster: clusterSchema,
    model: z.object({ preset: z.string(), overrides: overrides.optional() }).strict(),
    trace: traceSchema.default({ format: "auto" }),
    workload: workloadSchema.default({
      phase: "decode",
      batching: { kind: "static", batch_size: 16 },
      context_tokens: 512,
      dense_baseline: false,
      routing: "tokens",
    }),
    policies: policiesSchema.default({
      gating: { policy: "dynamic" },
      buffering: { policy: "none", pinned: true },
      placement: { policy: "contiguous", replicate_hot: 0, rebalance_every: 0 },
    }),
    parallelism: z
      .object({
        tensor: count(64)
          .default(1)
          .describe(
            "Tensor-parallel degree of the dense parts (attention, dense FFN, head) within a node; " +
              "experts stay expert-parallel over all GPUs",
          ),
      })
      .strict()
      .default({ tensor: 1 }),
    outputs: outputsSchema.default({ timelines: true, event_log: false, report: true }),
  })
  .strict();

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;

/** The JSON Schema for editor completion (written to scenarios/scenario.schema.json). */
export function scenarioJsonSchema(): unknown {
  return z.toJSONSchema(scenarioSchema, { io: "input", unrepresentable: "any" });
}
