import { SimulationError } from "./errors.js";
import { SimEvent, type Simulation } from "./engine.js";

/** A FIFO queue: a ring buffer with a power-of-two capacity, O(1) push and shift. */
export class Fifo<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined);
  private mask = 15;
  private head = 0;
  private size = 0;
  get length(): number {
    return this.size;
  }
  push(x: T): void {
    if (this.size > this.mask) this.grow();
    this.items[(this.head + this.size) & this.mask] = x;
    this.size++;
  }
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const h = this.head;
    const x = this.items[h];
    this.items[h] = undefined;
    this.head = (h + 1) & this.mask;
    this.size--;
    return x;
  }
  private grow(): void {
    const old = this.items;
    const n = old.length;
    const next = new Array<T | undefined>(2 * n).fill(undefined);
    for (let i = 0; i < n; i++) next[i] = old[(this.head + i) & this.mask];
    this.items = next;
    this.mask = 2 * n - 1;
    this.head = 0;
  }
}

/**
 * A resource with `capacity` identical units and a FIFO wait queue (SimPy's Resource).
 * Callback style: `acquire(fn)` calls fn when a unit is held; generator style: `yield res.request()`.
 * Either way the holder calls `release()`.
 */
export class Resource {
  // Fields are `declare`d and assigned in the constructor (see ScheduledEvent in queue.ts).
  declare readonly sim: Simulation;
  declare readonly capacity: number;
  declare readonly name: string;
  declare private inUse: number;
  declare private readonly waiters: Fifo<() => void>;
  /** Time-weighted statistics of the wait queue length and of busy units. */
  declare private lastChange: number;
  declare private queueArea: number;
  declare private busyArea: number;

  constructor(sim: Simulation, capacity = 1, name = "resource") {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) {
      throw new SimulationError(`resource "${name}": capacity must be a positive integer, got ${capacity}`);
    }
    this.sim = sim;
    this.capacity = capacity;
    this.name = name;
    this.inUse = 0;
    this.waiters = new Fifo<() => void>();
    this.lastChange = 0;
    this.queueArea = 0;
    this.busyArea = 0;
  }

  get busy(): number {
    return this.inUse;
  }
  get queueLength(): number {
    return this.waiters.length;
  }

  private account(): void {
    const now = this.sim.now;
    const dt = now - this.lastChange;
    if (dt > 0) {
      this.queueArea += dt * this.waiters.length;
      this.busyArea += dt * this.inUse;
      this.lastChange = now;
    }
  }

  /** Calls `fn` (synchronously if a unit is free, else when one is released to it). */
  acquire(fn: () => void): void {
    this.account();
    if (this.inUse < this.capacity) {
      this.inUse++;
      fn();
    } else {
      this.waiters.push(fn);
    }
  }

  /** An event that fires when a unit is held by the requester. */
  request(): SimEvent<void> {
    const ev = new SimEvent<void>(this.sim, `${this.name}.request`);
    this.acquire(() => {
      ev.succeed();
    });
    return ev;
  }

  release(): void {
    this.account();
    if (this.inUse <= 0) throw new SimulationError(`resource "${this.name}" released more often than acquired`);
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.inUse--;
  }

  /** Time-averaged number waiting and number busy since time 0 (up to now). */
  stats(): { meanQueueLength: number; meanBusy: number } {
    this.account();
    const t = this.sim.now;
    return { meanQueueLength: t > 0 ? this.queueArea / t : 0, meanBusy: t > 0 ? this.busyArea / t : 0 };
  }
}

/** An unbounded FIFO store of items; `get()` waits until an item is there. */
export class Store<T> {
  private readonly items = new Fifo<T>();
  private readonly getters = new Fifo<SimEvent<T>>();
  constructor(
    readonly sim: Simulation,
    readonly name = "store",
  ) {}
  get length(): number {
    return this.items.length;
  }
  put(item: T): void {
    const g = this.getters.shift();
    if (g !== undefined) g.succeed(item);
    else this.items.push(item);
  }
  get(): SimEvent<T> {
    const ev = new SimEvent<T>(this.sim, `${this.name}.get`);
    if (this.items.length > 0) ev.succeed(this.items.shift());
    else this.getters.push(ev);
    return ev;
  }
}

/** A broadcast signal: every `wait()` pending when `notify()` is called fires with its value. */
export class Signal<T = void> {
  private waiting: SimEvent<T>[] = [];
  constructor(
    readonly sim: Simulation,
    readonly name = "signal",
  ) {}
  wait(): SimEvent<T> {
    const ev = new SimEvent<T>(this.sim, `${this.name}.wait`);
    this.waiting.push(ev);
    return ev;
  }
  notify(value?: T): number {
    const w = this.waiting;
    this.waiting = [];
    for (const ev of w) ev.succeed(value);
    return w.length;
  }
}
