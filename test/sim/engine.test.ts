import { describe, expect, it } from "vitest";
import {
  EventLog,
  PRIORITY_URGENT,
  Simulation,
  SimulationError,
  type ProcessGenerator,
  type QueueKind,
} from "../../src/sim/index.js";
import { runMmc } from "./mmc-model.js";

const kinds: QueueKind[] = ["sdsl", "heap4"];

describe.each(kinds)("Simulation (%s queue)", (queue) => {
  it("runs events in time order and advances the clock to each", () => {
    const sim = new Simulation({ queue });
    const seen: [string, number][] = [];
    sim.schedule(30, () => seen.push(["c", sim.now]));
    sim.schedule(10, () => seen.push(["a", sim.now]));
    sim.at(20, () => seen.push(["b", sim.now]));
    const r = sim.run();
    expect(seen).toEqual([
      ["a", 10],
      ["b", 20],
      ["c", 30],
    ]);
    expect(r).toEqual({ now: 30, events: 3, reason: "empty" });
    expect(sim.eventCount).toBe(3);
  });

  it("orders equal-time events by priority, then by insertion", () => {
    const sim = new Simulation({ queue });
    const seen: string[] = [];
    sim.schedule(5, () => seen.push("n1"));
    sim.schedule(5, () => seen.push("late-urgent"), { priority: PRIORITY_URGENT });
    sim.schedule(5, () => seen.push("p1"), { priority: 1 });
    sim.schedule(5, () => seen.push("n2"));
    sim.schedule(5, () => seen.push("urgent2"), { priority: PRIORITY_URGENT });
    sim.run();
    expect(seen).toEqual(["late-urgent", "urgent2", "n1", "n2", "p1"]);
  });

  it("runs a zero-delay event scheduled from an event after the current one, at the same time", () => {
    const sim = new Simulation({ queue });
    const seen: string[] = [];
    sim.schedule(7, () => {
      seen.push("first");
      sim.schedule(0, () => seen.push(`child@${sim.now}`));
    });
    sim.schedule(7, () => seen.push("second"));
    sim.run();
    expect(seen).toEqual(["first", "second", "child@7"]);
  });

  it("cancel() skips an event and it is not counted", () => {
    const sim = new Simulation({ queue });
    const seen: string[] = [];
    const e = sim.schedule(10, () => seen.push("cancelled"));
    sim.schedule(20, () => seen.push("kept"));
    sim.schedule(5, () => sim.cancel(e));
    const r = sim.run();
    expect(seen).toEqual(["kept"]);
    expect(r.events).toBe(2);
  });

  describe("run()", () => {
    it("until: runs events at exactly `until`, none later, and leaves the clock at `until`", () => {
      const sim = new Simulation({ queue });
      const seen: number[] = [];
      for (const t of [5, 10, 15]) sim.at(t, () => seen.push(t));
      const r1 = sim.run({ until: 10 });
      expect(seen).toEqual([5, 10]);
      expect(r1).toEqual({ now: 10, events: 2, reason: "until" });
      expect(sim.pending).toBe(1);
      // a later run continues from there
      const r2 = sim.run({ until: 12 });
      expect(r2).toEqual({ now: 12, events: 0, reason: "until" });
      expect(sim.now).toBe(12);
      const r3 = sim.run();
      expect(seen).toEqual([5, 10, 15]);
      expect(r3).toEqual({ now: 15, events: 1, reason: "empty" });
    });

    it("until with an empty queue moves the clock to `until`", () => {
      const sim = new Simulation({ queue });
      sim.at(3, () => {});
      expect(sim.run({ until: 100 })).toEqual({ now: 100, events: 1, reason: "empty" });
      expect(sim.now).toBe(100);
    });

    it("until in the past or NaN throws", () => {
      const sim = new Simulation({ queue });
      sim.run({ until: 50 });
      expect(() => sim.run({ until: 49 })).toThrow(/in the past/);
      expect(() => sim.run({ until: NaN })).toThrow(SimulationError);
    });

    it("maxEvents stops after that many events", () => {
      const sim = new Simulation({ queue });
      const seen: number[] = [];
      for (let t = 1; t <= 5; t++) sim.at(t, () => seen.push(t));
      expect(sim.run({ maxEvents: 2 })).toEqual({ now: 2, events: 2, reason: "maxEvents" });
      expect(seen).toEqual([1, 2]);
      expect(sim.run({ maxEvents: 10 })).toEqual({ now: 5, events: 3, reason: "empty" });
    });

    it("stopWhen is checked after every event", () => {
      const sim = new Simulation({ queue });
      let count = 0;
      for (let t = 1; t <= 5; t++) sim.at(t, () => count++);
      expect(sim.run({ stopWhen: () => count === 3 })).toEqual({ now: 3, events: 3, reason: "condition" });
      expect(count).toBe(3);
    });

    it("refuses to be re-entered from inside an event", () => {
      const sim = new Simulation({ queue });
      let err: unknown;
      sim.schedule(1, () => {
        try {
          sim.run();
        } catch (e) {
          err = e;
        }
      });
      sim.run();
      expect(err).toBeInstanceOf(SimulationError);
    });
  });

  describe("errors name the event", () => {
    it("scheduling in the past", () => {
      const sim = new Simulation({ queue });
      sim.run({ until: 100 });
      expect(() => sim.at(99, () => {}, { name: "gpu3.kernel-done" })).toThrow(
        /event "gpu3\.kernel-done".*in the past/,
      );
    });
    it("a negative delay", () => {
      const sim = new Simulation({ queue });
      expect(() => sim.schedule(-5, () => {}, { name: "link.transfer" })).toThrow(
        /event "link\.transfer".*-5.*in the past/,
      );
      expect(() => sim.scheduleRaw(-1, () => {}, 0, "raw-evt")).toThrow(/event "raw-evt"/);
    });
    it("NaN delays and times", () => {
      const sim = new Simulation({ queue });
      expect(() => sim.schedule(NaN, () => {}, { name: "nan-delay" })).toThrow(/event "nan-delay".*NaN/);
      expect(() => sim.at(NaN, () => {}, { name: "nan-time" })).toThrow(/event "nan-time".*NaN/);
      expect(() => sim.timeout(NaN, "nan-timeout")).toThrow(/event "nan-timeout"/);
    });
    it("non-integer and infinite delays", () => {
      const sim = new Simulation({ queue });
      expect(() => sim.schedule(1.5, () => {}, { name: "frac" })).toThrow(/event "frac".*integer/);
      expect(() => sim.schedule(Infinity, () => {}, { name: "inf" })).toThrow(/event "inf"/);
    });
    it("none of them leaves anything in the queue", () => {
      const sim = new Simulation({ queue });
      expect(() => sim.schedule(-1, () => {})).toThrow();
      expect(sim.pending).toBe(0);
    });
  });

  describe("SimEvent", () => {
    it("delivers its value to callbacks added before and after it fired", () => {
      const sim = new Simulation({ queue });
      const ev = sim.event<number>("answer");
      const got: [string, number, number][] = [];
      ev.then((v) => got.push(["before", v, sim.now]));
      sim.schedule(10, () => {
        ev.succeed(42);
      });
      sim.schedule(20, () => {
        ev.then((v) => got.push(["after", v, sim.now]));
      });
      sim.run();
      expect(got).toEqual([
        ["before", 42, 10],
        ["after", 42, 20],
      ]);
      expect(ev.triggered && ev.processed).toBe(true);
    });

    it("throws when triggered twice, naming the event", () => {
      const sim = new Simulation({ queue });
      const ev = sim.event("once");
      ev.succeed();
      expect(() => ev.succeed()).toThrow(/"once" was triggered twice/);
    });

    it("timeout fires after its delay", () => {
      const sim = new Simulation({ queue });
      let at = -1;
      sim.timeout(250).then(() => (at = sim.now));
      sim.run();
      expect(at).toBe(250);
    });

    it("allOf fires when the last event fires, with the values in order", () => {
      const sim = new Simulation({ queue });
      const a = sim.event<string>("a");
      const b = sim.event<string>("b");
      const c = sim.event<string>("c");
      let got: { v: string[]; t: number } | null = null;
      sim.allOf([a, b, c]).then((v) => (got = { v, t: sim.now }));
      sim.schedule(30, () => {
        a.succeed("A");
      });
      sim.schedule(10, () => {
        c.succeed("C");
      });
      sim.schedule(20, () => {
        b.succeed("B");
      });
      sim.run();
      expect(got).toEqual({ v: ["A", "B", "C"], t: 30 });
    });

    it("allOf of nothing fires at once", () => {
      const sim = new Simulation({ queue });
      let fired = false;
      sim.allOf([]).then((v) => (fired = v.length === 0));
      sim.run();
      expect(fired).toBe(true);
    });
  });

  describe("generator processes", () => {
    it("wait on delays and events, receive event values, and return a value", () => {
      const sim = new Simulation({ queue });
      const trace: string[] = [];
      const ready = sim.event<string>("ready");
      function* worker(): ProcessGenerator<number> {
        trace.push(`start@${sim.now}`);
        yield 5_000; // 5 us
        trace.push(`slept@${sim.now}`);
        const v = (yield ready) as string;
        trace.push(`got ${v}@${sim.now}`);
        yield sim.timeout(100);
        return sim.now;
      }
      const p = sim.process(worker(), "worker");
      sim.schedule(8_000, () => {
        ready.succeed("go");
      });
      let result = -1;
      p.then((v) => (result = v));
      sim.run();
      expect(trace).toEqual(["start@0", "slept@5000", "got go@8000"]);
      expect(result).toBe(8_100);
    });

    it("a process can wait for other processes (a process is an event)", () => {
      const sim = new Simulation({ queue });
      function* child(d: number): ProcessGenerator<number> {
        yield d;
        return d * 2;
      }
      function* parent(): ProcessGenerator<number[]> {
        const kids = [sim.process(child(30)), sim.process(child(10)), sim.process(child(20))];
        const values = (yield sim.allOf(kids)) as number[];
        return [...values, sim.now];
      }
      const p = sim.process(parent());
      sim.run();
      expect(p.value).toEqual([60, 20, 40, 30]);
    });

    it("yielding an already-processed event continues at once with its value (no queue round trip)", () => {
      const sim = new Simulation({ queue });
      const done = sim.event<string>("done");
      done.succeed("v"); // nobody waits: processed at once
      expect(done.processed).toBe(true);
      const got: [unknown, number][] = [];
      function* p(): ProcessGenerator {
        yield 10;
        got.push([yield done, sim.now]);
        got.push([yield done, sim.now]);
      }
      sim.process(p());
      const r = sim.run();
      expect(got).toEqual([
        ["v", 10],
        ["v", 10],
      ]);
      // the process start, its 10 ns wake-up, and nothing else
      expect(r.events).toBe(2);
    });

    it("a bad yield throws a clear error naming the process", () => {
      const sim = new Simulation({ queue });
      function* bad(): ProcessGenerator {
        yield "soon" as unknown as number;
      }
      sim.process(bad(), "confused");
      expect(() => sim.run()).toThrow(/process "confused" yielded soon/);
    });

    it("a negative yielded delay throws naming the process", () => {
      const sim = new Simulation({ queue });
      function* bad(): ProcessGenerator {
        yield -3;
      }
      sim.process(bad(), "backwards");
      expect(() => sim.run()).toThrow(/event "backwards".*-3/);
    });
  });
});

describe("event log", () => {
  const logOf = (seed: string, queue: QueueKind): string => {
    const log = new EventLog();
    runMmc({ rho: 0.9, servers: 2, customers: 20_000, seed, queue, log });
    return log.toJSONL();
  };

  it("is off by default", () => {
    expect(new Simulation().log).toBeNull();
  });

  it("records executed events as JSONL (time, seq, priority, name)", () => {
    const sim = new Simulation({ log: true });
    sim.schedule(3, () => {}, { name: "x" });
    const e = sim.schedule(4, () => {}, { name: "dropped" });
    sim.cancel(e);
    sim.schedule(3, () => {}, { name: "y", priority: -1 });
    sim.run();
    expect(sim.log!.toJSONL()).toBe('{"t":3,"seq":2,"p":-1,"name":"y"}\n{"t":3,"seq":0,"p":0,"name":"x"}\n');
  });

  it("is byte-identical for the same seed in two runs", () => {
    const a = logOf("determinism", "sdsl");
    const b = logOf("determinism", "sdsl");
    expect(a.length).toBeGreaterThan(1_000_000);
    expect(a.split("\n").length - 1).toBe(40_000);
    expect(b).toBe(a);
  });

  it("differs for another seed", () => {
    expect(logOf("determinism-2", "sdsl")).not.toBe(logOf("determinism", "sdsl"));
  });

  it("is identical for both event-queue kinds", () => {
    expect(logOf("queues", "heap4")).toBe(logOf("queues", "sdsl"));
  });
});
