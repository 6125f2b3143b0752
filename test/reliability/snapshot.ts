import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Every file under a folder with its bytes, for "nothing changed" checks. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p.slice(dir.length), readFileSync(p, "latin1"));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}
