/** A CSV cell as moesim writes it; null is an empty cell. */
export type CsvCell = string | number | boolean | null;

/**
 * Writes a header and rows as CSV (RFC 4180): comma separated, one row a line, a cell quoted when
 * it holds a comma, a quote, a line break or is the only, empty cell of its row (so no row is a
 * blank line); quotes inside a quoted cell are doubled.
 */
export function toCsv(header: string[], rows: CsvCell[][]): string {
  const cell = (v: CsvCell): string => {
    const s = v === null ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const line = (r: CsvCell[]): string => (r.length === 1 && cell(r[0]) === "" ? '""' : r.map(cell).join(","));
  let out = line(header) + "\n";
  for (const r of rows) out += line(r) + "\n";
  return out;
}

/** Splits CSV text into rows of cells, reading quoted cells as toCsv writes them; blank lines are skipped. */
function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  let touched = false;
  const endRow = (): void => {
    if (touched || row.length > 0) rows.push([...row, cell]);
    row = [];
    cell = "";
    touched = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') {
      quoted = true;
      touched = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
      touched = true;
    } else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      if (c === "\r") i++;
      endRow();
    } else {
      cell += c;
      touched = true;
    }
  }
  endRow();
  return rows;
}

/** Reads CSV with a header row into one record per row (a missing cell reads as ""). */
export function parseCsv(text: string): Record<string, string>[] {
  const [header, ...body] = csvRows(text);
  if (header === undefined) return [];
  return body.map((cells) => {
    const row: Record<string, string> = {};
    header.forEach((h, j) => (row[h] = cells[j] ?? ""));
    return row;
  });
}
