import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/load.js";
import { scenarioJsonSchema } from "../../src/scenario/schema.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const ok = "cluster:\n  preset: dgx-h100\nmodel:\n  preset: olmoe-1b-7b\n";

function err(text: string): string {
  try {
    parseScenario(text, "s.yaml");
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("scenario loading", () => {
  it("fills defaults", () => {
    const s = parseScenario(ok, "s.yaml").scenario;
    expect(s.cluster.nodes).toBe(1);
    expect(s.workload.batching).toEqual({ kind: "static", batch_size: 16 });
    expect(s.policies.gating.policy).toBe("dynamic");
    expect(s.policies.buffering.policy).toBe("none");
  });

  it("names file:line:col, the key path, what was expected and the valid values", () => {
    expect(err(ok + "workload:\n  phase: foo\n")).toBe(
      's.yaml:6:10: workload.phase: expected one of "decode", "prefill" or "encode"',
    );
    expect(err(ok.replace("  preset: dgx-h100\n", "  preset: dgx-h100\n  nodez: 2\n"))).toMatch(
      /^s\.yaml:3:\d+: cluster\.nodez: unknown key 'nodez' \(valid: preset, nodes, gpus, .*\)$/,
    );
    expect(err(ok.replace("  preset: dgx-h100\n", "  preset: dgx-h100\n  nodes: -2\n"))).toMatch(
      /^s\.yaml:3:10: cluster\.nodes: .*>0/,
    );
    expect(err("cluster:\n  preset: dgx-h100\n")).toBe("s.yaml:1:1: model: missing required key (expected object)");
    expect(err("cluster: [\n")).toMatch(/^s\.yaml:\d+:\d+: invalid YAML: /);
    expect(err("- 1\n- 2\n")).toMatch(/must be a YAML mapping/);
    expect(err(ok + "seed: 1\nseed: 2\n")).toMatch(/invalid YAML: Map keys must be unique/);
  });

  it("the committed JSON Schema is the one the code generates", () => {
    const committed = JSON.parse(readFileSync(resolve(ROOT, "scenarios", "scenario.schema.json"), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(scenarioJsonSchema())));
  });
});
