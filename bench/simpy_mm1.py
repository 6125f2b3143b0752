"""M/M/1 in SimPy 2 (Debian's python3-simpy 2.3.1), the reference for bench/engine.ts.

The same model as bench/engine.ts: a source process creates `customers` customers with
exponential inter-arrival times (rate LAMBDA); each customer is a process that requests the
single server, holds it for an exponential service time (rate MU), and releases it.

Usage: /usr/bin/python3 bench/simpy_mm1.py CUSTOMERS [SEED]
Prints one JSON line: customers, wall and process-CPU seconds, mean wait in queue, simulated time.
"""
import json
import random
import sys
import time

from SimPy.Simulation import Process, Resource, activate, hold, initialize, now, release, request, simulate

LAMBDA = 0.9  # arrivals per time unit
MU = 1.0      # services per time unit (rho = 0.9)


class Stats:
    waited = 0.0
    served = 0


class Customer(Process):
    def visit(self, server, rng):
        arrive = now()
        yield request, self, server
        Stats.waited += now() - arrive
        yield hold, self, rng.expovariate(MU)
        yield release, self, server
        Stats.served += 1


class Source(Process):
    def generate(self, n, server, rng):
        for _ in range(n):
            c = Customer()
            activate(c, c.visit(server, rng))
            yield hold, self, rng.expovariate(LAMBDA)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 42
    rng = random.Random(seed)
    t0 = time.perf_counter()
    c0 = time.process_time()
    initialize()
    server = Resource(capacity=1, name="server")
    src = Source()
    activate(src, src.generate(n, server, rng))
    simulate(until=1e18)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(json.dumps({
        "customers": Stats.served,
        "wall_s": wall,
        "cpu_s": cpu,
        "mean_wait": Stats.waited / max(Stats.served, 1),
        "sim_time": now(),
        "simpy_version": __import__("SimPy").__version__,
    }))


if __name__ == "__main__":
    main()
