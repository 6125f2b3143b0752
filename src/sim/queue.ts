import { PriorityQueue } from "@js-sdsl/priority-queue";
import type { Ns } from "./time.js";

/**
 * One scheduled event. Ordered by (time, priority, seq): lower first. A class, so every event has
 * one shape. The fields are `declare`d and assigned in the constructor only: ES2022 class-field
 * declarations would first define each as undefined and then change its representation on
 * assignment, which measurably slowed the engine's hot path.
 */
export class ScheduledEvent {
  declare readonly time: Ns;
  declare readonly priority: number;
  declare readonly seq: number;
  declare readonly name: string;
  declare readonly fn: () => void;
  declare cancelled: boolean;
  constructor(time: Ns, priority: number, seq: number, name: string, fn: () => void) {
    this.time = time;
    this.priority = priority;
    this.seq = seq;
    this.name = name;
    this.fn = fn;
    this.cancelled = false;
  }
}

/** The interface the engine needs from an event queue, so alternatives can be measured side by side. */
export interface EventQueue {
  push(e: ScheduledEvent): void;
  pop(): ScheduledEvent | undefined;
  peek(): ScheduledEvent | undefined;
  readonly length: number;
}

/** The (time, priority, seq) order as a comparator: negative when a runs first. */
export function compareEvents(a: ScheduledEvent, b: ScheduledEvent): number {
  const at = a.time;
  const bt = b.time;
  if (at !== bt) return at < bt ? -1 : 1;
  const ap = a.priority;
  const bp = b.priority;
  if (ap !== bp) return ap < bp ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * The default queue: @js-sdsl/priority-queue with the (time, priority, seq) comparator. A subclass
 * rather than a wrapper, so push/pop are the library's own methods with no extra call layer.
 */
export class SdslEventQueue extends PriorityQueue<ScheduledEvent> implements EventQueue {
  constructor() {
    super([], compareEvents, false);
  }
  peek(): ScheduledEvent | undefined {
    return this.top();
  }
}

/** a < b in (time, priority, seq) order, written out so that V8 compiles it to straight compares. */
function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  const at = a.time;
  const bt = b.time;
  if (at !== bt) return at < bt;
  const ap = a.priority;
  const bp = b.priority;
  if (ap !== bp) return ap < bp;
  return a.seq < b.seq;
}

/**
 * A hand-written 4-ary min-heap with the same ordering (sequence numbers are unique, so the
 * order is total and both queues run events in exactly the same order). Measured beside the
 * default in bench/engine; selectable with `new Simulation({ queue: "heap4" })`.
 */
export class QuaternaryHeapEventQueue implements EventQueue {
  private a: ScheduledEvent[] = [];
  get length(): number {
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
      if (!before(e, q)) break;
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
        if (before(v, bv)) {
          best = k;
          bv = v;
        }
      }
      if (!before(bv, last)) break;
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
