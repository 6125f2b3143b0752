import { PriorityQueue } from "@js-sdsl/priority-queue";
import type { Ns } from "./time.js";

/** One scheduled event. Ordered by (time, priority, seq): lower first. A class, so every event has one shape. */
export class ScheduledEvent {
  cancelled = false;
  constructor(
    readonly time: Ns,
    readonly priority: number,
    readonly seq: number,
    readonly name: string,
    readonly fn: () => void,
  ) {}
}

/** The interface the engine needs from an event queue, so alternatives can be measured side by side. */
export interface EventQueue {
  push(e: ScheduledEvent): void;
  pop(): ScheduledEvent | undefined;
  peek(): ScheduledEvent | undefined;
  readonly size: number;
}

export function compareEvents(a: ScheduledEvent, b: ScheduledEvent): number {
  return a.time - b.time || a.priority - b.priority || a.seq - b.seq;
}

/** The default queue: @js-sdsl/priority-queue with the (time, priority, seq) comparator. */
export class SdslEventQueue implements EventQueue {
  private readonly pq = new PriorityQueue<ScheduledEvent>([], compareEvents, false);
  push(e: ScheduledEvent): void {
    this.pq.push(e);
  }
  pop(): ScheduledEvent | undefined {
    return this.pq.pop();
  }
  peek(): ScheduledEvent | undefined {
    return this.pq.top();
  }
  get size(): number {
    return this.pq.size();
  }
}

/**
 * A hand-inlined 4-ary min-heap with the same ordering. Measured beside the default in
 * bench/engine; selectable with `new Simulation({ queue: "heap4" })`.
 */
export class QuaternaryHeapEventQueue implements EventQueue {
  private a: ScheduledEvent[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): ScheduledEvent | undefined {
    return this.a[0];
  }
  push(e: ScheduledEvent): void {
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 2;
      const q = a[p];
      if (compareEvents(q, e) <= 0) break;
      a[i] = q;
      i = p;
    }
    a[i] = e;
  }
  pop(): ScheduledEvent | undefined {
    const a = this.a;
    const n = a.length;
    if (n === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    const m = n - 1;
    if (m === 0) return top;
    let i = 0;
    for (;;) {
      const c = 4 * i + 1;
      if (c >= m) break;
      let best = c;
      let bv = a[c];
      const end = c + 4 < m ? c + 4 : m;
      for (let k = c + 1; k < end; k++) {
        const v = a[k];
        if (compareEvents(v, bv) < 0) {
          best = k;
          bv = v;
        }
      }
      if (compareEvents(bv, last) >= 0) break;
      a[i] = bv;
      i = best;
    }
    a[i] = last;
    return top;
  }
}

export type QueueKind = "sdsl" | "heap4";

export function makeQueue(kind: QueueKind): EventQueue {
  return kind === "heap4" ? new QuaternaryHeapEventQueue() : new SdslEventQueue();
}
