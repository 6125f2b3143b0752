// Module rules for src/ (run by `npm run lint`; docs/architecture.md draws the same layers).
// Layers, lowest first: a module may import its own layer or a lower one, never a higher one.
// src/calibrate is a side module: it measures kernels into a hardware profile, so it may use
// sim, util and hardware, and only the CLI imports it.
const LAYERS = [
  ["sim", "util"],
  ["hardware", "workload"],
  ["policies"],
  ["moe"],
  ["scenario"],
  ["report", "sweep"],
  ["paper"],
  ["cli"],
];

const dir = (names) => `^src/(${names.join("|")})/`;

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.join("-")}`,
  comment: `${layer.join(", ")} may not import a higher layer (${LAYERS.slice(i + 1).flat().join(", ")})`,
  severity: "error",
  from: { path: dir(layer) },
  to: { path: dir(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment: "import cycles make the load order and the layers meaningless",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: "report-sweep-siblings",
      comment: "report and sweep share a layer but not code: what both need lives lower (util, moe)",
      severity: "error",
      from: { path: "^src/(report|sweep)/" },
      to: { path: "^src/(report|sweep)/", pathNot: "^src/$1/" },
    },
    {
      name: "sim-standalone",
      comment: "the engine knows nothing of MoE: src/sim imports only itself, src/util and node built-ins/packages",
      severity: "error",
      from: { path: "^src/sim/" },
      to: { path: "^src/", pathNot: "^src/(sim|util)/" },
    },
    {
      name: "calibrate-side-module",
      comment: "calibrate uses sim, util and hardware only",
      severity: "error",
      from: { path: "^src/calibrate/" },
      to: { path: "^src/", pathNot: "^src/(calibrate|sim|util|hardware)/" },
    },
    {
      name: "calibrate-only-from-cli",
      comment: "only the CLI imports calibrate",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(calibrate|cli)/" },
      to: { path: "^src/calibrate/" },
    },
    {
      name: "not-to-unresolvable",
      comment: "an import that does not resolve is a broken import",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
