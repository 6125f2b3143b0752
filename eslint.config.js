// Lint rules (run by `npm run lint`). Line length: prettier's printWidth 120 (.prettierrc.json), and max-len 120 in src/.
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
      // A key dropped by a rest pattern (`const { a: _a, ...rest } = o`) is how an object omits a key.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
    },
  },
  {
    // Prettier does not break long strings or comments: the limit on line length is enforced here.
    files: ["src/**/*.ts"],
    rules: { "max-len": ["error", { code: 120, ignoreUrls: true }] },
  },
  {
    // Plain JavaScript (bin/, scripts/*.mjs, the sweep worker shim) is outside tsconfig: no type information.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // A describe() block holds many cases: its length is not a defect.
      "max-lines-per-function": "off",
      // Tests read the JSON documents the CLI prints as `any`; the assertions check their shape.
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  {
    name: "data-tables",
    // Preset tables (one entry per device or model) and the fuzz suites' case tables (one entry per named
    // case of the issues they check): long by design.
    files: [
      "src/hardware/presets.ts",
      "src/workload/model.ts",
      "test/fuzz/scenario-fuzz.test.ts",
      "test/fuzz/trace-fuzz.test.ts",
    ],
    rules: { "max-lines": "off", "max-lines-per-function": "off", "max-len": "off" },
  },
);
