import { UserError, listValues } from "../../util/errors.js";
import type { GatingPolicy } from "./types.js";
import { staticGating } from "./static.js";
import { tutel } from "./tutel.js";
import { fastmoe } from "./fastmoe.js";
import { megablocks } from "./megablocks.js";
import { dynamic } from "./dynamic.js";

export type { ExchangePhase, GatingInput, GatingOptions, GatingPlan, GatingPolicy, SendFactors } from "./types.js";

export const gatingPolicies: ReadonlyMap<string, GatingPolicy> = new Map(
  [staticGating, tutel, fastmoe, megablocks, dynamic].map((p) => [p.name, p]),
);

export function gatingPolicyNames(): string[] {
  return [...gatingPolicies.keys()];
}

/** The policy called `name`; a UserError listing the valid names otherwise. */
export function getGatingPolicy(name: string): GatingPolicy {
  const p = gatingPolicies.get(name);
  if (p === undefined)
    throw new UserError(`unknown gating policy '${name}'; expected ${listValues(gatingPolicyNames())}`);
  return p;
}
