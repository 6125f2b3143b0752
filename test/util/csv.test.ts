import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCsv, toCsv } from "../../src/util/csv.js";

/** Cells drawn to include every character toCsv must quote. */
const cellText = fc.string({ unit: fc.constantFrom("a", "b", "1", " ", ",", '"', "\n", "\r", "\r\n", "é") });

describe("CSV", () => {
  it("parseCsv reads back every table toCsv writes", () => {
    const table = fc.uniqueArray(cellText, { minLength: 1, maxLength: 5 }).chain((header) =>
      fc.record({
        header: fc.constant(header),
        rows: fc.array(fc.array(cellText, { minLength: header.length, maxLength: header.length }), { maxLength: 6 }),
      }),
    );
    fc.assert(
      fc.property(table, ({ header, rows }) => {
        const records = rows.map((r) => Object.fromEntries(header.map((h, j) => [h, r[j]])));
        expect(parseCsv(toCsv(header, rows))).toEqual(records);
      }),
      { numRuns: 500, seed: 15 },
    );
  });

  it("quotes cells with commas, quotes and line breaks, and writes numbers, booleans and null plainly", () => {
    const text = toCsv(
      ["a", "b", "c"],
      [
        ["x,y", 'say "hi"', "two\nlines"],
        [1.5, true, null],
      ],
    );
    expect(text).toBe('a,b,c\n"x,y","say ""hi""","two\nlines"\n1.5,true,\n');
    expect(parseCsv(text)).toEqual([
      { a: "x,y", b: 'say "hi"', c: "two\nlines" },
      { a: "1.5", b: "true", c: "" },
    ]);
  });

  it("keeps a one-column row whose cell is empty, and skips blank lines and CRLF endings", () => {
    expect(parseCsv(toCsv(["only"], [[""], ["v"]]))).toEqual([{ only: "" }, { only: "v" }]);
    expect(parseCsv("a,b\r\n1,2\r\n\r\n3\n")).toEqual([
      { a: "1", b: "2" },
      { a: "3", b: "" },
    ]);
    expect(parseCsv("")).toEqual([]);
  });
});
