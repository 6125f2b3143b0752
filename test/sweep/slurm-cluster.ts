// A private single-node Slurm cluster for tests: munged with its own key and socket, slurmctld and
// slurmd with a generated slurm.conf, all in one temporary folder, on TCP ports chosen at run time,
// so that it neither needs nor touches /etc/slurm, /etc/munge or a system service. Client commands
// reach it through the SLURM_CONF of `cluster.env`.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { delimiter, join } from "node:path";

const DAEMONS = ["munged", "slurmctld", "slurmd"] as const;
const CLIENTS = ["sbatch", "squeue", "scontrol", "scancel", "sinfo"] as const;

export interface SlurmCluster {
  /** The temporary folder holding the configuration, state, spool and logs. */
  dir: string;
  /** The environment for client commands (sbatch, squeue, scontrol): SLURM_CONF names this cluster. */
  env: NodeJS.ProcessEnv;
  /** Runs a client command against this cluster; returns its stdout (throws on a non-zero exit). */
  run(cmd: string, args: string[], cwd?: string, extraEnv?: NodeJS.ProcessEnv): string;
  /** The last lines of every daemon's log, for an error message. */
  logs(): string;
  /** Cancels every job, stops the daemons and removes the folder (idempotent). */
  stop(): Promise<void>;
}

/** Where `name` is: on the PATH, or in /usr/sbin or /sbin (often not on a user's PATH). */
export function findCommand(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin", "/usr/local/sbin"];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return null;
}

/** Why a private cluster cannot be started here, or null. */
export function slurmUnavailable(): string | null {
  const missing = [...DAEMONS, ...CLIENTS].filter((c) => findCommand(c) === null);
  if (missing.length > 0) return `${missing.join(", ")} not installed (run: bash scripts/install-slurm.sh)`;
  // slurmd starts each job as the submitting user, which only root can do.
  if (process.getuid?.() !== 0) return "slurmd must run as root to start jobs (run the test as root)";
  return null;
}

/** A free TCP port on this machine (the kernel's choice; released before it is used). */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** This machine as slurmd sees it (`slurmd -C`): its node name and the NodeName line's hardware fields. */
function nodeHardware(): { name: string; fields: string } {
  const out = execFileSync(findCommand("slurmd")!, ["-C"], { encoding: "utf8" });
  const line = out.split("\n").find((l) => l.startsWith("NodeName="));
  if (!line) throw new Error(`slurmd -C printed no NodeName line:\n${out}`);
  const name = /^NodeName=(\S+)/.exec(line)![1];
  const keep = ["CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory"];
  const fields = line
    .split(/\s+/)
    .filter((kv) => keep.includes(kv.split("=")[0]))
    .join(" ");
  return { name, fields };
}

function slurmConf(dir: string, node: { name: string; fields: string }, ports: [number, number]): string {
  return [
    "ClusterName=moesimtest",
    `SlurmctldHost=${node.name}(127.0.0.1)`,
    `SlurmctldPort=${ports[0]}`,
    `SlurmdPort=${ports[1]}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${join(dir, "munge", "munge.sock")}`,
    `StateSaveLocation=${join(dir, "state")}`,
    `SlurmdSpoolDir=${join(dir, "spool")}`,
    `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
    `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
    `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
    `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
    `PlugStackConfig=${join(dir, "plugstack.conf")}`,
    "MailProg=/bin/true",
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "SchedulerType=sched/backfill",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    "MpiDefault=none",
    "ReturnToService=2",
    // A job this node can never run (more CPUs than it has) is refused at sbatch, not left pending.
    "EnforcePartLimits=ALL",
    `NodeName=${node.name} NodeAddr=127.0.0.1 ${node.fields} State=UNKNOWN`,
    `PartitionName=test Nodes=${node.name} Default=YES MaxTime=INFINITE State=UP`,
    "",
  ].join("\n");
}

/** The environment without the variables of a Slurm job this process may itself be running in. */
function clientEnv(conf: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(SLURM|SBATCH|SALLOC|SRUN)_/.test(k)) env[k] = v;
  env.SLURM_CONF = conf;
  return env;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return `(${file}: no such file)`;
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/** Polls `ok` every 200 ms until it holds, a daemon has exited, or `ms` have passed. */
async function waitFor(what: string, ok: () => boolean, procs: ChildProcess[], logs: () => string, ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (ok()) return;
    const dead = procs.find((p) => p.exitCode !== null || p.signalCode !== null);
    if (dead)
      throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) before ${what}\n${logs()}`);
    await sleep(200);
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what}\n${logs()}`);
}

/** Starts munged, slurmctld and slurmd in the foreground (so that they are this process's children). */
function startDaemon(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(log, "a");
  try {
    const p = spawn(findCommand(cmd)!, args, { stdio: ["ignore", fd, fd], env });
    p.on("error", () => undefined); // reported through exitCode / the log by waitFor
    return p;
  } finally {
    closeSync(fd);
  }
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once("exit", () => r()));
  p.kill("SIGTERM");
  if (await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) return;
  p.kill("SIGKILL");
  await exited;
}

/**
 * Starts a private single-node cluster and waits until its node is idle. On failure everything it
 * started is stopped again before the error is thrown.
 */
export async function startSlurm(timeoutMs = 30_000): Promise<SlurmCluster> {
  const dir = mkdtempSync(join(tmpdir(), "moesim-slurm-"));
  // munged refuses a socket whose folders are not searchable by everyone (mkdtemp makes 0700).
  chmodSync(dir, 0o755);
  for (const d of ["munge", "state", "spool", "log"]) mkdirSync(join(dir, d), { mode: 0o755 });
  const key = join(dir, "munge", "munge.key");
  writeFileSync(key, randomBytes(128), { mode: 0o600 });
  writeFileSync(join(dir, "plugstack.conf"), "");
  const conf = join(dir, "slurm.conf");
  const node = nodeHardware();
  writeFileSync(conf, slurmConf(dir, node, [await freePort(), await freePort()]));
  const env = clientEnv(conf);
  const procs: ChildProcess[] = [];
  const logs = () =>
    ["munged.log", "slurmctld.out", "slurmd.out", "slurmctld.log", "slurmd.log"]
      .map((f) => `--- ${f}\n${tail(join(dir, "log", f))}`)
      .join("\n");
  const run = (cmd: string, args: string[], cwd?: string, extraEnv: NodeJS.ProcessEnv = {}) =>
    execFileSync(findCommand(cmd)!, args, {
      env: { ...env, ...extraEnv },
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  const killAll = () => procs.forEach((p) => p.exitCode === null && p.signalCode === null && p.kill("SIGKILL"));
  process.once("exit", killAll);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (procs.length === 3)
      spawnSync(findCommand("scancel")!, ["--full", `--user=${userInfo().username}`], { env, stdio: "ignore" });
    // slurmd first (then nothing starts), slurmctld, and munged, which both need to the end.
    for (const p of [...procs].reverse()) await stopProcess(p);
    process.removeListener("exit", killAll);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const sock = join(dir, "munge", "munge.sock");
    const mungeArgs = ["--foreground", `--key-file=${key}`, `--socket=${sock}`];
    mungeArgs.push(`--pid-file=${join(dir, "munge", "munged.pid")}`, `--seed-file=${join(dir, "munge", "seed")}`);
    mungeArgs.push(`--log-file=${join(dir, "log", "munged.log")}`);
    procs.push(startDaemon("munged", mungeArgs, join(dir, "log", "munged.out"), env));
    await waitFor("munged's socket", () => existsSync(sock), procs, logs, timeoutMs);
    procs.push(startDaemon("slurmctld", ["-D", "-i", "-f", conf], join(dir, "log", "slurmctld.out"), env));
    procs.push(startDaemon("slurmd", ["-D", "-N", node.name, "-f", conf], join(dir, "log", "slurmd.out"), env));
    const idle = () => {
      const r = spawnSync(findCommand("sinfo")!, ["-h", "-N", "-o", "%T"], { env, encoding: "utf8" });
      return r.status === 0 && r.stdout.trim() === "idle";
    };
    await waitFor(`node ${node.name} to be idle in sinfo`, idle, procs, logs, timeoutMs);
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, env, run, logs, stop };
}
