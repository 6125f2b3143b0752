import fc from "fast-check";
import type { Simulation } from "../../src/sim/engine.js";
import type { Cluster } from "../../src/hardware/cluster.js";
import type { NetworkModel } from "../../src/hardware/network/index.js";

/** A network's endpoint counters and finished flows, as plain arrays: what two runs that must agree compare. */
export function networkCounters(
  net: Pick<NetworkModel, "sentBytes" | "receivedBytes" | "deliveredBytes" | "flowsDone">,
) {
  return {
    sent: Array.from(net.sentBytes),
    received: Array.from(net.receivedBytes),
    delivered: Array.from(net.deliveredBytes),
    flows: net.flowsDone,
  };
}

/** A host-to-device copy (pinned) started `delay` ns after collective `nth` (mod their number) started. */
export interface JoiningCopy {
  nth: number;
  delay: number;
  gpu: number;
  bytes: number;
}

/** Up to two joining copies: after one of the first maxNth + 1 collectives, within maxDelay ns, on GPU 0..maxGpu. */
export function joiningCopiesArb(maxNth: number, maxDelay: number, maxGpu: number): fc.Arbitrary<JoiningCopy[]> {
  return fc.array(
    fc.record({
      nth: fc.nat(maxNth),
      delay: fc.integer({ min: 0, max: maxDelay }),
      gpu: fc.nat(maxGpu),
      bytes: fc.integer({ min: 1, max: 8e6 }),
    }),
    { maxLength: 2 },
  );
}

/** Schedules the copies (collective start times `starts`); each pushes [`h<i>`, its completion ns] to done. */
export function scheduleJoiningCopies(
  sim: Simulation,
  cluster: Cluster,
  copies: JoiningCopy[],
  starts: number[],
  done: Array<[string, number]>,
): void {
  const n = cluster.gpuCount;
  copies.forEach((cp, i) => {
    sim.schedule(starts[cp.nth % starts.length] + cp.delay, () =>
      cluster.hostToDevice(cp.gpu % n, cp.bytes, () => void done.push([`h${i}`, sim.now]), { pinned: true }),
    );
  });
}
