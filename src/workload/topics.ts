import { zipfSynthParams, type SynthParams } from "./synth.js";

/**
 * Synthetic routing without a fitted trace: Zipf(s) expert popularity per layer and, with several
 * topics, a different popularity order per topic. Tokens keep their topic with probability
 * topicStay, so experts favoured by the same topic are active together (co-activation) and across
 * layers of a token (cross-layer correlation).
 */
export function topicSynthParams(o: {
  layers: number;
  experts: number;
  topK: number;
  zipf: number;
  locality: number;
  topics: number;
  topicStay: number;
  seed: string;
}): SynthParams {
  const per = Array.from({ length: o.topics }, (_, c) =>
    zipfSynthParams({
      layers: o.layers,
      experts: o.experts,
      topK: o.topK,
      zipf: o.zipf,
      locality: o.locality,
      seed: `${o.seed}/topic${c}`,
    }),
  );
  return {
    ...per[0],
    clusters: o.topics,
    clusterWeights: new Array<number>(o.topics).fill(1 / o.topics),
    topicStay: o.topics > 1 ? o.topicStay : 1,
    inclusion: per.map((p) => p.inclusion[0]),
  };
}
