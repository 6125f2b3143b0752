import { LineCounter, isNode, isScalar, parseDocument, visit, type Document } from "yaml";
import { UserError } from "./errors.js";

/**
 * Guarded YAML reading for every user file (scenarios, sweeps, a sweep's base): hostile input
 * (deep nesting, alias bombs, complex or `__proto__` keys, NUL bytes) ends in one UserError with
 * file:line:col, never in a stack overflow, a runaway expansion or a polluted prototype.
 */

/** Nesting beyond this depth is refused before the YAML document is turned into values. */
const MAX_DEPTH = 64;
/** Indentation or open flow brackets beyond these are refused before parsing (the parser recurses). */
const MAX_INDENT = 512;
const MAX_FLOW_DEPTH = 256;
/** Aliases expanded when the document becomes values (a "billion laughs" file expands exponentially). */
const MAX_ALIASES = 100;

export interface YamlText {
  doc: Document;
  lineCounter: LineCounter;
  /** The document as plain values. */
  value: unknown;
}

/** Skips a quoted scalar starting at i (a " or '); returns the index of its closing quote. */
function skipQuoted(text: string, i: number): number {
  const c = text.charCodeAt(i);
  let j = i + 1;
  for (; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (c === 34 && d === 92) j++;
    else if (d === c) {
      if (c === 39 && text.charCodeAt(j + 1) === 39) j++;
      else break;
    }
  }
  return j;
}

/**
 * A cheap scan before parsing: YAML nested thousands of levels deep (by indentation or by open
 * [ and { brackets) would make the recursive parser overflow its stack or take seconds.
 * Quoted strings and comments are skipped; a stray bracket in a plain value counts, which only
 * matters far beyond any real scenario's depth.
 */
function checkNesting(text: string, file: string): void {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let atIndent = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
      atIndent = true;
      continue;
    }
    if (atIndent) {
      if (c === 32) {
        if (i - lineStart >= MAX_INDENT) {
          throw new UserError(
            `invalid YAML: indented more than ${MAX_INDENT} columns (nested too deeply)`,
            `${file}:${line}:1`,
          );
        }
        continue;
      }
      atIndent = false;
    }
    if (c === 35 /* # */ && (i === lineStart || text.charCodeAt(i - 1) === 32 || text.charCodeAt(i - 1) === 9)) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) return;
      i = nl - 1;
    } else if (c === 34 /* " */ || c === 39 /* ' */) {
      // Skip a quoted scalar that starts a value (after space, [, {, :, or ,).
      const prev = i === 0 ? 32 : text.charCodeAt(i - 1);
      if (prev === 32 || prev === 91 || prev === 123 || prev === 58 || prev === 44 || prev === 10 || prev === 45) {
        i = skipQuoted(text, i);
      }
    } else if (c === 91 || c === 123) {
      if (++depth > MAX_FLOW_DEPTH) {
        const where = `${file}:${line}:${i - lineStart + 1}`;
        throw new UserError(`invalid YAML: more than ${MAX_FLOW_DEPTH} nested [ or { (nested too deeply)`, where);
      }
    } else if ((c === 93 || c === 125) && depth > 0) {
      depth--;
    }
  }
}

/**
 * Mapping keys must be plain scalars other than `__proto__`, and nesting shallow (user files are a few levels deep).
 */
function checkKeys(doc: Document, file: string, lc: LineCounter): void {
  let bad: { node: unknown; message: string } | null = null;
  visit(doc, {
    Pair(_, pair) {
      if (pair.key !== null && !isScalar(pair.key)) {
        bad = { node: pair.key, message: "invalid YAML: a mapping key must be a plain value, not a list or mapping" };
        return visit.BREAK;
      }
      if (isScalar(pair.key) && pair.key.value === "__proto__") {
        bad = { node: pair.key, message: "unknown key '__proto__'" };
        return visit.BREAK;
      }
    },
    Collection(_, node, path) {
      if (path.length > MAX_DEPTH * 2) {
        bad = { node, message: `invalid YAML: nested more than ${MAX_DEPTH} levels deep` };
        return visit.BREAK;
      }
    },
  });
  if (bad === null) return;
  const { node, message } = bad as { node: unknown; message: string };
  let where = file;
  if (isNode(node) && node.range) {
    const { line, col } = lc.linePos(node.range[0]);
    where = `${file}:${line}:${col}`;
  }
  throw new UserError(message, where);
}

/** Parses YAML text from a user file; every problem is a UserError naming the file (and line:col where known). */
export function parseYamlText(text: string, file: string): YamlText {
  if (text.includes("\u0000")) throw new UserError("not a text file (contains NUL bytes)", file);
  checkNesting(text, file);
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`invalid YAML: nested too deeply (${e.message})`, file);
    throw e;
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const { line, col } = lineCounter.linePos(e.pos[0]);
    const msg = /call stack/i.test(e.message) ? "nested too deeply" : e.message.split("\n")[0];
    throw new UserError(`invalid YAML: ${msg}`, `${file}:${line}:${col}`);
  }
  checkKeys(doc, file, lineCounter);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    const msg = e instanceof RangeError ? `nested too deeply (${e.message})` : (e as Error).message.split("\n")[0];
    throw new UserError(`invalid YAML: ${msg}`, file);
  }
  return { doc, lineCounter, value };
}
