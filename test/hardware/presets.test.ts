import { describe, expect, it } from "vitest";
import { NODE_PRESETS, clusterSpecFrom, getNodePreset } from "../../src/hardware/presets.js";
import { DTYPES } from "../../src/hardware/devices.js";
import { UserError } from "../../src/util/errors.js";

describe("presets", () => {
  it("has the issue's nodes with the headline figures", () => {
    expect(Object.keys(NODE_PRESETS)).toEqual([
      "paper-v100",
      "dgx-a100",
      "dgx-h100",
      "hgx-h200",
      "consumer-pcie4",
      "hgx-h800",
      "hgx-h20",
      "hgx-b200",
      "gb200-nvl72",
      "dgx1-v100",
      "fairseq-v100",
    ]);
    const v = getNodePreset("paper-v100");
    expect(v.gpusPerNode).toBe(8);
    expect(v.gpu.hbmBytes).toBe(32 * 1024 ** 3);
    expect(2 * v.nvlink!.bandwidthBytesPerS).toBe(300e9); // the paper's 300 GB/s, both directions
    expect(v.pcie.h2dPinnedBytesPerS).toBe(12e9);
    expect(getNodePreset("dgx-h100").nic).toMatchObject({ perNode: 8, bandwidthBytesPerS: 48e9 });
    expect(getNodePreset("consumer-pcie4").nvlink).toBeNull();
    for (const p of Object.values(NODE_PRESETS)) for (const d of DTYPES) expect(p.gpu.flopsPerS[d]).toBeGreaterThan(0);
  });
  it("an unknown preset is a UserError listing the valid names", () => {
    expect(() => getNodePreset("dgx-b200")).toThrow(UserError);
    expect(() => getNodePreset("dgx-b200")).toThrow(/paper-v100, dgx-a100, .*, gb200-nvl72, dgx1-v100 or fairseq-v100/);
  });
  it("today's deployment nodes carry their datasheet figures", () => {
    const h800 = getNodePreset("hgx-h800");
    expect(2 * h800.nvlink!.bandwidthBytesPerS).toBe(400e9); // H800: NVLink 400 GB/s bidirectional
    expect(h800.gpu.flopsPerS.fp8).toBe(getNodePreset("dgx-h100").gpu.flopsPerS.fp8); // same compute as H100
    expect(h800.nic).toMatchObject({ perNode: 8 }); // one 400 Gb/s NIC per GPU
    expect(getNodePreset("hgx-h20").gpu.flopsPerS.bf16).toBe(148e12);
    const b200 = getNodePreset("hgx-b200");
    expect(b200.gpu.flopsPerS.bf16).toBe(2.25e15);
    expect(8 * b200.gpu.hbmBytesPerS).toBe(64e12); // DGX B200: 64 TB/s for 8 GPUs
    const nvl = getNodePreset("gb200-nvl72");
    expect(nvl.gpusPerNode).toBe(72);
    expect(nvl.nic.perNode).toBe(72);
    expect(72 * nvl.gpu.flopsPerS.bf16).toBe(180e15); // 180 PFLOPS dense bf16 per rack
  });
  it("getNodePreset returns a copy", () => {
    getNodePreset("dgx-h100").gpu.hbmBytes = 1;
    expect(getNodePreset("dgx-h100").gpu.hbmBytes).toBe(80 * 1024 ** 3);
  });
  it("clusterSpecFrom deep-merges overrides and checks them", () => {
    const s = clusterSpecFrom({
      preset: "dgx-h100",
      nodes: 4,
      overrides: { gpu: { hbmBytes: 40e9 }, nic: { perNode: 4 } },
      fabric: { kind: "rail" },
    });
    expect(s.nodes).toBe(4);
    expect(s.node.gpu.hbmBytes).toBe(40e9);
    expect(s.node.gpu.hbmBytesPerS).toBe(3350e9);
    expect(s.node.nic.perNode).toBe(4);
    expect(s.node.nic.bandwidthBytesPerS).toBe(48e9);
    expect(s.fabric).toEqual({ kind: "rail" });
    expect(() =>
      clusterSpecFrom({ preset: "dgx-h100", overrides: { gpu: { hbmGB: 1 } }, where: "s.yaml: cluster" }),
    ).toThrow(/^s\.yaml: cluster: unknown key overrides\.gpu\.hbmGB; expected one of name, flopsPerS/);
    expect(() => clusterSpecFrom({ preset: "dgx-h100", overrides: { pcie: { d2hBytesPerS: -1 } } })).toThrow(
      /node\.pcie\.d2hBytesPerS must be a positive number, got -1/,
    );
    expect(() => clusterSpecFrom({ preset: "dgx-h100", nodes: 0 })).toThrow(/nodes must be a whole number >= 1/);
    expect(() => clusterSpecFrom({ preset: "dgx-h100", fabric: { kind: "rail", oversubscription: 0.5 } })).toThrow(
      /oversubscription/,
    );
  });
});
