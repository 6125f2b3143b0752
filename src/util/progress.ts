/**
 * Progress of long commands on stderr, for a person watching a terminal: a line when a stage
 * starts, and at most one count line every few seconds while it runs. Silent with --quiet, when
 * stderr is not a terminal (a pipe, a log file) and in CI, so that scripts and logs stay clean.
 * Commands that take more than a few seconds (run, cache, placement, trace info, calibrate) share it.
 */

export interface ProgressOptions {
  quiet?: boolean;
  /** Default process.stderr. */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Default process.env (CI=anything but "" or "false" silences it). */
  env?: Record<string, string | undefined>;
  /** Milliseconds; default performance.now. */
  now?: () => number;
  /** Least milliseconds between two count lines (default 2000). */
  intervalMs?: number;
}

export interface Progress {
  /** Whether anything is printed at all. */
  readonly active: boolean;
  /** A new stage: one line ("moesim run: simulating 64 steps on 8 GPUs"). */
  stage(what: string): void;
  /** Work done so far in the current stage; printed when intervalMs has passed since the last line. */
  tick(done: number, total?: number): void;
  /** The end: a last line with the elapsed time, when anything was printed. */
  done(): void;
}

const fmtS = (ms: number): string =>
  ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;

/** Whether progress should print: not --quiet, stderr a terminal, not in CI. */
export function progressActive(opts: ProgressOptions = {}): boolean {
  const stream = opts.stream ?? process.stderr;
  const env = opts.env ?? process.env;
  const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "false";
  return !opts.quiet && stream.isTTY === true && !ci;
}

export function progress(command: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const interval = opts.intervalMs ?? 2000;
  const active = progressActive(opts);
  const t0 = now();
  let last = t0;
  let stageName = "";
  let stageT0 = t0;
  let printed = false;
  const line = (s: string): void => {
    stream.write(`${command}: ${s}\n`);
    printed = true;
    last = now();
  };
  return {
    active,
    stage(what) {
      stageName = what;
      stageT0 = now();
      if (active) line(what);
    },
    tick(done, total) {
      if (!active) return;
      const t = now();
      if (t - last < interval) return;
      const frac = total !== undefined && total > 0 ? done / total : null;
      const eta = frac !== null && frac > 0 ? ` eta ${fmtS(((t - stageT0) * (1 - frac)) / frac)}` : "";
      const count = total !== undefined ? `${done}/${total} (${((frac ?? 0) * 100).toFixed(0)}%)` : String(done);
      line(`${stageName ? `${stageName}: ` : ""}${count}, ${fmtS(t - stageT0)}${eta}`);
    },
    done() {
      if (active && printed) line(`done in ${fmtS(now() - t0)}`);
    },
  };
}
