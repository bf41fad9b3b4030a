// gpu.js's webgpu mode against the CPU backend: elementwise and matmul with transfers (every call
// uploads its inputs and reads its output back) and device-resident (inputs and outputs stay in
// WebGPU buffers, one read at the end), then memory over a long training run. Run:
//   npm run bench:webgpu   (where Dawn loads: a GPU machine, see ../shared/gpu/README.md; or, on
//   Mesa's software Vulkan, with PATH=.webgpu-node/bin:$PATH after bash scripts/webgpu-node.sh)
import { Adam, MLP, Random, randn, sum, type Tensor, tidy } from "../src/autograd/index.js";
import { planar } from "../src/flows/index.js";
import { createGpuBackend, type GpuBackend } from "../src/kernels/gpu/backend.js";
import { cpuBackend, type DeviceArray, setBackend } from "../src/kernels/index.js";
import { type Case, environment, markdownTable, runCasesAsync, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const maxTime = quick ? 0.2 : 0.5;
const rng = new Random(1);
let gpu: GpuBackend;
try {
  gpu = await createGpuBackend("webgpu");
} catch (error) {
  console.error(`gpu.js webgpu: not measured here (${(error as Error).message})`);
  process.exit(1);
}
const r = gpu.resident!;
const label = "webgpu";
console.error(`gpu.js webgpu mode, ${gpu.info.kernelClass}, adapter ${gpu.info.adapter}`);

/** Read a device array back and free it: what ends every timed webgpu call. */
async function finish(t: DeviceArray): Promise<void> {
  await t.readAsync();
  t.release();
}

const cases: Case[] = [];
const sizes = quick ? [1 << 10, 1 << 16, 1 << 20] : [1 << 10, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22, 10_000_000];
for (const n of sizes) {
  const x = Float32Array.from({ length: n }, () => rng.normal()),
    out = new Float32Array(n);
  cases.push({
    name: `exp n=${n}: cpu backend`,
    fn: () => cpuBackend.host.unary("exp", x, out),
    elements: n,
    bytes: 8 * n,
  });
  cases.push({
    name: `exp n=${n}: ${label} with transfers`,
    asyncFn: () => finish(r.unary("exp", x, n)!),
    elements: n,
    bytes: 8 * n,
  });
}
// Row sums of [n/256, 256]: one output per row (one GPU thread per row, looping over it).
for (const n of quick ? [1 << 16] : [1 << 14, 1 << 18, 1 << 22]) {
  const x = Float32Array.from({ length: n }, () => rng.normal()),
    out = new Float32Array(n / 256);
  const bytes = 4 * (n + n / 256);
  cases.push({
    name: `row sums [${n / 256}, 256]: cpu backend`,
    fn: () => cpuBackend.host.reduce("sum", x, n / 256, 256, 1, out),
    elements: n,
    bytes,
  });
  cases.push({
    name: `row sums [${n / 256}, 256]: ${label} with transfers`,
    asyncFn: () => finish(r.reduce("sum", x, n / 256, 256, 1)!),
    elements: n,
    bytes,
  });
}
for (const n of quick ? [1 << 16] : [1 << 14, 1 << 16, 1 << 18, 1 << 20]) {
  const x = Float32Array.from({ length: n }, () => rng.normal());
  cases.push({
    name: `10 × tanh n=${n}: ${label} with transfers`,
    elements: 10 * n,
    asyncFn: async () => {
      let host: Float32Array = x;
      for (let i = 0; i < 10; i++) {
        const t = r.unary("tanh", host, n)!;
        host = await t.readAsync();
        t.release();
      }
    },
  });
  cases.push({
    name: `10 × tanh n=${n}: ${label} device-resident`,
    elements: 10 * n,
    asyncFn: () => {
      let t = r.unary("tanh", x, n)!;
      for (let i = 1; i < 10; i++) {
        const next = r.unary("tanh", t, n)!;
        t.release();
        t = next;
      }
      return finish(t);
    },
  });
}
const dims = quick ? [64, 256] : [32, 64, 128, 256, 512, 1024];
const deviceInputs: DeviceArray[] = [];
for (const d of dims) {
  const a = Float32Array.from({ length: d * d }, () => rng.normal()),
    out = new Float32Array(d * d),
    off = new Int32Array([0]);
  const onDevice = r.unary("neg", a, d * d)!;
  deviceInputs.push(onDevice);
  const flops = 2 * d ** 3;
  cases.push({
    name: `matmul n=${d}: cpu backend`,
    fn: () => cpuBackend.host.matmul(a, off, a, off, out, d, d, d, false, false),
    flops,
  });
  cases.push({
    name: `matmul n=${d}: ${label} with transfers`,
    asyncFn: () => finish(r.matmul(a, off, a, off, d, d, d, false, false)!),
    flops,
  });
  // Ten products queued on the device; reading the last waits for all (one queue runs them in order).
  cases.push({
    name: `10 × matmul n=${d}: ${label} inputs on the GPU, one read`,
    flops: 10 * flops,
    asyncFn: () => {
      for (let i = 0; i < 9; i++) r.matmul(onDevice, off, onDevice, off, d, d, d, false, false)!.release();
      return finish(r.matmul(onDevice, off, onDevice, off, d, d, d, false, false)!);
    },
  });
}
// The paper's 2-D workload: one training step of K planar layers on N points (forward, backward
// and an Adam update), loss −mean(Σ log|det| + log N(z_K; 0, I)); on webgpu every op, the update
// included, stays on the device, and the loss is the one value read.
const flowK = 32;
function flowTraining(n: number): { step: () => Tensor; opt: Adam } {
  const random = new Random(9);
  const layers = Array.from({ length: flowK }, () => ({
    u: randn([2], { random, dtype: "float32" }).requireGrad(),
    w: randn([2], { random, dtype: "float32" }).requireGrad(),
    b: randn([1], { random, dtype: "float32" }).requireGrad(),
  }));
  const opt = new Adam(
    layers.flatMap((p) => [p.u, p.w, p.b]),
    { lr: 1e-3 },
  );
  const z0 = randn([n, 2], { random, dtype: "float32" });
  const step = () =>
    tidy(() => {
      opt.zeroGrad();
      let z = z0,
        sumLogDet = null as Tensor | null;
      for (const p of layers) {
        const o = planar(z, p);
        z = o.z;
        sumLogDet = sumLogDet ? sumLogDet.add(o.logAbsDet) : o.logAbsDet;
      }
      const loss = sumLogDet!.sub(sum(z.square(), 1).mul(0.5)).neg().mean();
      loss.backward();
      return loss;
    });
  return { step, opt };
}
for (const n of quick ? [1000] : [1000, 10_000, 100_000]) {
  const onCpu = flowTraining(n),
    onGpu = flowTraining(n); // parameters of their own: each backend's stay where it put them
  cases.push({
    name: `planar K=${flowK} step N=${n}: cpu backend`,
    elements: n,
    fn: () => {
      setBackend(cpuBackend);
      onCpu.step().item();
      onCpu.opt.step();
    },
  });
  cases.push({
    name: `planar K=${flowK} step N=${n}: ${label}, update on the device, one read`,
    elements: n,
    asyncFn: async () => {
      setBackend(gpu);
      try {
        const loss = onGpu.step();
        await onGpu.opt.stepAsync(); // queues the update kernels: nothing to read
        await loss.read();
      } finally {
        setBackend(cpuBackend);
      }
    },
  });
}
const rows = await runCasesAsync(cases, maxTime);
for (const t of deviceInputs) t.release();
const env = environment();
console.log(
  `\n## gpu.js webgpu vs CPU backend (${gpu.info.adapter}; ${env.cpu}, ${env.cores} cores, Node ${env.node})\n`,
);
console.log(markdownTable(rows));
const mean = (name: string) => rows.find((row) => row.name === name)!.meanMs;
const e = sizes.find((n) => mean(`exp n=${n}: ${label} with transfers`) < mean(`exp n=${n}: cpu backend`));
const m = dims.find((d) => mean(`matmul n=${d}: ${label} with transfers`) < mean(`matmul n=${d}: cpu backend`));
const mr = dims.find(
  (d) => mean(`10 × matmul n=${d}: ${label} inputs on the GPU, one read`) / 10 < mean(`matmul n=${d}: cpu backend`),
);
const crossover = { exp: e ?? null, matmulWithTransfers: m ?? null, matmulResident: mr ?? null };
for (const row of rows.filter((x) => x.name.startsWith("planar") && x.name.includes(label))) {
  const cpuRow = rows.find((x) => x.name === row.name.replace(/: .*$/, ": cpu backend"))!;
  console.log(
    `- ${row.name.replace(/: .*$/, "")}: webgpu ${(cpuRow.meanMs / row.meanMs).toFixed(2)}× the CPU backend's speed`,
  );
}
// What one training step costs in launches (forward, backward, update), each with a fixed overhead.
const probe = flowTraining(1000);
setBackend(gpu);
const launchesBefore = gpu.kernelLaunches();
const probeLoss = probe.step();
await probe.opt.stepAsync();
await probeLoss.read();
const launchesPerStep = gpu.kernelLaunches() - launchesBefore;
setBackend(cpuBackend);
console.log(
  `- planar K=${flowK} training step: ${launchesPerStep} kernel launches (forward, backward and the Adam update)`,
);
console.log(
  `- faster than the CPU backend: exp with transfers from n = ${e ?? "never (in this range)"}; matmul with transfers from n = ${m ?? "never"}; matmul with inputs on the GPU from n = ${mr ?? "never"}`,
);

// Memory over a long run: every step in tidy(), the loss read with await, the update queued by
// stepAsync(). A backend of its own counts the buffers: what the cases above left (freed whenever
// the garbage collector gets to it) is not in its count.
const steps = quick ? 1000 : 10_000;
const mem = await createGpuBackend("webgpu");
setBackend(mem);
const random = new Random(3);
const net = new MLP([2, 32, 1], "tanh", { random, dtype: "float32" });
const opt = new Adam(net.parameters(), { lr: 0.01 });
const x = randn([256, 2], { random, dtype: "float32" }),
  y = tidy(() => sum(x.square(), 1, true));
await y.read();
const liveAt: number[] = [],
  rssAt: number[] = [],
  lossAt: number[] = [];
const before = mem.liveTextures();
const t0 = performance.now();
for (let step = 0; step < steps; step++) {
  const loss = tidy(() => {
    opt.zeroGrad();
    const l = net.forward(x).sub(y).square().mean();
    l.backward();
    return l;
  });
  const value = (await loss.read())[0]!;
  await opt.stepAsync();
  if (step % (steps / 10) === 0 || step === steps - 1) {
    liveAt.push(mem.liveTextures() - before);
    rssAt.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    lossAt.push(value);
    process.stderr.write(
      `  step ${step}: loss ${value.toFixed(4)}, live buffers ${liveAt.at(-1)}, RSS ${rssAt.at(-1)} MiB\n`,
    );
  }
}
setBackend("cpu");
const seconds = (performance.now() - t0) / 1000;
const memory = {
  steps,
  model: "MLP 2-32-1, batch 256, Adam",
  seconds,
  liveBuffersEveryTenth: liveAt,
  liveKernels: mem.liveKernels(),
  rssMiBEveryTenth: rssAt,
  lossEveryTenth: lossAt,
};
console.log(
  `\n${steps} training steps on gpu.js webgpu, each in tidy(): live buffers ${liveAt.join(", ")} (every tenth of the run); ${mem.liveKernels()} compiled kernels; RSS ${rssAt.join(", ")} MiB; ${seconds.toFixed(0)} s`,
);
const file = quick ? "results/webgpu-bench-quick.json" : "results/webgpu-bench.json";
writeResult(file, {
  suite: "webgpu",
  quick,
  environment: env,
  gpu: gpu.info,
  rows,
  crossover,
  launchesPerStep,
  memory,
});
console.log(`written: ${file}`);
process.exit(0);
