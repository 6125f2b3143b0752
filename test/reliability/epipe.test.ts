/**
 * Output piped into a reader that stops early (`moesim schema --help | head`): moesim ends quietly
 * with exit 0, never with an unhandled EPIPE stack trace on stderr.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "moesim.js");

/** Runs moesim with its stdout's reading end closed at once; returns the exit code and stderr. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", rej);
    child.on("close", (code) => res({ code, err }));
  });
}

describe("a closed stdout pipe (issue 16)", () => {
  it.each([[["schema", "--help"]], [["schema"]]])("moesim %j | head: exit 0, nothing on stderr", async (args) => {
    const r = await withClosedStdout(args);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });
});
