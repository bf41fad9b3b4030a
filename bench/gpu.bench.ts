// The gpu.js backend against the CPU backend, per mode available here, across sizes: where (if
// anywhere) the GPU backend starts to win. That crossover is what the "auto" backend's threshold
// should be (src/kernels/auto.ts). Run: npm run bench:gpu (under xvfb-run -a for headlessgl mode).
import { Adam, MLP, Random, randn, sum, Tensor, tidy } from "../src/autograd/index.js";
import { createGpuBackend, type GpuBackend } from "../src/kernels/gpu/backend.js";
import type { GpuMode } from "../src/kernels/gpu/load.js";
import { type Backend, cpuBackend, type DeviceArray, setBackend } from "../src/kernels/index.js";
import { type Case, environment, markdownTable, runCases, writeResult } from "./harness.js";

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
const sizes = quick ? [1 << 10, 1 << 16, 1 << 20] : [1 << 10, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 10_000_000];
for (const n of sizes) {
  const x = Float64Array.from({ length: n }, () => rng.normal()),
    out = new Float64Array(n);
  for (const [name, b] of backends)
    cases.push({ name: `exp n=${n}: ${name}`, fn: () => b.host.unary("exp", x, out), elements: n, bytes: 16 * n });
}
// Row sums of [n/256, 256]: one output per row (gpu.js: one thread per row, looping over it).
for (const n of quick ? [1 << 16] : [1 << 14, 1 << 18, 1 << 22]) {
  const x = Float64Array.from({ length: n }, () => rng.normal()),
    out = new Float64Array(n / 256);
  for (const [name, b] of backends)
    cases.push({
      name: `row sums [${n / 256}, 256]: ${name}`,
      fn: () => b.host.reduce("sum", x, n / 256, 256, 1, out),
      elements: n,
      bytes: 8 * (n + n / 256),
    });
}
const dims = quick ? [64, 256] : [32, 64, 128, 256, 512, 1024];
for (const d of dims) {
  const a = Float64Array.from({ length: d * d }, () => rng.normal()),
    out = new Float64Array(d * d),
    off = new Int32Array([0]);
  for (const [name, b] of backends)
    cases.push({
      name: `matmul n=${d}: ${name}`,
      fn: () => b.host.matmul(a, off, a, off, out, d, d, d, false, false),
      flops: 2 * d ** 3,
      maxTime: d >= 1024 ? 0.1 : undefined,
    });
}
// Device residency (GL modes only): a chain of ops that stays in textures against the same chain
// through host arrays (every op uploads its input and reads its output back).
const gl = backends.find(([, b]) => b.resident)?.[1] as GpuBackend | undefined;
const deviceInputs: DeviceArray[] = [];
if (gl?.resident) {
  const r = gl.resident;
  for (const n of quick ? [1 << 16] : [1 << 14, 1 << 16, 1 << 18, 1 << 20]) {
    const x = Float32Array.from({ length: n }, () => rng.normal()),
      out = new Float32Array(n);
    cases.push({
      name: `10 × tanh n=${n}: ${gl.info.gpuMode} with transfers`,
      fn: () => {
        for (let i = 0; i < 10; i++) gl.host.unary("tanh", i === 0 ? x : out, out);
      },
      elements: 10 * n,
    });
    cases.push({
      name: `10 × tanh n=${n}: ${gl.info.gpuMode} device-resident`,
      elements: 10 * n,
      fn: () => {
        let t = r.unary("tanh", x, n)!;
        for (let i = 1; i < 10; i++) {
          const next = r.unary("tanh", t, n)!;
          t.release();
          t = next;
        }
        t.read();
        t.release();
      },
    });
  }
  for (const d of quick ? [256] : [128, 256, 512]) {
    const a = Float32Array.from({ length: d * d }, () => rng.normal()),
      out = new Float32Array(d * d),
      off = new Int32Array([0]);
    const onDevice = r.unary("neg", a, d * d)!;
    deviceInputs.push(onDevice);
    cases.push({
      name: `matmul n=${d}: ${gl.info.gpuMode} with transfers`,
      fn: () => gl.host.matmul(a, off, a, off, out, d, d, d, false, false),
      flops: 2 * d ** 3,
    });
    cases.push({
      name: `matmul n=${d}: ${gl.info.gpuMode} inputs and output on the GPU`,
      fn: () => r.matmul(onDevice, off, onDevice, off, d, d, d, false, false)!.release(),
      flops: 2 * d ** 3,
    });
  }
}
const rows = runCases(cases, maxTime);
for (const t of deviceInputs) t.release();
const env = environment();
console.log(`\n## gpu.js backend vs CPU backend (${env.cpu}, ${env.cores} cores, Node ${env.node})\n`);
console.log(markdownTable(rows));
for (const [name] of backends.slice(1)) {
  const firstWin = (keys: number[], label: (k: number) => string) =>
    keys.find(
      (k) =>
        rows.find((r) => r.name === `${label(k)}: ${name}`)!.meanMs <
        rows.find((r) => r.name === `${label(k)}: cpu backend`)!.meanMs,
    );
  const e = firstWin(sizes, (n) => `exp n=${n}`),
    m = firstWin(dims, (d) => `matmul n=${d}`);
  console.log(
    `- ${name}: faster than the CPU backend for exp from n = ${e ?? "never (in this range)"}; for matmul from n = ${m ?? "never (in this range)"}`,
  );
}

// Memory over a long run on the GPU backend: every step in tidy(); live textures and peak RSS.
let memory: Record<string, unknown> | null = null;
if (gl?.resident) {
  const steps = quick ? 1000 : 10_000;
  setBackend(gl);
  const random = new Random(3);
  const net = new MLP([2, 32, 1], "tanh", { random, dtype: "float32" });
  const opt = new Adam(net.parameters(), { lr: 0.01 });
  const x = randn([256, 2], { random, dtype: "float32" }),
    target = tidy(() => sum(x.square(), 1, true).toHost().data);
  const y = new Tensor(target, [256, 1]);
  const liveAt: number[] = [],
    rssAt: number[] = [];
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    tidy(() => {
      opt.zeroGrad();
      const loss = net.forward(x).sub(y).square().mean();
      loss.backward();
      return loss.item();
    });
    opt.step();
    if (step % (steps / 10) === 0 || step === steps - 1) {
      liveAt.push(gl.liveTextures());
      rssAt.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    }
  }
  setBackend("cpu");
  memory = {
    steps,
    model: "MLP 2-32-1, batch 256, Adam",
    seconds: (performance.now() - t0) / 1000,
    liveTexturesEveryTenth: liveAt,
    liveKernels: gl.liveKernels(),
    rssMiBEveryTenth: rssAt,
  };
  console.log(
    `\n${steps} training steps on gpu.js ${gl.info.gpuMode}, each in tidy(): live textures ${liveAt.join(", ")} (every tenth of the run); ${gl.liveKernels()} compiled kernels; RSS ${rssAt.join(", ")} MiB; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}
writeResult(quick ? "results/gpu-bench-quick.json" : "results/gpu-bench.json", {
  suite: "gpu",
  quick,
  environment: env,
  gpu: info,
  rows,
  memory,
});
console.log(`written: results/gpu-bench${quick ? "-quick" : ""}.json`);
process.exit(0);
