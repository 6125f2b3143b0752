import seedrandom from "seedrandom";

/** FNV-1a over a string, 32 bits; used only to derive child seeds from names. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const zipfTables = new Map<string, Float64Array>();

function zipfCdf(n: number, s: number): Float64Array {
  const key = `${n}:${s}`;
  let cdf = zipfTables.get(key);
  if (cdf === undefined) {
    cdf = new Float64Array(n);
    let acc = 0;
    for (let k = 1; k <= n; k++) {
      acc += 1 / Math.pow(k, s);
      cdf[k - 1] = acc;
    }
    for (let k = 0; k < n; k++) cdf[k] /= acc;
    cdf[n - 1] = 1;
    zipfTables.set(key, cdf);
  }
  return cdf;
}

/**
 * Tables for Marsaglia & Tsang's ziggurat method for the standard exponential (256 layers,
 * "The Ziggurat Method for Generating Random Variables", J. Stat. Software 5(8), 2000).
 * About 99% of draws take one uniform, a table look-up and a multiply: no Math.log, which
 * dominated the cost of the engine's M/M/1 benchmark.
 */
const ZIG_KE = new Float64Array(256);
const ZIG_WE = new Float64Array(256);
const ZIG_FE = new Float64Array(256);
const ZIG_R = 7.697117470131487;
(function buildExponentialZiggurat(): void {
  const m2 = 4294967296; // 2^32
  const ve = 3.949659822581572e-3;
  let de = ZIG_R;
  let te = de;
  const q = ve / Math.exp(-de);
  ZIG_KE[0] = Math.floor((de / q) * m2);
  ZIG_KE[1] = 0;
  ZIG_WE[0] = q / m2;
  ZIG_WE[255] = de / m2;
  ZIG_FE[0] = 1;
  ZIG_FE[255] = Math.exp(-de);
  for (let i = 254; i >= 1; i--) {
    de = -Math.log(ve / de + Math.exp(-de));
    ZIG_KE[i + 1] = Math.floor((de / te) * m2);
    te = de;
    ZIG_FE[i] = Math.exp(-de);
    ZIG_WE[i] = de / m2;
  }
})();

/** Smallest index i with cdf[i] > u (binary search). */
export function searchCdf(cdf: ArrayLike<number>, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

interface AleaState {
  s0: number;
  s1: number;
  s2: number;
  c: number;
}

/**
 * A seeded random stream (seedrandom's alea). Child streams are derived from the root seed and a
 * name alone, so creating streams in another order, or adding a component, never shifts the draws
 * of the others.
 */
export class RandomStream {
  /**
   * Alea's state, seeded by seedrandom's own alea (its Mash hash of the seed) and then stepped
   * here with exactly its arithmetic (`prng()` below), so the draws are bit-identical to
   * seedrandom.alea(seed)() without a closure call and property look-ups per draw.
   */
  private readonly st = new Float64Array(4); // s0, s1, s2, c
  private spareNormal: number | null = null;

  constructor(readonly seed: string) {
    const st = (seedrandom.alea(seed, { state: true }) as seedrandom.PRNG & { state(): AleaState }).state();
    this.st[0] = st.s0;
    this.st[1] = st.s1;
    this.st[2] = st.s2;
    this.st[3] = st.c;
  }

  /** One alea step: uniform in [0, 1), an exact multiple of 2^-32. */
  private prng(): number {
    const s = this.st;
    const t = 2091639 * s[0] + s[3] * 2.3283064365386963e-10; // 2^-32
    const c = t | 0;
    s[0] = s[1];
    s[1] = s[2];
    s[3] = c;
    return (s[2] = t - c);
  }

  /** An independent stream named `name` under this one. */
  child(name: string): RandomStream {
    return new RandomStream(`${this.seed}/${name}#${fnv1a(this.seed + "\u0000" + name).toString(16)}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng();
  }
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.prng();
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }
  /** Exponential with the given rate (mean 1/rate), by the ziggurat method. */
  exponential(rate: number): number {
    // alea's outputs are exact multiples of 2^-32, so jz is the 32-bit integer behind the draw.
    const jz = this.prng() * 4294967296;
    const iz = jz & 255;
    if (jz < ZIG_KE[iz]) return (jz * ZIG_WE[iz]) / rate;
    return this.exponentialSlow(jz, iz) / rate;
  }

  /**
   * An exponential delay in whole nanoseconds with the given mean (ns): the draw times the mean,
   * rounded half up to an integer (Math.floor(x + 0.5), which V8 compiles without the branch
   * Math.round costs on the hot path). For the engine's integer clock: `sim.schedule(rng.exponentialNs(m), ...)`.
   */
  exponentialNs(meanNs: number): number {
    return Math.floor(this.exponential(1) * meanNs + 0.5);
  }

  /** The ziggurat's rejection and tail steps (about 1% of draws). */
  private exponentialSlow(jz: number, iz: number): number {
    for (;;) {
      if (iz === 0) return ZIG_R - Math.log(1 - this.prng());
      const x = jz * ZIG_WE[iz];
      if (ZIG_FE[iz] + this.prng() * (ZIG_FE[iz - 1] - ZIG_FE[iz]) < Math.exp(-x)) return x;
      jz = this.prng() * 4294967296;
      iz = jz & 255;
      if (jz < ZIG_KE[iz]) return jz * ZIG_WE[iz];
    }
  }
  /** Normal (Box-Muller, polar form). */
  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + sd * z;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.prng() - 1;
      v = 2 * this.prng() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    return mean + sd * u * f;
  }
  /** Zipf over ranks 0..n-1 with exponent s (rank 0 most likely). */
  zipf(n: number, s: number): number {
    return searchCdf(zipfCdf(n, s), this.prng());
  }
  /** Index drawn with probability proportional to `weights`. */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i];
    let u = this.prng() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }
  /** Fisher-Yates shuffle in place. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

/** The root stream of a run. */
export function rootStream(seed: number | string): RandomStream {
  return new RandomStream(`moesim:${seed}`);
}
