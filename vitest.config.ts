import { defineConfig } from "vitest/config";

// Timing-sensitive tests (the calibration's measured-vs-predicted check on the local WebGPU
// adapter) run in a second group, after every other test has finished, one file at a time: on a
// 2-core machine a concurrent test file would steal the CPU that lavapipe times kernels on.
const TIMED = [
  "test/calibrate/calibrate.test.ts",
  "test/calibrate/transfer.test.ts",
  "test/calibrate/model-sweep.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 180_000,
    // A scratch folder per run for results that several test files share (test/global-setup.ts).
    globalSetup: ["test/global-setup.ts"],
    hookTimeout: 180_000,
    // WebGPU (Dawn) and worker-heavy tests keep native state per file in forked processes.
    pool: "forks",
    // Vitest's default is one fork fewer than the cores, so one file at a time on CI's 2 cores;
    // the main process is idle while files run, so every core gets a file (the timed group below
    // still runs one file at a time).
    maxWorkers: "100%",
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: TIMED, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: "timed", include: TIMED, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
