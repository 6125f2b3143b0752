import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { workerEntry } from "../../src/sweep/bundle.js";

/** The kept worker bundle: reused while its sources are unchanged, rebuilt when the index says otherwise. */
describe("sweep worker bundle cache", () => {
  it("is reused, lists its sources, and is rebuilt when a listed source no longer matches", async () => {
    const a = await workerEntry();
    expect(a.kind).toBe("bundle");
    const file = fileURLToPath(a.url);
    const indexPath = join(file, "..", "sweep-worker.json");
    const index = JSON.parse(readFileSync(indexPath, "utf8")) as {
      file: string;
      inputs: Array<[string, number, number]>;
    };
    expect(index.file).toBe(file.split("/").pop());
    const main = index.inputs.find(([p]) => p.endsWith(join("src", "sweep", "worker-main.ts")));
    expect(main).toBeDefined();
    expect(main![1]).toBe(statSync(main![0]).size);
    const ino = statSync(file).ino;
    const b = await workerEntry();
    expect(b.url.href).toBe(a.url.href);
    expect(statSync(file).ino).toBe(ino); // reused: the same file, not a new one renamed into place
    // an index whose record of a source is stale: the next call rebuilds (same sources, same bundle name)
    writeFileSync(
      indexPath,
      JSON.stringify({ ...index, inputs: index.inputs.map(([p, s, m], i) => (i === 0 ? [p, s + 1, m] : [p, s, m])) }),
    );
    const c = await workerEntry();
    expect(c.url.href).toBe(a.url.href);
    expect(statSync(file).ino).not.toBe(ino); // written anew
    const rebuilt = JSON.parse(readFileSync(indexPath, "utf8")) as typeof index;
    expect(rebuilt.inputs[0][1]).toBe(index.inputs[0][1]);
  });
});
