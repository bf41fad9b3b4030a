// `npm run bench` (or `npm run bench:quick`): every suite, each in a fresh Node process so that JIT
// state and memory do not leak between them; tables go to stdout, JSON and plots to results/.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const quick = process.argv.includes("--quick");
const here = path.dirname(fileURLToPath(import.meta.url));
const suites = ["autograd", "flows", "logdet", "training", "peers"];
const started = performance.now();
for (const suite of suites) {
  process.stderr.write(`\n=== ${suite}${quick ? " (quick)" : ""} ===\n`);
  const r = spawnSync(process.execPath, [path.join(here, `${suite}.bench.js`), ...(quick ? ["--quick"] : [])], { stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`suite ${suite} failed (exit ${r.status})\n`);
    process.exit(1);
  }
}
process.stderr.write(`\nall suites done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
