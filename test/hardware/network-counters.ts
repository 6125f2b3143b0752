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
