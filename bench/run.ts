// `npm run bench` (or `npm run bench:quick`): every suite, each in a fresh Node process so that JIT
// state and memory do not leak between them; tables go to stdout, JSON and plots to results/.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const quick = process.argv.includes("--quick");
const here = path.dirname(fileURLToPath(import.meta.url));
// The log-det workload runs again with the gpu.js backend in each mode available here (headlessgl
// needs an X display: run under xvfb-run -a); a mode that cannot run is reported and skipped.
const gpuModes = process.env.DISPLAY ? ["headlessgl", "webasm"] : ["webasm"];
// The quick run (under 2 minutes) leaves the gpu.js suites out. webgpu runs where Dawn loads (see
// README, Backends); elsewhere it says why and the run goes on.
const suites: Array<[string, string[]]> = [
  ["autograd", []],
  ["flows", []],
  ["higher-order", []],
  ["cnf", []],
  ["logdet", []],
  ["training", []],
  ["peers", []],
  ...(quick
    ? []
    : [
        ["gpu", []] as [string, string[]],
        ["webgpu", []] as [string, string[]],
        ...gpuModes.map((mode): [string, string[]] => ["logdet", ["--quick", "--backend", "gpu", "--gpu-mode", mode]]),
      ]),
];
const optional = (suite: string, extra: string[]) => suite === "webgpu" || extra.includes("--backend");
const started = performance.now();
for (const [suite, extra] of suites) {
  const args = [...(quick && !extra.includes("--quick") ? ["--quick"] : []), ...extra];
  process.stderr.write(`\n=== ${suite} ${args.join(" ")} ===\n`);
  const r = spawnSync(process.execPath, [path.join(here, `${suite}.bench.js`), ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    if (optional(suite, extra)) {
      process.stderr.write(`suite ${suite} ${args.join(" ")} did not run here (exit ${r.status}); continuing\n`);
      continue;
    }
    process.stderr.write(`suite ${suite} failed (exit ${r.status})\n`);
    process.exit(1);
  }
}
process.stderr.write(`\nall suites done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
