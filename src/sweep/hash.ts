import { createHash } from "node:crypto";

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(",")}}`;
}

/** A stable 16-hex-digit hash (SHA-256 prefix) of a value's canonical JSON. */
export function stableHash(v: unknown): string {
  return createHash("sha256").update(canonicalJson(v)).digest("hex").slice(0, 16);
}
