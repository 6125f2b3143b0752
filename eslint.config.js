// Lint rules (run by `npm run lint`). Line length is prettier's (printWidth 120, .prettierrc.json).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const nodeGlobals = Object.fromEntries(
  ["process", "console", "Buffer", "URL", "setTimeout", "clearTimeout", "setInterval", "clearInterval"].map((g) => [
    g,
    "readonly",
  ]),
);

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: nodeGlobals,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "max-lines": ["error", { max: 600, skipBlankLines: true, skipComments: true }],
      "max-lines-per-function": ["error", { max: 120, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // Plain JavaScript (bin/, scripts/*.mjs, the sweep worker shim) is outside tsconfig: no type information.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Tests: a describe() block holds many cases, so a function's length there is not a defect.
    files: ["test/**/*.ts"],
    rules: { "max-lines-per-function": "off" },
  },
  {
    name: "data-tables",
    // Preset tables: long by design, one entry per device or model.
    files: ["src/hardware/presets.ts", "src/workload/model.ts"],
    rules: { "max-lines": "off", "max-lines-per-function": "off" },
  },
);
