import { SimulationError } from "./errors.js";
import { EventLog } from "./log.js";
import { makeQueue, ScheduledEvent, type EventQueue, type QueueKind } from "./queue.js";
import type { Ns } from "./time.js";

/** Priorities: lower runs first among events at the same time. */
export const PRIORITY_URGENT = -1;
export const PRIORITY_NORMAL = 0;

export interface ScheduleOptions {
  priority?: number;
  name?: string;
}

export interface SimulationOptions {
  /** Event queue implementation (default: @js-sdsl/priority-queue). */
  queue?: QueueKind;
  /** Record every executed event (off by default, and free when off). */
  log?: EventLog | boolean;
}

export interface RunOptions {
  /** Stop before executing any event later than this time; the clock is then set to `until`. */
  until?: Ns;
  /** Stop after this many events. */
  maxEvents?: number;
  /** Checked after every event; stops the run when it returns true. */
  stopWhen?: () => boolean;
}

export interface RunResult {
  now: Ns;
  events: number;
  reason: "empty" | "until" | "maxEvents" | "condition";
}

/** What a generator process may yield: a delay in ns, or an event to wait for. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any SimEvent<T> may be waited on
export type Yieldable = number | SimEvent<any>;
/** A generator process: yields delays (ns) or events, receives each event's value, returns T. */
export type ProcessGenerator<T = void> = Generator<Yieldable, T, unknown>;

type Callback<T> = (value: T) => void;

/**
 * A one-shot occurrence that callbacks and processes can wait on (like SimPy's Event).
 * Triggering schedules the callbacks as an urgent event at the current time, so they run in a
 * defined order after the code that triggered them. An event that nobody waits on when it is
 * triggered is processed at once (there is nothing to schedule); a callback added later still
 * runs as an urgent event at the time it is added.
 */
export class SimEvent<T = unknown> {
  // Fields are `declare`d and assigned in the constructor (see ScheduledEvent in queue.ts).
  declare readonly sim: Simulation;
  declare readonly name: string;
  declare private callbacks: Callback<T>[] | null;
  declare private _triggered: boolean;
  declare private _value: T | undefined;

  constructor(sim: Simulation, name = "event") {
    this.sim = sim;
    this.name = name;
    this.callbacks = [];
    this._triggered = false;
    this._value = undefined;
  }

  get triggered(): boolean {
    return this._triggered;
  }
  /** True once the callbacks have run. */
  get processed(): boolean {
    return this.callbacks === null;
  }
  get value(): T | undefined {
    return this._value;
  }

  succeed(value?: T): this {
    if (this._triggered) throw new SimulationError(`event "${this.name}" was triggered twice`);
    this._triggered = true;
    this._value = value;
    if (this.callbacks!.length === 0) this.callbacks = null;
    else this.sim.scheduleRaw(0, () => this.fire(), PRIORITY_URGENT, this.name);
    return this;
  }

  /** Calls `cb` with the value once the event fires (at once, via the queue, if it already has). */
  then(cb: Callback<T>): void {
    if (this.callbacks === null) {
      this.sim.scheduleRaw(0, () => cb(this._value as T), PRIORITY_URGENT, this.name);
    } else {
      this.callbacks.push(cb);
    }
  }

  private fire(): void {
    const cbs = this.callbacks!;
    this.callbacks = null;
    for (let i = 0; i < cbs.length; i++) cbs[i](this._value as T);
  }
}

/** A generator-driven process (SimPy style). It is itself an event that fires with the generator's return value. */
export class Process<T = unknown> extends SimEvent<T> {
  private readonly resume: (v: unknown) => void;
  private readonly wake: () => void;

  constructor(
    sim: Simulation,
    private readonly gen: ProcessGenerator<T>,
    name: string,
  ) {
    super(sim, name);
    this.resume = (v: unknown) => this.step(v);
    this.wake = () => this.step(undefined);
    sim.scheduleRaw(0, this.wake, PRIORITY_NORMAL, name);
  }

  /**
   * Runs the generator up to its next wait. Yielding an event that has already been processed
   * (e.g. a request for a free resource) continues at once with its value, as in SimPy 3,
   * instead of a round trip through the queue.
   */
  private step(value: unknown): void {
    for (;;) {
      const r = this.gen.next(value);
      if (r.done) {
        this.succeed(r.value);
        return;
      }
      const y = r.value;
      if (typeof y === "number") {
        this.sim.scheduleRaw(y, this.wake, PRIORITY_NORMAL, this.name);
        return;
      }
      if (!(y instanceof SimEvent)) {
        throw new SimulationError(`process "${this.name}" yielded ${String(y)}; expected a delay in ns or a SimEvent`);
      }
      if (!y.processed) {
        y.then(this.resume);
        return;
      }
      value = y.value;
    }
  }
}

/**
 * The discrete-event engine: a clock in integer nanoseconds and an event queue ordered by
 * (time, priority, insertion sequence). It knows nothing about what is being simulated.
 */
export class Simulation {
  // Fields are `declare`d and assigned in the constructor (see ScheduledEvent in queue.ts).
  declare private _now: Ns;
  declare private seq: number;
  declare private executed: number;
  declare private running: boolean;
  declare private readonly queue: EventQueue;
  declare readonly log: EventLog | null;

  constructor(opts: SimulationOptions = {}) {
    this._now = 0;
    this.seq = 0;
    this.executed = 0;
    this.running = false;
    this.queue = makeQueue(opts.queue ?? "sdsl");
    this.log = opts.log === true ? new EventLog() : opts.log instanceof EventLog ? opts.log : null;
  }

  get now(): Ns {
    return this._now;
  }
  /** Events executed so far. */
  get eventCount(): number {
    return this.executed;
  }
  /** Events waiting in the queue. */
  get pending(): number {
    return this.queue.length;
  }

  /** Runs `fn` after `delay` ns. */
  schedule(delay: Ns, fn: () => void, opts?: ScheduleOptions): ScheduledEvent {
    return this.scheduleRaw(delay, fn, opts?.priority ?? PRIORITY_NORMAL, opts?.name ?? "anonymous");
  }

  /** Runs `fn` at absolute time `time`. */
  at(time: Ns, fn: () => void, opts?: ScheduleOptions): ScheduledEvent {
    const name = opts?.name ?? "anonymous";
    if (!Number.isInteger(time)) {
      throw new SimulationError(`event "${name}": time must be an integer number of ns, got ${time}`);
    }
    if (time < this._now) {
      throw new SimulationError(`event "${name}": cannot schedule at ${time} ns, in the past (now ${this._now} ns)`);
    }
    return this.scheduleRaw(time - this._now, fn, opts?.priority ?? PRIORITY_NORMAL, name);
  }

  /** The hot path: no option object. */
  scheduleRaw(delay: Ns, fn: () => void, priority: number, name: string): ScheduledEvent {
    if (!(delay >= 0) || !Number.isSafeInteger(delay)) {
      throw new SimulationError(
        `event "${name}": delay must be a non-negative integer number of ns, got ${delay}` +
          (delay < 0 ? " (scheduling in the past)" : ""),
      );
    }
    const e = new ScheduledEvent(this._now + delay, priority, this.seq++, name, fn);
    this.queue.push(e);
    return e;
  }

  /** Cancels a scheduled event (it stays in the queue but is skipped). */
  cancel(e: ScheduledEvent): void {
    e.cancelled = true;
  }

  /** A new untriggered event. */
  event<T = unknown>(name?: string): SimEvent<T> {
    return new SimEvent<T>(this, name);
  }

  /** An event that fires after `delay` ns. */
  timeout(delay: Ns, name = "timeout"): SimEvent<void> {
    const ev = new SimEvent<void>(this, name);
    this.scheduleRaw(
      delay,
      () => {
        ev.succeed();
      },
      PRIORITY_NORMAL,
      name,
    );
    return ev;
  }

  /** Starts a generator process at the current time. */
  process<T>(gen: ProcessGenerator<T>, name = "process"): Process<T> {
    return new Process<T>(this, gen, name);
  }

  /** An event that fires once all `events` have fired, with their values in order. */
  allOf<T>(events: SimEvent<T>[], name = "allOf"): SimEvent<T[]> {
    const done = new SimEvent<T[]>(this, name);
    const values = new Array<T>(events.length);
    let left = events.length;
    if (left === 0) return done.succeed([]);
    events.forEach((ev, i) =>
      ev.then((v) => {
        values[i] = v;
        if (--left === 0) done.succeed(values);
      }),
    );
    return done;
  }

  run(opts: RunOptions = {}): RunResult {
    const until = opts.until ?? Infinity;
    const maxEvents = opts.maxEvents ?? Infinity;
    const stopWhen = opts.stopWhen;
    if (typeof until !== "number" || Number.isNaN(until)) {
      throw new SimulationError(`run(until=${String(until)}): until must be a time in ns`);
    }
    if (until < this._now) {
      throw new SimulationError(`run(until=${until}) is in the past (now ${this._now} ns)`);
    }
    if (!(maxEvents >= 0)) throw new SimulationError(`run(maxEvents=${maxEvents}): expected a count >= 0`);
    if (this.running) throw new SimulationError("run() called from inside an event: the simulation is already running");
    this.running = true;
    try {
      if (until === Infinity && maxEvents === Infinity && stopWhen === undefined) return this.runAll();
      return this.runBounded(until, maxEvents, stopWhen);
    } finally {
      this.running = false;
    }
  }

  /** The hot loop: run until no events are left, nothing else to check. */
  private runAll(): RunResult {
    const q = this.queue;
    const log = this.log;
    const start = this.executed;
    for (;;) {
      const e = q.pop();
      if (e === undefined) break;
      if (e.cancelled) continue;
      this._now = e.time;
      if (log !== null) log.record(e);
      this.executed++;
      e.fn();
    }
    return { now: this._now, events: this.executed - start, reason: "empty" };
  }

  private runBounded(until: Ns, maxEvents: number, stopWhen: (() => boolean) | undefined): RunResult {
    const q = this.queue;
    const log = this.log;
    let n = 0;
    for (;;) {
      const top = q.peek();
      if (top === undefined) {
        if (until !== Infinity) this._now = until;
        return { now: this._now, events: n, reason: "empty" };
      }
      if (top.time > until) {
        this._now = until;
        return { now: this._now, events: n, reason: "until" };
      }
      if (n >= maxEvents) return { now: this._now, events: n, reason: "maxEvents" };
      q.pop();
      if (top.cancelled) continue;
      this._now = top.time;
      if (log !== null) log.record(top);
      this.executed++;
      n++;
      top.fn();
      if (stopWhen !== undefined && stopWhen()) return { now: this._now, events: n, reason: "condition" };
    }
  }
}
