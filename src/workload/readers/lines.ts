import { isUtf8 } from "node:buffer";
import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { createGunzip } from "node:zlib";
import type { Readable } from "node:stream";
import { UserError } from "../../util/errors.js";

/** The first bytes of a file (fewer when the file is shorter). */
export function peekBytes(path: string, n: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(err.code === "ENOENT" ? "no such file" : `cannot open (${err.code ?? err.message})`, path);
  }
  try {
    const buf = Buffer.alloc(n);
    let got: number;
    try {
      got = readSync(fd, buf, 0, n, 0);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UserError(
        err.code === "EISDIR" ? "is a directory, expected a trace file" : `cannot read (${err.code ?? err.message})`,
        path,
      );
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * A text trace is UTF-8 without NUL bytes. Checks the complete lines of a chunk (up to its last
 * newline, which never splits a UTF-8 sequence; all of it at the end of the file) and names the
 * first bad line; `before` is the number of lines before the chunk.
 */
function checkText(chunk: Buffer, path: string, before: number, final = false): void {
  const end = final ? chunk.length : chunk.lastIndexOf(10) + 1;
  if (end <= 0) return;
  const body = chunk.subarray(0, end);
  const nul = body.indexOf(0);
  if (nul < 0 && isUtf8(body)) return;
  let line = before + 1;
  let start = 0;
  for (;;) {
    const nl = body.indexOf(10, start);
    const stop = nl < 0 ? body.length : nl;
    const text = body.subarray(start, stop);
    if (text.indexOf(0) >= 0)
      throw new UserError(
        "contains NUL bytes; expected a UTF-8 text trace (or the binary .mtrace form with its MOETRACE magic)",
        `${path}:${line}`,
      );
    if (!isUtf8(text))
      throw new UserError(
        "not valid UTF-8 text; expected a UTF-8 text trace (re-encode it, e.g. from Latin-1 or UTF-16, to UTF-8)",
        `${path}:${line}`,
      );
    if (nl < 0) return;
    start = nl + 1;
    line++;
  }
}

/** A text line and its 1-based line number. */
export interface Line {
  text: string;
  no: number;
}

/**
 * The longest line a text trace may hold: far above any real record (an OLMoE token line of 16
 * layers x top-8 is ~500 bytes; a 4096-layer line ~200 KB), far below what would exhaust memory.
 */
export const MAX_LINE_BYTES = 16 * 2 ** 20;

/** Bytes copied while joining partial lines, for tests that check the reader copies each byte O(1) times. */
export const lineReaderCounters = { copiedBytes: 0 };

export interface ReadLinesOptions {
  /** Longer lines are one UserError naming the line (default MAX_LINE_BYTES). */
  maxLineBytes?: number;
  /** Stream chunk size in bytes (default 1 MiB; tests use small chunks). */
  chunkBytes?: number;
}

/**
 * Streams the non-blank lines of a text file (blank lines are counted, never yielded), gunzipping
 * when it starts with the gzip magic. A line split across chunks is kept as a list of pieces and
 * joined once when its newline arrives, so every byte is copied at most once whatever the line's
 * length; a line longer than maxLineBytes is refused. Memory is one chunk plus one partial line. A
 * truncated or corrupt gzip stream becomes one UserError naming the last line read.
 */
export async function* readLines(path: string, opts: ReadLinesOptions = {}): AsyncGenerator<Line> {
  const maxLine = opts.maxLineBytes ?? MAX_LINE_BYTES;
  const chunkBytes = opts.chunkBytes ?? 1 << 20;
  const gz = isGzip(peekBytes(path, 2));
  const file = createReadStream(path, { highWaterMark: chunkBytes });
  let src: Readable = file;
  if (gz) {
    const gunzip = createGunzip({ chunkSize: chunkBytes });
    file.on("error", (e) => gunzip.destroy(e));
    src = file.pipe(gunzip);
  }
  let no = 0;
  // The start of a line that spans chunks: its pieces and their total length.
  let pieces: Buffer[] = [];
  let partial = 0;
  const tooLong = (): UserError =>
    new UserError(
      `line is longer than ${maxLine} bytes; expected one record per line (is this a text trace?)`,
      `${path}:${no + 1}`,
    );
  const join = (tail: Buffer): Buffer => {
    const b = Buffer.concat([...pieces, tail], partial + tail.length);
    lineReaderCounters.copiedBytes += b.length;
    pieces = [];
    partial = 0;
    return b;
  };
  try {
    for await (const c of src) {
      const chunk = c as Buffer;
      let start = 0;
      if (partial > 0) {
        // Finish the pending line with this chunk's first line (or keep collecting).
        const nl = chunk.indexOf(10);
        if (nl < 0) {
          if (partial + chunk.length > maxLine) throw tooLong();
          pieces.push(chunk);
          partial += chunk.length;
          continue;
        }
        if (partial + nl > maxLine) throw tooLong();
        const line = join(chunk.subarray(0, nl));
        checkText(line, path, no, true);
        no++;
        const end = line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
        if (!isBlank(line, end)) yield { text: line.toString("utf8", 0, end), no };
        start = nl + 1;
      }
      const body = chunk.subarray(start);
      checkText(body, path, no);
      let at = 0;
      for (;;) {
        const nl = body.indexOf(10, at);
        if (nl < 0) break;
        no++;
        if (nl - at > maxLine) throw tooLong();
        let end = nl;
        if (end > at && body[end - 1] === 13) end--;
        if (end > at && !isBlank(body, end, at)) yield { text: body.toString("utf8", at, end), no };
        at = nl + 1;
        // Runs of newlines (a file of blank lines) are counted without a search per line.
        while (at < body.length && body[at] === 10) {
          no++;
          at++;
        }
      }
      if (at < body.length) {
        if (body.length - at > maxLine) throw tooLong();
        pieces.push(body.subarray(at));
        partial = body.length - at;
      }
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    const err = e as NodeJS.ErrnoException;
    const what = gz
      ? `truncated or corrupt gzip stream (${err.message}); expected a complete gzip file`
      : `read failed (${err.message})`;
    throw new UserError(what, `${path}:${no + 1}`);
  } finally {
    file.destroy();
  }
  if (partial > 0) {
    const rest = join(Buffer.alloc(0));
    checkText(rest, path, no, true);
    no++;
    if (!isBlank(rest, rest.length)) yield { text: rest.toString("utf8"), no };
  }
}

/** Whether bytes [from, end) are only spaces, tabs and carriage returns. */
function isBlank(b: Buffer, end: number, from = 0): boolean {
  for (let i = from; i < end; i++) {
    const c = b[i];
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}
