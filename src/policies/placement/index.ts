import { UserError, listValues } from "../../util/errors.js";
import type { PlacementPolicy } from "./types.js";
import { contiguous } from "./contiguous.js";
import { roundRobin } from "./round-robin.js";
import { greedy } from "./greedy.js";
import { antiCorrelation } from "./anti-correlation.js";
import { eplb } from "./eplb.js";

export type { Placement, PlacementInput, PlacementPolicy } from "./types.js";
export { activationCorrelation, replicateHot } from "./common.js";

export const placementPolicies: ReadonlyMap<string, PlacementPolicy> = new Map(
  [contiguous, roundRobin, greedy, antiCorrelation, eplb].map((p) => [p.name, p]),
);

export function placementPolicyNames(): string[] {
  return [...placementPolicies.keys()];
}

/** The policy called `name`; a UserError listing the valid names otherwise. */
export function getPlacementPolicy(name: string): PlacementPolicy {
  const p = placementPolicies.get(name);
  if (p === undefined) {
    throw new UserError(`unknown placement policy '${name}'; expected ${listValues(placementPolicyNames())}`);
  }
  return p;
}
