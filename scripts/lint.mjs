// npm run lint: every check runs (a failing one does not hide the next), and the exit code is 1 if any failed.
import { spawnSync } from "node:child_process";

const checks = ["typecheck", "lint:deps", "lint:eslint", "format:check"];
const failed = checks.filter((c) => {
  process.stdout.write(`\n-- npm run ${c}\n`);
  return spawnSync("npm", ["run", "-s", c], { stdio: "inherit" }).status !== 0;
});
process.stdout.write(
  `\nlint: ${checks.length - failed.length} of ${checks.length} checks passed${failed.length ? `; failed: ${failed.join(", ")}` : ""}\n`,
);
process.exit(failed.length ? 1 : 0);
