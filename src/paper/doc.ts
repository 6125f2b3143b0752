/**
 * docs/paper-reproduction.md, generated from the paper table (`moesim paper --doc FILE`); a test
 * fails when the committed page and the command disagree.
 */
import { markdownTable, type PaperRow } from "./table.js";

export const PAPER_DOC_MARKERS = {
  begin: "<!-- moesim paper: table begin -->",
  end: "<!-- moesim paper: table end -->",
};

const INTRO = `# Reproducing the seed paper

Huang et al., *Towards MoE Deployment: Mitigating Inefficiencies in Mixture-of-Expert (MoE)
Inference*, arXiv 2303.06182. Every numeric finding of the paper is a row below: the paper's
number, moesim's number on the paper's own metric, the relative error and a status (within 15%,
or explained: the mechanism moesim does not model or the fact the paper does not give).

This page is generated: \`npx moesim paper --doc docs/paper-reproduction.md\` runs the scenarios in
\`scenarios/paper/\` (the sweeps the table reads, on all cores; finished points are kept in
\`results/paper/\` and reused) and writes it; \`test/paper/table.test.ts\` fails when the committed
page, or the golden table \`test/golden/paper/table.json\`, disagrees with the command.

All runs use one hardware description: nodes of 8x V100 32 GB (\`paper-v100\`: NVLink 300 GB/s
bidirectional per GPU, PCIe 3 at 12 GB/s host-to-device, InfiniBand between nodes), the roofline
cost model with the preset's efficiencies, no calibration profile. No paper scenario sets an
efficiency, overhead or bandwidth of its own (a test checks this), and no constant is fitted to a
row.

The paper's metrics: a throughput ratio compares the **maximum** throughput of each gate over the
batch sizes it fits (static gating runs out of memory early); batch sizes are sequences (LM, 1024
tokens) or sentences (MT, 64 tokens) per GPU; activation memory is the peak per GPU at static
gating's largest batch; static memory is the weights plus the expert cache per GPU. The dense
counterpart of "MoE vs dense" is FLOP-equivalent (every MoE layer replaced by a dense FFN of top-k
times the expert's width, the paper's comparison at equal FLOPs per token), and the MoE side is the
deployed baseline the paper characterises: fairseq's static gating.
`;

const OUTRO = `## What is modelled, and what is not

- **Routing is synthetic** for LM and NLLB (no traces of those models are public): Zipf expert
  popularity 0.5 with temporal locality (0.1 encoder/LM, 0.4 decoder); the load-balancing rows use
  topic-correlated routing (8 topics, Zipf 1.0) for all three models. Tutel's padding to the
  largest expert load, static gating's drops and every placement gain depend on that skew.
- **Static gating's cost is modelled from first principles**: fairseq's capacity token fraction
  pads every expert to C x S rows (C = 0.05 LM, 1 MT), and its GShard einsums materialise and
  multiply through an S x E x capacity mask.
- **Framework overheads are not modelled**: host time per launched op, per-expert Python loops and
  allocator behaviour of the eager PyTorch/fairseq stack the paper measured. They weigh most where
  the GPU work is small (MoE vs dense at batch 1, the decoder).
- **Standard attention's score traffic** (heads x T x T written and read) is counted in memory,
  not in time.
- **The V100 node's NVLink is a full mesh** at the preset's bandwidth; a DGX-1's hybrid cube-mesh
  has no direct NVLink between some GPU pairs, which makes its all-to-all slower than modelled.
- **Expert buffering** copies a missed expert over PCIe 3 (12 GB/s) while the dispatch all-to-all
  runs; the encoder's experts stay resident (the paper buffers the decoder).
- An encoder-decoder model's other stack's experts occupy GPU memory in every run (NLLB: 6 MoE
  layers x 16 experts x 67 MB = 6.4 GB per GPU on one node).
`;

/** The whole page for a table. */
export function renderPaperDoc(rows: PaperRow[]): string {
  return [
    INTRO,
    "## The findings",
    "",
    PAPER_DOC_MARKERS.begin,
    markdownTable(rows).trimEnd(),
    PAPER_DOC_MARKERS.end,
    "",
    OUTRO,
  ].join("\n");
}
