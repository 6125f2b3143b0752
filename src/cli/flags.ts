import { UserError } from "../util/errors.js";

/** A flag's value as an integer >= min; otherwise a UserError naming the flag and what it got. */
export function integerFlag(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UserError(`${flag}: expected an integer >= ${min}, got '${v}'`);
  return n;
}
