// The gpu.js backend against the CPU backend, per mode available here, across sizes: where (if
// anywhere) the GPU backend starts to win. That crossover is what the "auto" backend's threshold
// should be (src/kernels/auto.ts). Run: npm run bench:gpu (under xvfb-run -a for headlessgl mode).
import { Random } from "../src/autograd/index.js";
import { cpuBackend, type Backend } from "../src/kernels/index.js";
import { createGpuBackend } from "../src/kernels/gpu/backend.js";
import type { GpuMode } from "../src/kernels/gpu/load.js";
import { environment, markdownTable, runCases, writeResult, type Case } from "./harness.js";

const quick = process.argv.includes("--quick");
const maxTime = quick ? 0.2 : 0.5;
const rng = new Random(1);
const backends: Array<[string, Backend]> = [["cpu backend", cpuBackend]];
const info: Record<string, unknown> = {};
for (const mode of ["headlessgl", "webasm"] as GpuMode[]) {
  try {
    const b = await createGpuBackend(mode);
    backends.push([`gpu.js ${mode} (${b.info.kernelClass})`, b]);
    info[mode] = b.info;
  } catch (error) {
    console.error(`gpu.js ${mode}: not measured (${(error as Error).message})`);
  }
}
const cases: Case[] = [];
const sizes = quick ? [1 << 10, 1 << 16, 1 << 20] : [1 << 10, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22];
for (const n of sizes) {
  const x = Float64Array.from({ length: n }, () => rng.normal()), out = new Float64Array(n);
  for (const [name, b] of backends) cases.push({ name: `exp n=${n}: ${name}`, fn: () => b.unary("exp", x, out), elements: n });
}
const dims = quick ? [64, 256] : [32, 64, 128, 256, 512];
for (const d of dims) {
  const a = Float64Array.from({ length: d * d }, () => rng.normal()), out = new Float64Array(d * d), off = new Int32Array([0]);
  for (const [name, b] of backends) cases.push({ name: `matmul n=${d}: ${name}`, fn: () => b.matmul(a, off, a, off, out, d, d, d, false, false), flops: 2 * d ** 3 });
}
const rows = runCases(cases, maxTime);
const env = environment();
console.log(`\n## gpu.js backend vs CPU backend (${env.cpu}, ${env.cores} cores, Node ${env.node})\n`);
console.log(markdownTable(rows));
for (const [name] of backends.slice(1)) {
  const firstWin = (prefix: string, keys: number[], label: (k: number) => string) =>
    keys.find((k) => rows.find((r) => r.name === `${label(k)}: ${name}`)!.meanMs < rows.find((r) => r.name === `${label(k)}: cpu backend`)!.meanMs);
  const e = firstWin("exp", sizes, (n) => `exp n=${n}`), m = firstWin("matmul", dims, (d) => `matmul n=${d}`);
  console.log(`- ${name}: faster than the CPU backend for exp from n = ${e ?? "never (in this range)"}; for matmul from n = ${m ?? "never (in this range)"}`);
}
writeResult(quick ? "results/gpu-bench-quick.json" : "results/gpu-bench.json", { suite: "gpu", quick, environment: env, gpu: info, rows });
console.log(`written: results/gpu-bench${quick ? "-quick" : ""}.json`);
process.exit(0);
