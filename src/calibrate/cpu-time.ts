/**
 * The driver's CPU time, for timing a software adapter (lavapipe). There the "GPU" is worker
 * threads of this process on the host's CPU cores; on a machine shared with other processes the
 * wall clock (and lavapipe's timestamp queries, which read it) stretches with their load, while
 * the CPU time the driver's threads spend on the work hardly moves. The timer sums, over the
 * threads that Dawn and the driver started (every thread of this process not yet running when the
 * GPU instance was created: Node's own threads, the JS thread that polls for completion included,
 * are left out), the time each spent on a CPU (the first field of /proc/self/task/TID/schedstat,
 * ns; Linux Documentation/scheduler/sched-stats.rst) between the submit and the completion.
 */
import { readFileSync, readdirSync } from "node:fs";

let hostThreads: Set<string> | null = null;

/** The threads of this process now (Linux: /proc/self/task); empty where /proc is absent. */
function taskIds(): string[] {
  try {
    return readdirSync("/proc/self/task");
  } catch {
    return [];
  }
}

/** Records the process's threads before the GPU instance starts its own (called once, by getGpu). */
export function noteHostThreads(): void {
  hostThreads ??= new Set(taskIds());
}

/** Whether this host can read per-thread CPU time (Linux with schedstat). */
export function cpuTimeAvailable(): boolean {
  try {
    readFileSync("/proc/self/task/" + process.pid + "/schedstat", "utf8");
    return true;
  } catch {
    return false;
  }
}

/** CPU time (ns) of each thread the GPU instance started, by thread id. */
export function driverThreadTimes(): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of taskIds()) {
    if (hostThreads?.has(t)) continue;
    try {
      out.set(t, Number(readFileSync(`/proc/self/task/${t}/schedstat`, "utf8").split(" ")[0]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** CPU time the driver's threads spent between two snapshots (threads started in between count from 0). */
export function cpuTimeBetween(before: Map<string, number>, after: Map<string, number>): number {
  let ns = 0;
  for (const [t, v] of after) ns += Math.max(0, v - (before.get(t) ?? 0));
  return ns;
}

/**
 * The size of one core's level-1 data cache, bytes (Linux sysfs,
 * /sys/devices/system/cpu/cpu0/cache/index* with level 1 and type Data); undefined where unknown.
 */
export function hostL1dBytes(): number | undefined {
  const dir = "/sys/devices/system/cpu/cpu0/cache";
  try {
    for (const idx of readdirSync(dir)) {
      if (!idx.startsWith("index")) continue;
      const read = (f: string) => readFileSync(`${dir}/${idx}/${f}`, "utf8").trim();
      if (read("level") !== "1" || read("type") !== "Data") continue;
      const m = /^(\d+)([KMG]?)$/.exec(read("size"));
      if (!m) return undefined;
      return Number(m[1]) * ({ "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]];
    }
  } catch {
    // no sysfs
  }
  return undefined;
}
