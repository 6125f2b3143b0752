export { FINDINGS, PAPER_SWEEPS, type Finding, type Unit } from "./findings.js";
export { runPaper, type PaperRunOptions } from "./run.js";
export {
  paperTable,
  textTable,
  markdownTable,
  tally,
  evaluate,
  TOLERANCE,
  type PaperRow,
  type Status,
} from "./table.js";
export { renderPaperDoc, PAPER_DOC_MARKERS } from "./doc.js";
export type { PaperResults } from "./results.js";
