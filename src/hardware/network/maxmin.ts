/**
 * A max-min fair sharing solver (progressive filling), in the manner of SimGrid's lmm: a system of
 * constraints, each with a capacity, and variables, each using a set of constraints (at most
 * MAX_ROUTE) and optionally bounded by a demand of its own. Solving gives every variable of a set
 * the largest value such that no constraint's used capacity exceeds its capacity and no value can
 * grow without lowering one that is already no larger: repeatedly, the constraint with the smallest
 * fair share (remaining capacity / unfixed variables) fixes its variables at that share, or a
 * variable whose bound is smaller still is fixed at its bound.
 *
 * It knows nothing of time, bytes, GPUs or collectives. The flow model (flow-state.ts, flow.ts)
 * keeps its flows as variables (a flow's slot is its variable id) and its links as constraints, and
 * solves only the connected components a change touched (max-min rates decompose exactly over
 * components). Standalone use (tests, tools): addConstraint, addVariable, solveAll, value[v].
 *
 * Variables and constraints live in typed arrays (struct of arrays) read directly by the flow
 * model; the solver's arithmetic (shares, tolerance, heap order) is the flow model's.
 *
 * Incremental use, after variables were only removed from a solved system (release before
 * detach): `affected` finds the variables whose values may change, solveAbove re-solves only
 * those on what the others leave of their constraints. The argument, and the tolerances, are in
 * docs/hardware.md, "Speed".
 */
import { grown } from "../../util/arrays.js";
import { MinHeap } from "./heap.js";
import { MAX_ROUTE } from "./routes.js";

/**
 * A constraint counts as saturated when its slack is at most this fraction of its capacity, and a
 * value as the largest on it when within this fraction of the largest: some 1,000 times the
 * rounding of a sum of a few thousand values, so that a saturated constraint is seen as one.
 */
export const FAIR_TOL = 1e-11;
/**
 * `affected` keeps the values below (1 - THRESHOLD_MARGIN) x the smallest failing value: one that
 * equals it in exact arithmetic but came out an ulp below is re-solved, not kept.
 */
export const THRESHOLD_MARGIN = 1e-9;

export class MaxMin {
  // ---- constraints ----
  private nCons = 0;
  /** Capacity of each constraint. */
  cap = new Float64Array(64);
  /** How many variables use each constraint: vars[c][0 .. count[c]). */
  count = new Int32Array(64);
  /**
   * Each constraint's slack (capacity - its variables' values) after the last solve covering it,
   * raised by release(); and the largest value on it then (an upper bound once variables left).
   */
  remCap = new Float64Array(64);
  top = new Float64Array(64);
  /**
   * 1 for a constraint that cannot bind while its variables stay as they were at the last solve
   * covering it (markLoose); solves and `affected` leave it out.
   */
  loose = new Uint8Array(64);
  /** The variables using each constraint. */
  readonly vars: Int32Array[] = [];

  // ---- variables ----
  private nVarCap = 0;
  /** Variable v uses constraints cons[v * MAX_ROUTE .. + len[v]). */
  cons = new Int32Array(0);
  len = new Int32Array(0);
  /** Index of v in vars[] of its k-th constraint: at[v * MAX_ROUTE + k]. */
  at = new Int32Array(0);
  /** A variable's own bound (Infinity: none). */
  bound = new Float64Array(0);
  /** The values of the last solve. */
  value = new Float64Array(0);
  private fixed = new Uint8Array(0);
  private mark = new Int32Array(0);

  // ---- solver scratch ----
  private unfixed = new Int32Array(64);
  private consMark = new Int32Array(64);
  private epoch = 0;
  private consList = new Int32Array(64);
  private removedCons = new Int32Array(64); // constraints of released variables: removedCons[0 .. nRemoved)
  private nRemoved = 0;
  /** 1 for a constraint that was saturated when its first variable since the last solve was released. */
  private wasSaturated = new Uint8Array(64);
  /** Constraints (consList) whose residuals `affected` set up for solveAbove. */
  private nAffected = 0;
  private readonly heap = new MinHeap();
  private standalone: number[] = [];
  private addedSinceSolve = false;

  get constraintCount(): number {
    return this.nCons;
  }
  /** Room for variables with ids below n. */
  get variableCapacity(): number {
    return this.nVarCap;
  }

  /** Adds a constraint of the given capacity (> 0); returns its id. */
  addConstraint(capacity: number): number {
    const id = this.nCons++;
    if (id >= this.cap.length) {
      const n = this.cap.length * 2;
      this.cap = grown(this.cap, n);
      this.count = grown(this.count, n);
      this.remCap = grown(this.remCap, n);
      this.top = grown(this.top, n);
      this.loose = grown(this.loose, n);
      this.unfixed = new Int32Array(n);
      this.consMark = grown(this.consMark, n);
      this.wasSaturated = grown(this.wasSaturated, n);
      this.consList = new Int32Array(n);
    }
    this.cap[id] = capacity;
    this.vars.push(new Int32Array(4));
    return id;
  }

  /** Room for variables with ids below n (n larger than the current room), keeping those set. */
  growVariables(n: number): void {
    this.cons = grown(this.cons, n * MAX_ROUTE);
    this.at = grown(this.at, n * MAX_ROUTE);
    this.len = grown(this.len, n);
    this.bound = grown(this.bound, n);
    this.value = grown(this.value, n);
    const fx = new Uint8Array(n);
    fx.set(this.fixed);
    this.fixed = fx;
    this.mark = grown(this.mark, n);
    this.nVarCap = n;
  }

  /** Variable v (an id below variableCapacity, not in use) with `len` constraints and a bound; value 0. */
  setVariable(v: number, len: number, bound: number): void {
    this.len[v] = len;
    this.bound[v] = bound;
    this.value[v] = 0;
  }

  /** Variable v uses constraint c as its k-th; returns how many variables used c before. */
  attach(v: number, k: number, c: number): number {
    const base = v * MAX_ROUTE;
    this.cons[base + k] = c;
    const n = this.count[c]++;
    let list = this.vars[c];
    if (n === list.length) {
      const bigger = new Int32Array(list.length * 2);
      bigger.set(list);
      this.vars[c] = list = bigger;
    }
    list[n] = v;
    this.at[base + k] = n;
    return n;
  }

  /** Variable v leaves its k-th constraint (swap-removal); returns how many variables still use it. */
  detach(v: number, k: number): number {
    const base = v * MAX_ROUTE;
    const c = this.cons[base + k];
    const list = this.vars[c];
    const last = --this.count[c];
    const at = this.at[base + k];
    const moved = list[last];
    if (moved !== v) {
      list[at] = moved;
      const mb = moved * MAX_ROUTE;
      const ml = this.len[moved];
      for (let j = 0; j < ml; j++) {
        if (this.cons[mb + j] === c) {
          this.at[mb + j] = at;
          break;
        }
      }
    }
    return last;
  }

  /**
   * Max-min fair values, by progressive filling, for the variables vs[0..nV) using (only) the
   * constraints cs[0..nC) (every constraint of those variables, each listed once): a closed
   * component of the system. Other variables keep their values.
   */
  solve(vs: Int32Array, nV: number, cs: Int32Array, nC: number): void {
    const fixed = this.fixed;
    for (let i = 0; i < nV; i++) fixed[vs[i]] = 0;
    this.markLoose(cs, nC);
    const remCap = this.remCap;
    const unf = this.unfixed;
    const count = this.count;
    const top = this.top;
    const loose = this.loose;
    const heap = this.heap;
    heap.clear();
    for (let i = 0; i < nC; i++) {
      const c = cs[i];
      if (loose[c] === 1) continue;
      remCap[c] = this.cap[c];
      unf[c] = count[c];
      top[c] = 0;
      heap.push(remCap[c] / unf[c], c);
    }
    this.fill(vs, nV);
  }

  /**
   * Marks the constraints of cs[0..nC) that cannot bind: c is loose when each of its variables
   * has another constraint w before c in (capacity, id) order, and the capacities of those w (each
   * counted once) sum to at most c's (one w common to all, or each variable's first). Any
   * allocation that meets the other constraints then meets c's (its variables' values on each w
   * sum to at most w's capacity), and the ordering makes the witnesses of loose constraints end
   * at constraints that are not loose, so the max-min fair values without the loose constraints
   * are those with them. Removing variables keeps a loose
   * constraint loose; adding one calls for a solve, which marks again.
   */
  private markLoose(cs: Int32Array, nC: number): void {
    for (let i = 0; i < nC; i++) {
      const c = cs[i];
      this.loose[c] = this.commonWitness(c) || this.witnessSum(c) ? 1 : 0;
    }
  }

  /** (capacity, id) of a before b's. */
  private before(a: number, b: number): boolean {
    return this.cap[a] < this.cap[b] || (this.cap[a] === this.cap[b] && a < b);
  }

  /** One constraint before c on the route of every variable of c (the witness of all). */
  private commonWitness(c: number): boolean {
    const cnt = this.count[c];
    if (cnt === 0) return false;
    const list = this.vars[c];
    const cons = this.cons;
    const b0 = list[0] * MAX_ROUTE;
    const l0 = this.len[list[0]];
    for (let k = 0; k < l0; k++) {
      const w = cons[b0 + k];
      if (w === c || !this.before(w, c)) continue;
      let all = true;
      for (let j = 1; j < cnt && all; j++) {
        const base = list[j] * MAX_ROUTE;
        const l = this.len[list[j]];
        all = false;
        for (let x = 0; x < l; x++) {
          if (cons[base + x] === w) {
            all = true;
            break;
          }
        }
      }
      if (all) return true;
    }
    return false;
  }

  /** Each variable of c has its first other constraint (by capacity, id) before c; their capacities sum to <= c's. */
  private witnessSum(c: number): boolean {
    const cap = this.cap;
    const cons = this.cons;
    const cm = this.consMark;
    const ep = ++this.epoch;
    const list = this.vars[c];
    const cnt = this.count[c];
    let sum = 0;
    for (let j = 0; j < cnt; j++) {
      const base = list[j] * MAX_ROUTE;
      const l = this.len[list[j]];
      let w = -1;
      for (let k = 0; k < l; k++) {
        const c2 = cons[base + k];
        if (c2 !== c && (w < 0 || this.before(c2, w))) w = c2;
      }
      if (w < 0 || !this.before(w, c)) return false;
      if (cm[w] !== ep) {
        cm[w] = ep;
        sum += cap[w];
        if (sum > cap[c]) return false;
      }
    }
    return true;
  }

  /**
   * Max-min fair values for the variables `affected` just wrote into vs[0..nV), every other
   * variable sharing a constraint with them keeping its value: solves them on their constraints'
   * capacities less the kept values (which `affected` summed as it found them). This gives the
   * values a full solve would.
   */
  solveAbove(vs: Int32Array, nV: number): void {
    const heap = this.heap;
    heap.clear();
    const cl = this.consList;
    for (let i = 0; i < this.nAffected; i++) {
      const c = cl[i];
      heap.push(Math.max(0, this.remCap[c]) / this.unfixed[c], c);
    }
    this.nAffected = 0;
    this.fill(vs, nV);
  }

  /** Progressive filling of vs[0..nV) from the heap of constraint shares set up by solve or solveAbove. */
  private fill(vs: Int32Array, nV: number): void {
    const fixed = this.fixed;
    const remCap = this.remCap;
    const unf = this.unfixed;
    const count = this.count;
    const nCons = this.nCons;
    const heap = this.heap;
    const bound = this.bound;
    for (let i = 0; i < nV; i++) {
      const v = vs[i];
      if (bound[v] !== Infinity) heap.push(bound[v], nCons + v);
    }
    let left = nV;
    while (heap.size > 0 && left > 0) {
      const key = heap.keys[0];
      const id = heap.ids[0];
      heap.pop();
      if (id >= nCons) {
        const v = id - nCons;
        if (fixed[v] === 1) continue;
        this.fix(v, key);
        left--;
        continue;
      }
      const c = id;
      if (unf[c] === 0) continue;
      const share = Math.max(0, remCap[c]) / unf[c];
      if (share > key * (1 + 1e-12) + 1e-300) {
        heap.push(share, c); // stale: shares only grow as variables elsewhere are fixed
        continue;
      }
      const list = this.vars[c];
      const cnt = count[c];
      for (let j = 0; j < cnt; j++) {
        const v = list[j];
        if (fixed[v] === 1) continue;
        this.fix(v, share);
        left--;
      }
    }
  }

  /**
   * Variable v is about to leave the system (before its detach): its value goes back to its
   * constraints' slack, and it counts among the removals `affected` looks at.
   */
  release(v: number): void {
    const r = this.value[v];
    const base = v * MAX_ROUTE;
    const len = this.len[v];
    for (let k = 0; k < len; k++) {
      const c = this.cons[base + k];
      // The first release since the solve sees the solve's slack (later ones only raise it).
      if (this.remCap[c] <= this.cap[c] * FAIR_TOL) this.wasSaturated[c] = 1;
      this.remCap[c] += r;
      if (this.nRemoved === this.removedCons.length) this.removedCons = grown(this.removedCons, 2 * this.nRemoved);
      this.removedCons[this.nRemoved++] = c;
    }
  }

  /** Forgets the removals noted by release (after the system was solved again). */
  clearRemovals(): void {
    for (let i = 0; i < this.nRemoved; i++) this.wasSaturated[this.removedCons[i]] = 0;
    this.nRemoved = 0;
  }

  /**
   * After removals only (release, detach): writes into out the variables whose values may have
   * changed, and returns how many (0: every value is still max-min fair). A variable on a
   * constraint of a removed one that has no bottleneck left fails; theta is the smallest failing
   * value; out gets the failing variables and every variable of value >= theta connected to them
   * through constraints over such variables. Every other value is what a full solve would give
   * (docs/hardware.md, "Speed"); solveAbove(out, n) gives those in out. O(variables on the removed
   * ones' constraints + (those at such a constraint's largest value + those in out) x route length).
   */
  affected(out: Int32Array): number {
    let ep = ++this.epoch;
    const mark = this.mark;
    const cm = this.consMark;
    const rc = this.removedCons;
    const count = this.count;
    const value = this.value;
    let theta = Infinity;
    let n = 0;
    for (let i = 0; i < this.nRemoved; i++) {
      const c = rc[i];
      // Only a constraint that was saturated can have been a variable's bottleneck, and only for
      // the variables at its largest value: the others had their bottleneck elsewhere, which
      // holds unless it is itself a released constraint (scanned in its turn).
      if (cm[c] === ep || this.loose[c] === 1 || this.wasSaturated[c] === 0) continue;
      cm[c] = ep;
      const list = this.vars[c];
      const cnt = count[c];
      const least = this.top[c] * (1 - FAIR_TOL);
      for (let j = 0; j < cnt; j++) {
        const v = list[j];
        if (mark[v] === ep || value[v] < least) continue;
        mark[v] = ep;
        if (this.bottlenecked(v)) continue;
        out[n++] = v;
        if (value[v] < theta) theta = value[v];
      }
    }
    if (n === 0) return 0;
    theta *= 1 - THRESHOLD_MARGIN;
    ep = ++this.epoch;
    const fixed = this.fixed;
    for (let i = 0; i < n; i++) {
      mark[out[i]] = ep;
      fixed[out[i]] = 0;
    }
    // The region: from the failing variables over constraints to the variables of value >= theta.
    // Each constraint reached is scanned once; it gets the capacity the others (kept) leave.
    const cons = this.cons;
    const len = this.len;
    const cl = this.consList;
    let nC = 0;
    for (let i = 0; i < n; i++) {
      const base = out[i] * MAX_ROUTE;
      const l = len[out[i]];
      for (let k = 0; k < l; k++) {
        const c = cons[base + k];
        if (cm[c] === ep || this.loose[c] === 1) continue;
        cm[c] = ep;
        cl[nC++] = c;
        let rem = this.cap[c];
        let u = 0;
        let t = 0;
        const list = this.vars[c];
        const cnt = count[c];
        for (let j = 0; j < cnt; j++) {
          const w = list[j];
          const x = value[w];
          if (x >= theta) {
            u++;
            if (mark[w] !== ep) {
              mark[w] = ep;
              fixed[w] = 0;
              out[n++] = w;
            }
          } else {
            fixed[w] = 1;
            rem -= x;
            if (x > t) t = x;
          }
        }
        this.remCap[c] = rem;
        this.unfixed[c] = u;
        this.top[c] = t;
      }
    }
    this.nAffected = nC;
    return n;
  }

  /** v is at its bound, or on a saturated constraint where no value exceeds its own (within FAIR_TOL). */
  private bottlenecked(v: number): boolean {
    const x = this.value[v];
    if (x >= this.bound[v] * (1 - FAIR_TOL)) return true;
    const base = v * MAX_ROUTE;
    const len = this.len[v];
    for (let k = 0; k < len; k++) {
      const c = this.cons[base + k];
      if (this.loose[c] === 1) continue;
      if (this.remCap[c] <= this.cap[c] * FAIR_TOL && x >= this.top[c] * (1 - FAIR_TOL)) return true;
    }
    return false;
  }

  private fix(v: number, r: number): void {
    this.fixed[v] = 1;
    this.value[v] = r;
    const base = v * MAX_ROUTE;
    const len = this.len[v];
    for (let k = 0; k < len; k++) {
      const c = this.cons[base + k];
      if (this.loose[c] === 1) continue;
      this.remCap[c] -= r;
      this.unfixed[c]--;
      if (r > this.top[c]) this.top[c] = r;
    }
  }

  // ---- standalone use ----

  /** Adds a variable using the given constraints (at least one, each once), bounded by `bound`; returns its id. */
  addVariable(constraints: readonly number[], bound = Infinity): number {
    const len = constraints.length;
    if (len === 0 || len > MAX_ROUTE) throw new Error(`a variable uses 1..${MAX_ROUTE} constraints, got ${len}`);
    for (const c of constraints) {
      if (!Number.isInteger(c) || c < 0 || c >= this.nCons) throw new Error(`no constraint ${c}`);
    }
    const v = this.standalone.length === 0 ? 0 : Math.max(...this.standalone) + 1;
    if (v >= this.nVarCap) this.growVariables(Math.max(16, 2 * this.nVarCap));
    this.setVariable(v, len, bound);
    for (let k = 0; k < len; k++) this.attach(v, k, constraints[k]);
    this.standalone.push(v);
    this.addedSinceSolve = true;
    return v;
  }

  /** Removes a variable added by addVariable. */
  removeVariable(v: number): void {
    const i = this.standalone.indexOf(v);
    if (i < 0) throw new Error(`no variable ${v}`);
    this.release(v);
    for (let k = this.len[v] - 1; k >= 0; k--) this.detach(v, k);
    this.standalone.splice(i, 1);
  }

  /** Solves every variable added by addVariable, over every constraint in use. */
  solveAll(): void {
    const vs = Int32Array.from(this.standalone);
    const cs: number[] = [];
    for (let c = 0; c < this.nCons; c++) if (this.count[c] > 0) cs.push(c);
    this.solve(vs, vs.length, Int32Array.from(cs), cs.length);
    this.clearRemovals();
    this.addedSinceSolve = false;
  }

  /**
   * The same values as solveAll (within the tolerances of docs/hardware.md, "Speed"),
   * incrementally when variables were only removed since the last solve: only those `affected`
   * re-solved. Returns how many variables it re-solved.
   */
  resolveAll(): number {
    if (this.addedSinceSolve) {
      this.solveAll();
      return this.standalone.length;
    }
    const vs = new Int32Array(this.nVarCap);
    const n = this.affected(vs);
    if (n > 0) this.solveAbove(vs, n);
    this.clearRemovals();
    return n;
  }
}
