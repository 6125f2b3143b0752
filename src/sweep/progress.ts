import cliProgress from "cli-progress";

/** Receives sweep progress; the CLI picks a bar (terminal), plain lines (pipe/log) or nothing (--quiet). */
export interface ProgressSink {
  start(total: number, skipped: number): void;
  point(done: number, total: number, label: string, seconds: number): void;
  stop(): void;
}

export const quietProgress: ProgressSink = { start() {}, point() {}, stop() {} };

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** One line per finished point on a stream, with an ETA from the mean time so far. */
export function lineProgress(
  out: NodeJS.WritableStream = process.stderr,
  now: () => number = () => performance.now(),
): ProgressSink {
  let t0 = 0;
  let first = 0;
  return {
    start(total, skipped) {
      t0 = now();
      first = skipped;
      out.write(`sweep: ${total} points${skipped ? `, ${skipped} already done (skipped)` : ""}\n`);
    },
    point(done, total, label, seconds) {
      const ran = done - first;
      const eta = ran > 0 ? (((now() - t0) / 1000) * (total - done)) / ran : NaN;
      out.write(`[${done}/${total}] ${label} ${seconds.toFixed(2)}s  eta ${fmtSeconds(eta)}\n`);
    },
    stop() {},
  };
}

/** A progress bar with ETA on a terminal (stderr), redrawn in place. */
export function barProgress(out: NodeJS.WriteStream = process.stderr): ProgressSink {
  const bar = new cliProgress.SingleBar(
    {
      stream: out,
      format: "sweep |{bar}| {value}/{total} points | {percentage}% | ETA {eta_formatted} | {last}",
      hideCursor: true,
      etaBuffer: 20,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start(total, skipped) {
      bar.start(total, skipped, { last: skipped ? `${skipped} done before` : "" });
    },
    point(done, _total, label) {
      bar.update(done, { last: label.length > 50 ? label.slice(0, 49) + "…" : label });
    },
    stop() {
      bar.stop();
    },
  };
}

/** The sink for a CLI run: nothing with --quiet, a bar on a terminal, plain lines otherwise. */
export function progressFor(opts: { quiet?: boolean }, stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (opts.quiet) return quietProgress;
  return stream.isTTY ? barProgress(stream) : lineProgress(stream);
}
