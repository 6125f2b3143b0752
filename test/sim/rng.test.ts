/**
 * Seeded streams: determinism, independence of named child streams from creation order, and the
 * distributions checked statistically (fixed seeds; bounds at 5 standard errors or a 0.1% KS level).
 */
import { describe, expect, it } from "vitest";
import { RandomStream, rootStream, searchCdf } from "../../src/sim/index.js";

const draws = (s: RandomStream, n: number): number[] => Array.from({ length: n }, () => s.next());

/** Kolmogorov-Smirnov statistic of a sample against a CDF. */
function ks(sample: Float64Array, cdf: (x: number) => number): number {
  const xs = Float64Array.from(sample).sort();
  const n = xs.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(xs[i]);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return d;
}
const KS_CRIT_0_1_PERCENT = 1.95; // / sqrt(n)

describe("named streams", () => {
  it("the same seed gives the same draws", () => {
    expect(draws(rootStream(42).child("gpu0"), 100)).toEqual(draws(rootStream(42).child("gpu0"), 100));
  });

  it("a child draws the same whether created before or after others, and whatever they draw", () => {
    const r1 = rootStream(7);
    const a1 = r1.child("a");
    const b1 = r1.child("b");
    const fromA1 = draws(a1, 50);
    draws(b1, 50);

    const r2 = rootStream(7);
    const b2 = r2.child("b");
    draws(b2, 1000); // b draws a lot first
    r2.next(); // and the root itself draws
    const c2 = r2.child("c"); // a component added
    draws(c2, 10);
    const a2 = r2.child("a");
    expect(draws(a2, 50)).toEqual(fromA1);
  });

  it("different names, seeds and parents give different streams", () => {
    const a = draws(rootStream(1).child("a"), 20);
    expect(draws(rootStream(1).child("b"), 20)).not.toEqual(a);
    expect(draws(rootStream(2).child("a"), 20)).not.toEqual(a);
    expect(draws(rootStream(1).child("x").child("a"), 20)).not.toEqual(a);
    expect(draws(rootStream(1), 20)).not.toEqual(a);
  });

  it("sibling streams are uncorrelated", () => {
    const n = 200_000;
    const a = draws(rootStream(3).child("gpu0"), n);
    const b = draws(rootStream(3).child("gpu1"), n);
    let sab = 0;
    for (let i = 0; i < n; i++) sab += (a[i] - 0.5) * (b[i] - 0.5);
    const corr = sab / n / (1 / 12);
    expect(Math.abs(corr)).toBeLessThan(5 / Math.sqrt(n));
  });
});

describe("distributions", () => {
  const n = 1_000_000;

  it("uniform and int stay in range with the right mean", () => {
    const s = rootStream("u").child("u");
    let sum = 0;
    let isum = 0;
    let outside = 0;
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < n; i++) {
      const x = s.uniform(2, 5);
      if (!(x >= 2 && x < 5)) outside++;
      sum += x;
      const k = s.int(6);
      counts[k]++;
      isum += k;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 3.5)).toBeLessThan((5 * Math.sqrt(9 / 12)) / Math.sqrt(n));
    expect(counts.every((c) => Math.abs(c / n - 1 / 6) < 5 * Math.sqrt(((1 / 6) * (5 / 6)) / n))).toBe(true);
    expect(Math.abs(isum / n - 2.5)).toBeLessThan(0.01);
  });

  it("exponential: mean 1/rate, variance 1/rate^2, and the exponential CDF (KS)", () => {
    const s = rootStream("exp").child("e");
    const rate = 2;
    const xs = new Float64Array(n);
    let sum = 0;
    let sq = 0;
    let negative = 0;
    for (let i = 0; i < n; i++) {
      const x = s.exponential(rate);
      if (!(x >= 0)) negative++;
      xs[i] = x;
      sum += x;
      sq += x * x;
    }
    expect(negative).toBe(0);
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(Math.abs(mean - 0.5)).toBeLessThan((5 * 0.5) / Math.sqrt(n));
    expect(Math.abs(variance / 0.25 - 1)).toBeLessThan(0.02);
    expect(ks(xs, (x) => 1 - Math.exp(-rate * x))).toBeLessThan(KS_CRIT_0_1_PERCENT / Math.sqrt(n));
    // the ziggurat's tail beyond its base layer (x > 7.6971 at rate 1) has the right mass
    let tail = 0;
    for (let i = 0; i < n; i++) if (xs[i] * rate > 7.697117470131487) tail++;
    const pTail = Math.exp(-7.697117470131487);
    expect(Math.abs(tail / n - pTail)).toBeLessThan(5 * Math.sqrt(pTail / n));
  });

  it("normal: mean, standard deviation, and the normal CDF (KS)", () => {
    const s = rootStream("normal").child("n");
    const xs = new Float64Array(n);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = s.normal(10, 3);
      xs[i] = x;
      sum += x;
      sq += x * x;
    }
    const mean = sum / n;
    const sd = Math.sqrt(sq / n - mean * mean);
    expect(Math.abs(mean - 10)).toBeLessThan((5 * 3) / Math.sqrt(n));
    expect(Math.abs(sd / 3 - 1)).toBeLessThan(5 / Math.sqrt(2 * n));
    // standard normal CDF via erf (Abramowitz-Stegun 7.1.26, error < 1.5e-7)
    const erf = (x: number): number => {
      const t = 1 / (1 + 0.3275911 * Math.abs(x));
      const y =
        1 -
        ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
          t *
          Math.exp(-x * x);
      return x >= 0 ? y : -y;
    };
    expect(ks(xs, (x) => 0.5 * (1 + erf((x - 10) / (3 * Math.SQRT2))))).toBeLessThan(
      KS_CRIT_0_1_PERCENT / Math.sqrt(n),
    );
  });

  it("zipf: rank frequencies match k^-s / H(N, s)", () => {
    const s = rootStream("zipf").child("experts");
    const ranks = 64;
    const exponent = 1.2;
    const counts = new Array<number>(ranks).fill(0);
    for (let i = 0; i < n; i++) counts[s.zipf(ranks, exponent)]++;
    let h = 0;
    for (let k = 1; k <= ranks; k++) h += Math.pow(k, -exponent);
    let chi2 = 0;
    for (let k = 1; k <= ranks; k++) {
      const p = Math.pow(k, -exponent) / h;
      const observed = counts[k - 1] / n;
      expect(Math.abs(observed - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
      chi2 += (counts[k - 1] - n * p) ** 2 / (n * p);
    }
    // 63 degrees of freedom: the 0.1% critical value is about 103.4
    expect(chi2).toBeLessThan(103.4);
    // rank 0 is the most frequent, and the frequencies fall with rank
    expect(counts[0]).toBe(Math.max(...counts));
    expect(counts[0] / counts[1]).toBeCloseTo(Math.pow(2, exponent), 1);
  });

  it("categorical: frequencies proportional to the weights; zero weights never drawn", () => {
    const s = rootStream("cat").child("c");
    const weights = [1, 0, 2, 3, 4];
    const total = 10;
    const counts = new Array<number>(weights.length).fill(0);
    for (let i = 0; i < n; i++) counts[s.categorical(weights)]++;
    expect(counts[1]).toBe(0);
    weights.forEach((w, i) => {
      const p = w / total;
      expect(Math.abs(counts[i] / n - p)).toBeLessThanOrEqual(5 * Math.sqrt((p * (1 - p)) / n));
    });
  });

  it("shuffle returns a permutation, and every position is uniform", () => {
    const s = rootStream("shuffle").child("s");
    const trials = 60_000;
    const firstCounts = new Array<number>(5).fill(0);
    let notPermutation = 0;
    for (let t = 0; t < trials; t++) {
      const a = s.shuffle([0, 1, 2, 3, 4]);
      if ([...a].sort().join() !== "0,1,2,3,4") notPermutation++;
      firstCounts[a[0]]++;
    }
    expect(notPermutation).toBe(0);
    for (const c of firstCounts) expect(Math.abs(c / trials - 0.2)).toBeLessThan(5 * Math.sqrt(0.16 / trials));
  });

  it("searchCdf finds the first index whose CDF exceeds u", () => {
    const cdf = [0.1, 0.5, 0.5, 1];
    expect(searchCdf(cdf, 0)).toBe(0);
    expect(searchCdf(cdf, 0.1)).toBe(1);
    expect(searchCdf(cdf, 0.49)).toBe(1);
    expect(searchCdf(cdf, 0.5)).toBe(3);
    expect(searchCdf(cdf, 0.999)).toBe(3);
  });
});

describe("exponentialNs", () => {
  it("is the exponential draw times the mean, rounded half up to whole ns, with the right mean", () => {
    const a = rootStream(11).child("x");
    const b = rootStream(11).child("x");
    const mean = 12_345.5;
    let sum = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const ns = a.exponentialNs(mean);
      const x = b.exponential(1) * mean;
      expect(Number.isSafeInteger(ns)).toBe(true);
      expect(ns).toBeGreaterThanOrEqual(0);
      expect(ns).toBe(Math.floor(x + 0.5));
      if (x % 1 !== 0.5) expect(ns).toBe(Math.round(x));
      sum += ns;
    }
    // Standard error of the mean is mean / sqrt(n) ~ 0.22%; 5 sigma.
    expect(Math.abs(sum / n - mean) / mean).toBeLessThan(5 / Math.sqrt(n));
  });
});
