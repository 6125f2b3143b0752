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

All runs use one framework/hardware profile, \`fairseq-v100\`: nodes of 8x V100 32 GB as a DGX-1
(\`dgx1-v100\`: NVLink 2 as the hybrid cube-mesh, 25 GB/s per link and direction, PCIe 3 at
12 GB/s host-to-device, InfiniBand between nodes) running the paper's 2023 fairseq stack (standard
attention, eager PyTorch's host time per op), the roofline cost model with the preset's
efficiencies, no calibration profile. No paper scenario sets an efficiency, overhead or bandwidth
of its own (a test checks this), and no constant is fitted to a row.

The paper's metrics: a throughput ratio compares the **maximum** throughput of each gate over the
batch sizes it fits (static gating runs out of memory early); batch sizes are sequences (LM, 1024
tokens) or sentences (MT, 64 tokens) per GPU; activation memory is the peak per GPU at static
gating's largest batch, and the abstract's memory reduction ("up to 1.36x for LM and up to 1.1x for
MT") the whole peak per GPU, static over dynamic, at that batch; static memory is the weights plus
the expert cache per GPU. The dense
counterpart of "MoE vs dense" is FLOP-equivalent (every MoE layer replaced by a dense FFN of top-k
times the expert's width, the paper's comparison at equal FLOPs per token), and the MoE side is the
deployed baseline the paper characterises: fairseq's static gating.
`;

const OUTRO = `## What is modelled, and what is not

- **Routing is synthetic** for LM and NLLB (no traces of those models are public): Zipf expert
  popularity 0.5 with temporal locality (0.1 encoder/LM, 0.4 decoder); the load-balancing rows use
  topic-correlated routing (8 topics, Zipf 1.0) for all three models. Tutel's padding to the
  largest expert load, static gating's drops and every placement gain depend on that skew. The
  table keeps Zipf 0.5 for every model; the Tutel rows' explanations say where the paper's ratio
  falls on moesim's curve over the skew (\`scenarios/paper/tutel-skew-*.yaml\`, run with the table),
  which is what a routing trace of each model would have to show.
- **Static gating's cost is modelled from first principles**: fairseq's capacity token fraction
  pads every expert to C x S rows (C = 0.05 LM, 1 MT), and its GShard einsums materialise and
  multiply through an S x E x capacity mask.
- **Framework host overhead is modelled** (\`hostOpNs\`, docs/hardware.md "Framework host
  overhead"): the eager PyTorch/fairseq stack issues every op from Python at 5 us of host time
  (pytorch/pytorch#41383, https://github.com/pytorch/pytorch/issues/41383: ~5 us per op with
  \`requires_grad=False\`, a 2020 PyTorch; timed on CPU tensors, so a lower bound for a CUDA op).
  Ops per layer are counted from fairseq's transformer layer, MultiheadAttention and MOELayer
  (its loop over a GPU's local experts, 5 ops each), fairseq's top-2 gate (static, ~115 ops with
  dispatch and combine), Tutel's \`extract_critical\` and fast dispatcher (70) and the paper's dynamic
  gating steps (30; its code is not public). Between host-device syncs (the end of a step;
  Tutel's capacity and dynamic gating's counts read on the host, one per MoE layer) a stretch
  takes max(host issue time, GPU time); the wait is the \`host\` phase. At the batches where each
  gate peaks it hides behind the GPU work; it binds in small decode steps (the dense decoder,
  dynamic gating at a few sentences per GPU). Not counted: beam search's bookkeeping, the caching
  allocator's behaviour and fragmentation.
- **Standard attention's score traffic is timed**: fairseq's MultiheadAttention computes QK^T,
  the softmax and PV as separate kernels, so the heads x queries x keys scores S are written and
  read and the probabilities P written and read in HBM (FlashAttention, Dao et al. 2022,
  Algorithm 0 "standard attention implementation": Theta(N d + N^2) HBM accesses); moesim adds
  4 x heads x queries x keys elements to the attention op's HBM bytes (the full rectangle: a
  causal mask is applied to it, not skipped). It is a property of the profile
  (\`attentionKernel: standard\`); modern presets use fused kernels (FlashAttention, FlashMLA)
  and do not pay it.
- **The V100 node's NVLink is the DGX-1 hybrid cube-mesh** (DGX-1 V100 system architecture
  whitepaper): 6 NVLink 2 links of 25 GB/s per GPU, 16 of 28 GPU pairs linked (8 of them twice),
  the other 12 relayed through a GPU over NVLink as NCCL's default NVB path does; an equal
  all-to-all on one node takes 3B / 25 GB/s where an even full mesh would take 7B / 150 GB/s
  (docs/hardware.md). No published nccl-tests all-to-all of a DGX-1 V100 was found to check it
  against.
- **Expert buffering** copies a missed expert over PCIe 3 (12 GB/s) while the dispatch all-to-all
  runs; the encoder's experts stay resident (the paper buffers the decoder).
- An encoder-decoder model's other stack's experts occupy GPU memory in every run (NLLB: 6 MoE
  layers x 16 experts x 67 MB = 6.4 GB per GPU on one node).
- The MT encoder rows run the encoder alone, which ends at its final layer norm: fairseq's
  TransformerEncoder hands \`encoder_out\` to the decoder's cross-attention, and only the decoder has
  the output projection over NLLB's 256,206-token vocabulary (and its logits in memory).
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
