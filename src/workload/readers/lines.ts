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
      throw new UserError(err.code === "EISDIR" ? "is a directory, expected a trace file" : `cannot read (${err.code ?? err.message})`, path);
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
    if (text.indexOf(0) >= 0) throw new UserError("contains NUL bytes; expected a UTF-8 text trace (or the binary .mtrace form with its MOETRACE magic)", `${path}:${line}`);
    if (!isUtf8(text)) throw new UserError("not valid UTF-8 text; expected a UTF-8 text trace (re-encode it, e.g. from Latin-1 or UTF-16, to UTF-8)", `${path}:${line}`);
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
 * Streams the lines of a text file, gunzipping when it starts with the gzip magic. Memory is one
 * chunk plus one partial line, whatever the file's size. A truncated or corrupt gzip stream becomes
 * one UserError naming the last line read.
 */
export async function* readLines(path: string): AsyncGenerator<Line> {
  const gz = isGzip(peekBytes(path, 2));
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  let src: Readable = file;
  if (gz) {
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    file.on("error", (e) => gunzip.destroy(e));
    src = file.pipe(gunzip);
  }
  let no = 0;
  let rest: Buffer | null = null;
  try {
    for await (const c of src) {
      let chunk = c as Buffer;
      if (rest !== null) {
        chunk = Buffer.concat([rest, chunk]);
        rest = null;
      }
      checkText(chunk, path, no);
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        if (nl < 0) break;
        no++;
        let end = nl;
        if (end > start && chunk[end - 1] === 13) end--;
        yield { text: chunk.toString("utf8", start, end), no };
        start = nl + 1;
      }
      if (start < chunk.length) rest = chunk.subarray(start);
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
  if (rest !== null && rest.length > 0) {
    checkText(rest, path, no, true);
    no++;
    yield { text: rest.toString("utf8"), no };
  }
}
