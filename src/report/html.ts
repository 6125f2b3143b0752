import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import type { SummaryTable } from "./table.js";
import type { Spec } from "./charts/index.js";

const require = createRequire(import.meta.url);

/** The browser builds of vega, vega-lite and vega-embed from node_modules, in load order. */
function libraries(): { name: string; code: string }[] {
  const files: [string, string][] = [
    ["vega", "vega/build/vega.min.js"],
    ["vega-lite", "vega-lite/build/vega-lite.min.js"],
    ["vega-embed", "vega-embed/build/vega-embed.min.js"],
  ];
  return files.map(([name, rel]) => {
    // The packages' "exports" hide build/, so look in the node_modules folders Node would search.
    const found = (require.resolve.paths(name) ?? []).map((dir) => join(dir, rel)).find((f) => existsSync(f));
    if (!found) throw new Error(`cannot find ${rel} in node_modules (is ${name} installed?)`);
    return { name, code: readFileSync(found, "utf8") };
  });
}

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Makes text safe inside an inline <script>: no "</script" or "<!--" can end or alter it. */
export function scriptSafe(code: string): string {
  return code.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

export interface HtmlChart {
  id: string;
  title: string;
  spec: Spec;
  /** File names beside the page (SVG/PNG/spec), linked under the chart. */
  files: string[];
}

/**
 * One self-contained page: the summary table, every chart, and the three libraries inlined, so it
 * opens offline (a Content-Security-Policy forbids any network access). The page records its own
 * outcome in window.__moesimReport ({expected, rendered, errors}) for tests and scripts.
 */
export function reportHtml(title: string, table: SummaryTable, charts: HtmlChart[]): string {
  const libs = libraries()
    .map((l) => `<script data-lib="${l.name}">${scriptSafe(l.code)}</script>`)
    .join("\n");
  const specs = scriptSafe(JSON.stringify(Object.fromEntries(charts.map((c) => [c.id, c.spec]))));
  const rows = table.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n");
  const sections = charts
    .map(
      (c) =>
        `<section class="chart"><h2>${esc(c.title)}</h2><div id="chart-${esc(c.id)}" class="vis"></div>` +
        `<p class="files">${c.files.map((f) => `<a href="${esc(f)}">${esc(f)}</a>`).join(" · ")}</p></section>`,
    )
    .join("\n");
  return (
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src ` +
    `'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; ` +
    `font-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 2rem auto; max-width: ` +
    `980px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-bottom: .3rem; }
table { border-collapse: collapse; font-size: .9rem; margin: 1rem 0 2rem; }
caption { text-align: left; font-weight: bold; padding-bottom: .4rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.chart { margin-bottom: 2rem; } .files { font-size: .8rem; color: #666; } .files a { color: #36c; }
.error { color: #b00; font-weight: bold; }
</style>
${libs}
</head>
<body>
<h1>${esc(title)}</h1>
<table id="summary"><caption>${esc(table.caption)}</caption>
<thead><tr>${table.header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>
<tbody>
${rows}
</tbody></table>
${sections}
<script>
(function () {
  var specs = ${specs};
  var state = (window.__moesimReport = { expected: Object.keys(specs).length, rendered: 0, errors: [], done: false });
  function finish() { if (state.rendered + state.errors.length === state.expected) state.done = true; }
  Object.keys(specs).forEach(function (id) {
    var el = document.getElementById("chart-" + id);
    vegaEmbed(el, specs[id], { renderer: "svg", actions: false })
      .then(function () { state.rendered++; finish(); })
      .catch(function (e) {
        state.errors.push(id + ": " + (e && e.message ? e.message : String(e)));
        el.innerHTML = '<p class="error">chart failed to render: ' + String(e).replace(/</g, "&lt;") + "</p>";
        console.error(e);
        finish();
      });
  });
  finish();
})();
</script>
</body>
</html>
`
  );
}
