/** The policies section: gating, buffering and placement by name, checked together. */
import type { ModelSpec } from "../../workload/model.js";
import { getGatingPolicy } from "../../policies/gating/index.js";
import { getBufferingPolicy } from "../../policies/buffering/index.js";
import { getPlacementPolicy } from "../../policies/placement/index.js";
import { UserError } from "../../util/errors.js";
import type { MoeSimConfig } from "../../moe/types.js";
import type { LoadedScenario } from "../load.js";
import { at } from "./where.js";

export type ResolvedPolicies = Pick<MoeSimConfig, "gating" | "buffering" | "placement">;

/**
 * The policies from their registries; buffering's slots (per GPU per MoE layer) at most the GPU's
 * share of the experts. `staticSteps`: whether batching is static (policies that need the future
 * of the trace work only then).
 */
export function resolvePolicies(
  loaded: LoadedScenario,
  model: ModelSpec,
  gpus: number,
  staticSteps: boolean,
): ResolvedPolicies {
  const p = loaded.scenario.policies;
  const gating = at(loaded, ["policies", "gating", "policy"], () => getGatingPolicy(p.gating.policy));
  const buffering =
    p.buffering.policy === "none"
      ? null
      : at(loaded, ["policies", "buffering", "policy"], () => getBufferingPolicy(p.buffering.policy));
  const placement = at(loaded, ["policies", "placement", "policy"], () => getPlacementPolicy(p.placement.policy));
  const perGpu = Math.ceil(model.experts / gpus);
  if (buffering && p.buffering.slots === undefined) {
    throw new UserError(
      `policies.buffering.slots: required with policy '${p.buffering.policy}' (expert-cache ` +
        `slots per GPU per MoE layer, 1..${perGpu})`,
      loaded.locate(["policies", "buffering"]),
    );
  }
  if (buffering?.needsFuture && !staticSteps) {
    throw new UserError(
      `policies.buffering.policy: '${buffering.name}' needs the future of the trace and works ` +
        `with static batching only`,
      loaded.locate(["policies", "buffering", "policy"]),
    );
  }
  if (buffering?.needsFuture && p.placement.replicate_hot > 0) {
    throw new UserError(
      `policies.placement.replicate_hot: not supported together with buffering policy '${buffering.name}'`,
      loaded.locate(["policies", "placement", "replicate_hot"]),
    );
  }
  const pl = p.placement;
  if (pl.rebalance_every > 0 && buffering) {
    throw new UserError(
      `policies.placement.rebalance_every: not supported together with buffering policy ` +
        `'${buffering.name}' (use buffering: none)`,
      loaded.locate(["policies", "placement", "rebalance_every"]),
    );
  }
  if (pl.redundant_experts !== undefined && placement.name !== "eplb") {
    throw new UserError(
      `policies.placement.redundant_experts: only the 'eplb' placement takes redundant ` +
        `experts, not '${placement.name}'`,
      loaded.locate(["policies", "placement", "redundant_experts"]),
    );
  }
  if (pl.redundant_experts !== undefined && (model.experts + pl.redundant_experts) % gpus !== 0) {
    const lower = Math.floor((model.experts + pl.redundant_experts) / gpus) * gpus - model.experts;
    const valid = [lower, lower + gpus].filter((r) => r >= 0).join(" or ");
    throw new UserError(
      `policies.placement.redundant_experts: ${model.experts} experts ` +
        `+ ${pl.redundant_experts} must split evenly over ${gpus} GPUs; use ${valid}`,
      loaded.locate(["policies", "placement", "redundant_experts"]),
    );
  }
  const extras = {
    ...(pl.redundant_experts !== undefined ? { redundantExperts: pl.redundant_experts } : {}),
    nodes: loaded.scenario.cluster.nodes ?? 1,
    groups: model.routingGroups?.groups ?? 1,
    ...(pl.rebalance_every > 0 ? { rebalanceEvery: pl.rebalance_every, window: pl.window ?? pl.rebalance_every } : {}),
  };
  return {
    gating: { policy: gating, capacityFactor: p.gating.capacity_factor, blockSize: p.gating.block_size },
    buffering: { policy: buffering, slots: Math.min(p.buffering.slots ?? perGpu, perGpu), pinned: p.buffering.pinned },
    placement: { policy: placement, replicateHot: p.placement.replicate_hot, ...extras },
  };
}
