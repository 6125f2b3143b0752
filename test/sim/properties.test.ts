/**
 * Property tests (fast-check): the clock never goes back, and the engine runs events in exactly
 * the (time, priority, insertion sequence) order, checked against a naive reference scheduler,
 * including events scheduled and cancelled from inside events.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Simulation, type QueueKind, type ScheduledEvent } from "../../src/sim/index.js";

/** A plan: initial events, each of which, when run, may schedule children and cancel an earlier event. */
interface Node {
  delay: number;
  priority: number;
  children: Node[];
  cancel: number | null; // index into the list of events scheduled so far
}

const nodeArb: fc.Memo<Node> = fc.memo((depth: number) =>
  fc.record({
    // small delays so that equal times are common
    delay: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 1_000_000 })),
    priority: fc.integer({ min: -2, max: 2 }),
    children: depth <= 1 ? fc.constant([]) : fc.array(nodeArb(depth - 1), { maxLength: 3 }),
    cancel: fc.option(fc.nat({ max: 50 }), { freq: 4 }),
  }),
);
const planArb = fc.array(nodeArb(3), { minLength: 1, maxLength: 25 });

interface Ran {
  id: number;
  time: number;
  priority: number;
  seq: number;
}

/** Runs a plan on the engine; returns what ran, in order. */
function runEngine(plan: Node[], queue: QueueKind): Ran[] {
  const sim = new Simulation({ queue });
  const ran: Ran[] = [];
  const handles: ScheduledEvent[] = [];
  let nextId = 0;
  const schedule = (n: Node): void => {
    const id = nextId++;
    const h = sim.schedule(
      n.delay,
      () => {
        ran.push({ id, time: sim.now, priority: h.priority, seq: h.seq });
        for (const c of n.children) schedule(c);
        if (n.cancel !== null && n.cancel < handles.length) sim.cancel(handles[n.cancel]);
      },
      { priority: n.priority, name: `e${id}` },
    );
    handles.push(h);
  };
  for (const n of plan) schedule(n);
  sim.run();
  return ran;
}

/** The same plan on a reference scheduler: a plain array, the minimum found by linear search. */
function runReference(plan: Node[]): Ran[] {
  interface Pending {
    id: number;
    time: number;
    priority: number;
    seq: number;
    node: Node;
    cancelled: boolean;
  }
  const pending: Pending[] = [];
  const all: Pending[] = [];
  const ran: Ran[] = [];
  let now = 0;
  let seq = 0;
  const schedule = (n: Node): void => {
    const p = { id: all.length, time: now + n.delay, priority: n.priority, seq: seq++, node: n, cancelled: false };
    pending.push(p);
    all.push(p);
  };
  for (const n of plan) schedule(n);
  while (pending.length > 0) {
    let best = 0;
    for (let i = 1; i < pending.length; i++) {
      const a = pending[i];
      const b = pending[best];
      if (
        a.time < b.time ||
        (a.time === b.time && (a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq)))
      )
        best = i;
    }
    const p = pending.splice(best, 1)[0];
    if (p.cancelled) continue;
    now = p.time;
    ran.push({ id: p.id, time: p.time, priority: p.priority, seq: p.seq });
    for (const c of p.node.children) schedule(c);
    if (p.node.cancel !== null && p.node.cancel < all.length) all[p.node.cancel].cancelled = true;
  }
  return ran;
}

describe.each(["sdsl", "heap4"] as QueueKind[])("engine ordering properties (%s queue)", (queue) => {
  it("the clock never goes back", () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const ran = runEngine(plan, queue);
        for (let i = 1; i < ran.length; i++) expect(ran[i].time).toBeGreaterThanOrEqual(ran[i - 1].time);
      }),
      { numRuns: 300 },
    );
  });

  it("equal-time events run in (priority, sequence) order when scheduled up front", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ time: fc.integer({ min: 0, max: 4 }), priority: fc.integer({ min: -3, max: 3 }) }), {
          maxLength: 200,
        }),
        (evs) => {
          const sim = new Simulation({ queue });
          const ran: number[] = [];
          evs.forEach((e, i) => sim.at(e.time, () => ran.push(i), { priority: e.priority }));
          sim.run();
          const expected = evs
            .map((e, i) => ({ ...e, i }))
            .sort((a, b) => a.time - b.time || a.priority - b.priority || a.i - b.i)
            .map((e) => e.i);
          expect(ran).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("runs exactly what a naive (time, priority, seq) scheduler runs, with nested scheduling and cancels", () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const got = runEngine(plan, queue);
        const want = runReference(plan);
        expect(got).toEqual(want);
        // and among events that ran at one time, an urgent one never follows a less urgent one
        // that was already pending when it was scheduled (same seq order => same pending set)
        for (let i = 1; i < got.length; i++) {
          const a = got[i - 1];
          const b = got[i];
          if (a.time === b.time && b.seq < a.seq) expect(a.priority).toBeLessThan(b.priority);
        }
      }),
      { numRuns: 300 },
    );
  });
});
