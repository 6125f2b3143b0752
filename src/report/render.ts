import { existsSync } from "node:fs";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/**
 * Fonts for PNG rendering, first found wins: Debian's fonts-dejavu-core (installed by
 * scripts/install-chromium.sh), then common system fonts. System fonts are loaded as a fallback,
 * so text renders wherever some sans-serif font exists.
 */
const FONT_CANDIDATES = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/TTF/DejaVuSans.ttf",
  "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
  "/System/Library/Fonts/Supplemental/Verdana.ttf",
  "/Library/Fonts/Arial.ttf",
  "C:\\Windows\\Fonts\\verdana.ttf",
];

export function fontFile(): string | null {
  return FONT_CANDIDATES.find((f) => existsSync(f)) ?? null;
}

/** Compiles Vega-Lite to a Vega spec. */
export function toVega(spec: TopLevelSpec): vega.Spec {
  return compile(spec).spec;
}

/**
 * Renders a Vega-Lite spec to SVG headless (vega View with renderer "none"). Vega's warnings (an
 * empty extent, a bad field) are pushed onto `warnings` when given, instead of the console.
 */
export async function renderSvg(spec: TopLevelSpec, warnings?: string[]): Promise<string> {
  const logger = vega.logger(vega.Warn, undefined, (_method: string, level: string, input: readonly unknown[]) => {
    if (level === "WARN" || level === "ERROR") warnings?.push(input.map(String).join(" "));
  });
  const view = new vega.View(vega.parse(toVega(spec)), { renderer: "none", logger });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterizes an SVG to PNG at `scale` (2 = sharp on high-DPI screens) on a white background. */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const font = fontFile();
  const r = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: {
      fontFiles: font ? [font] : [],
      loadSystemFonts: font === null,
      defaultFontFamily: "DejaVu Sans",
      sansSerifFamily: "DejaVu Sans",
    },
  });
  return r.render().asPng();
}
