import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).map((f) => join("docs", f))];

// A path with a file extension under one of the repository's folders, as docs write them.
const PATH = /(?<![\w/.-])(?:src|test|bench|scripts|scenarios|profiles|docs)\/[A-Za-z0-9_./-]*\.[a-z]{2,5}\b/g;
// Examples of what a user writes, not files of the project.
const EXAMPLES = new Set(["profiles/mine.json", "profiles/my-cluster.json"]);

describe("docs name files that exist", () => {
  for (const doc of DOCS) {
    it(doc, () => {
      const text = readFileSync(join(ROOT, doc), "utf8");
      const named = [...new Set(text.match(PATH) ?? [])].filter((p) => !EXAMPLES.has(p));
      const missing = named.filter((p) => !existsSync(join(ROOT, p)));
      expect(missing, `${doc} names files that are not in the repository`).toEqual([]);
    });
  }

  it("the pattern finds paths in prose and the check sees a missing one", () => {
    const named = "see src/moe/step.ts, (src/moe/run.ts) and bench/e2e".match(PATH) ?? [];
    expect(named).toEqual(["src/moe/step.ts", "src/moe/run.ts"]);
    expect(named.filter((p) => !existsSync(join(ROOT, p)))).toEqual(["src/moe/run.ts"]);
  });
});
