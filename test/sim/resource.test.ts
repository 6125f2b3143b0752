import { describe, expect, it } from "vitest";
import {
  Fifo,
  Resource,
  Signal,
  Simulation,
  SimulationError,
  Store,
  type ProcessGenerator,
} from "../../src/sim/index.js";

describe("Resource", () => {
  it("serves waiters in FIFO order, `capacity` at a time (callback style)", () => {
    const sim = new Simulation();
    const res = new Resource(sim, 2, "nic");
    const log: string[] = [];
    for (const [name, arrive, hold] of [
      ["a", 0, 10],
      ["b", 1, 10],
      ["c", 2, 1],
      ["d", 3, 1],
      ["e", 3, 1],
    ] as const) {
      sim.at(arrive, () =>
        res.acquire(() => {
          log.push(`${name}+${sim.now}`);
          sim.schedule(hold, () => {
            log.push(`${name}-${sim.now}`);
            res.release();
          });
        }),
      );
    }
    sim.run();
    expect(log).toEqual(["a+0", "b+1", "a-10", "c+10", "b-11", "d+11", "c-11", "e+11", "d-12", "e-12"]);
    expect(res.busy).toBe(0);
    expect(res.queueLength).toBe(0);
  });

  it("serves generator processes in request order", () => {
    const sim = new Simulation();
    const res = new Resource(sim, 1, "gpu");
    const order: string[] = [];
    function* user(name: string, arrive: number): ProcessGenerator {
      yield arrive;
      yield res.request();
      order.push(`${name}@${sim.now}`);
      yield 100;
      res.release();
    }
    // started in one order, arriving in another
    sim.process(user("late", 30));
    sim.process(user("first", 0));
    sim.process(user("second", 10));
    sim.process(user("third", 20));
    sim.run();
    expect(order).toEqual(["first@0", "second@100", "third@200", "late@300"]);
  });

  it("keeps time-weighted statistics of the queue and of busy units", () => {
    const sim = new Simulation();
    const res = new Resource(sim, 1);
    // one holder over [0, 40); a second waits over [10, 40) then holds over [40, 60)
    sim.at(0, () => res.acquire(() => sim.schedule(40, () => res.release())));
    sim.at(10, () => res.acquire(() => sim.schedule(20, () => res.release())));
    sim.run({ until: 100 });
    const st = res.stats();
    expect(st.meanQueueLength).toBeCloseTo(30 / 100, 12);
    expect(st.meanBusy).toBeCloseTo(60 / 100, 12);
  });

  it("rejects a bad capacity and a release without an acquire", () => {
    const sim = new Simulation();
    expect(() => new Resource(sim, 0, "zero")).toThrow(/resource "zero".*capacity/);
    expect(() => new Resource(sim, 1.5, "half")).toThrow(SimulationError);
    expect(() => new Resource(sim, 1, "r").release()).toThrow(/resource "r" released more often/);
  });
});

describe("Store", () => {
  it("hands items out in FIFO order and makes getters wait, in order, for puts", () => {
    const sim = new Simulation();
    const store = new Store<string>(sim, "inbox");
    const got: string[] = [];
    function* consumer(name: string): ProcessGenerator {
      for (;;) {
        const item = (yield store.get()) as string;
        got.push(`${name}:${item}@${sim.now}`);
        yield 5;
      }
    }
    store.put("early");
    sim.process(consumer("c1"));
    sim.process(consumer("c2"));
    sim.at(10, () => {
      store.put("x");
      store.put("y");
      store.put("z");
    });
    sim.run();
    // c1 takes "early" at 0; both wait from 0 / 5; puts at 10 go to the waiters in the order they waited
    expect(got).toEqual(["c1:early@0", "c2:x@10", "c1:y@10", "c2:z@15"]);
    expect(store.length).toBe(0);
  });
});

describe("Signal", () => {
  it("wakes every waiter pending at notify(), with the value, and no later ones", () => {
    const sim = new Simulation();
    const sig = new Signal<number>(sim, "batch-ready");
    const woke: string[] = [];
    for (const name of ["a", "b", "c"]) sig.wait().then((v) => woke.push(`${name}:${v}@${sim.now}`));
    let count = -1;
    sim.at(7, () => (count = sig.notify(99)));
    sim.at(8, () => sig.wait().then(() => woke.push("late")));
    sim.run();
    expect(count).toBe(3);
    expect(woke).toEqual(["a:99@7", "b:99@7", "c:99@7"]);
  });
});

describe("Fifo", () => {
  it("keeps order across many pushes and shifts (through its compaction)", () => {
    const f = new Fifo<number>();
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) f.push(next++);
      for (let i = 0; i < 70; i++) out.push(f.shift()!);
    }
    while (f.length > 0) out.push(f.shift()!);
    expect(f.shift()).toBeUndefined();
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});
