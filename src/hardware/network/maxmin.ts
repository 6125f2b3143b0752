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
 */
import { grown } from "../../util/arrays.js";
import { MinHeap } from "./heap.js";
import { MAX_ROUTE } from "./routes.js";

export class MaxMin {
  // ---- constraints ----
  private nCons = 0;
  /** Capacity of each constraint. */
  cap = new Float64Array(64);
  /** How many variables use each constraint: vars[c][0 .. count[c]). */
  count = new Int32Array(64);
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

  // ---- solver scratch ----
  private remCap = new Float64Array(64);
  private unfixed = new Int32Array(64);
  private readonly heap = new MinHeap();
  private standalone: number[] = [];

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
      this.remCap = new Float64Array(n);
      this.unfixed = new Int32Array(n);
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
    const remCap = this.remCap;
    const unf = this.unfixed;
    const count = this.count;
    const nCons = this.nCons;
    const heap = this.heap;
    heap.clear();
    for (let i = 0; i < nC; i++) {
      const c = cs[i];
      remCap[c] = this.cap[c];
      unf[c] = count[c];
      heap.push(remCap[c] / unf[c], c);
    }
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

  private fix(v: number, r: number): void {
    this.fixed[v] = 1;
    this.value[v] = r;
    const base = v * MAX_ROUTE;
    const len = this.len[v];
    for (let k = 0; k < len; k++) {
      const c = this.cons[base + k];
      this.remCap[c] -= r;
      this.unfixed[c]--;
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
    return v;
  }

  /** Removes a variable added by addVariable. */
  removeVariable(v: number): void {
    const i = this.standalone.indexOf(v);
    if (i < 0) throw new Error(`no variable ${v}`);
    for (let k = this.len[v] - 1; k >= 0; k--) this.detach(v, k);
    this.standalone.splice(i, 1);
  }

  /** Solves every variable added by addVariable, over every constraint in use. */
  solveAll(): void {
    const vs = Int32Array.from(this.standalone);
    const cs: number[] = [];
    for (let c = 0; c < this.nCons; c++) if (this.count[c] > 0) cs.push(c);
    this.solve(vs, vs.length, Int32Array.from(cs), cs.length);
  }
}
