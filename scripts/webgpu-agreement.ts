// On a GPU machine: whether its division is exact where the kernels split indices (⌊(a·y) / y⌋),
// and how far gpu.js webgpu's float32 results are from the CPU backend's float64, op
// by op, through the fused planar layer (forward and gradients), over MNIST training steps, and in
// one minibatch's gradient parameter by parameter, to find where a GPU's arithmetic departs (on an
// H200, planar training departed from the CPU's from its first epoch while the diagonal Gaussian's
// did not: docs/benchmarks.md). Run there:
//   bash .carry/gpu-run.sh bash scripts/gpu-measure.sh agreement     (JSON and table under $OUT)
// Here, on software Vulkan (results/webgpu-agreement-lavapipe.json):
//   PATH="$PWD/.webgpu-node/bin:$PATH" node dist/scripts/webgpu-agreement.js results/webgpu-agreement-lavapipe.json
import { writeFileSync } from "node:fs";
import { Random, Tensor } from "../src/autograd/index.js";
import { planar } from "../src/flows/index.js";
import { floorDiv } from "../src/kernels/gpu/sources.js";
import {
  backendInfo,
  type CustomKernel,
  cpuBackend,
  type DeviceArray,
  initBackend,
  setBackend,
  UNARY,
  type UnaryOp,
} from "../src/kernels/index.js";
import { FlowVAE, trainVAE, trainVAEAsync } from "../src/models/index.js";
import { loadMnist } from "../src/node/mnist.js";

const out = process.argv[2] ?? "webgpu-agreement.json";
const gpu = await initBackend("gpu", { gpuMode: "webgpu", quiet: true });
const { adapter } = backendInfo();
setBackend("cpu");
const rng = new Random(7);

/** f run with `backend` as the default backend, which is the CPU again afterwards. */
async function on<T>(backend: "cpu" | "gpu", f: () => T | Promise<T>): Promise<T> {
  setBackend(backend === "gpu" ? gpu : "cpu");
  try {
    return await f();
  } finally {
    setBackend("cpu");
  }
}

/** The largest |gpu − cpu| / max(|cpu|, 1e-3) over finite CPU values, and where. */
function worst(g: ArrayLike<number>, c: ArrayLike<number>, at: ArrayLike<number> = c): { rel: number; at: number } {
  let rel = 0,
    where = Number.NaN;
  for (let i = 0; i < c.length; i++) {
    if (!Number.isFinite(c[i]!)) continue;
    const e = Math.abs(g[i]! - c[i]!) / Math.max(Math.abs(c[i]!), 1e-3);
    if (!(e <= rel)) [rel, where] = [e, at[i]!];
  }
  return { rel, at: where };
}

// Does this GPU divide exactly? Output a·m + b is ⌊(a·y) / y⌋ − a for the divisor y = Y[b], read at
// run time (as the fused layers' kernels divided by a variable before floorDiv), or the divisor
// written into the source (as every other kernel's index math): 0 where the division is exact, −1
// where a quotient that is a whole number came out a ulp below it and floored one too low.
const DIVISORS = Float32Array.from([...Array.from({ length: 128 }, (_, k) => k + 1), 400, 784, 810, 3240, 6480]);
const MULTIPLES = 2000;
const divisionProbe = (literal: number | null): CustomKernel<Record<string, never>> => {
  const m = literal === null ? DIVISORS.length : 1;
  const y = literal === null ? "Y[b]" : `${literal}`;
  return {
    name: "divisionProbe",
    outputs: () => [MULTIPLES * m],
    work: () => MULTIPLES * m,
    cpu: () => undefined, // the answer on exact division is all zeros
    gpu: (launch, [divisors]) =>
      launch.packed(
        {
          key: `dp:${literal}`,
          source: `function (Y) { const tid = this.thread.y * this.constants.W + this.thread.x; if (tid >= this.constants.n) { return 0; }
            ${floorDiv("a", "tid", m)} const b = tid - a * ${m}; const x = a * ${y}; return Math.floor(x / ${y}) - a; }`,
          constants: {},
        },
        [MULTIPLES * m],
        [divisors!],
      ),
  };
};
async function divisionWrong(literal: number | null) {
  const [out] = gpu.run(divisionProbe(literal), [DIVISORS], {}, "float32");
  const values = out instanceof Float32Array ? out : await (out as DeviceArray).readAsync();
  const wrong = new Map<number, number>();
  values.forEach((v, t) => {
    const divisor = literal ?? DIVISORS[t % DIVISORS.length]!;
    if (v !== 0) wrong.set(divisor, (wrong.get(divisor) ?? 0) + 1);
  });
  return {
    checked: values.length,
    wrong: [...wrong.values()].reduce((a, b) => a + b, 0),
    byDivisor: Object.fromEntries(wrong),
  };
}
const division = {
  runtime: await divisionWrong(null),
  literal40: await divisionWrong(40),
  literal810: await divisionWrong(810),
};

// Each unary op on float32 inputs over [-20, 20] (and (0.05, 3] for all, inside every op's domain).
const ops: Array<{ op: string; range: string; rel: number; at: number }> = [];
for (const [lo, hi] of [
  [0.05, 3],
  [-20, 20],
]) {
  const x = Float64Array.from(Float32Array.from({ length: 65536 }, () => lo! + (hi! - lo!) * rng.uniform()));
  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    const c = new Float64Array(x.length);
    cpuBackend.host.unary(op, x, c);
    const g = await gpu.resident!.unary(op, x, x.length)!.readAsync();
    ops.push({ op, range: `[${lo}, ${hi}]`, ...worst(g, c, x) });
  }
}

// A planar layer as the VAE runs it: per-sample parameters, D = 40, N = 100, forward and gradients.
async function planarOn(backend: "cpu" | "gpu"): Promise<Float64Array[]> {
  const r = new Random(3);
  const t = (shape: number[], scale: number) =>
    new Tensor(
      Float64Array.from({ length: shape[0]! * (shape[1] ?? 1) }, () => scale * r.normal()),
      shape,
    );
  const [z, u, w, b] = [t([100, 40], 1), t([100, 40], 0.5), t([100, 40], 0.5), t([100, 1], 1)];
  for (const p of [z, u, w, b]) p.requireGrad();
  return on(backend, () => {
    const o = planar(z, { u, w, b: b.reshape([100]) });
    o.z.tanh().sum().add(o.logAbsDet.sum()).backward();
    const parts = [o.z, o.logAbsDet, z.grad!, u.grad!, w.grad!, b.grad!];
    return Promise.all(parts.map(async (p) => Float64Array.from(await p.read())));
  });
}
const cpuPlanar = await planarOn("cpu"),
  gpuPlanar = await planarOn("gpu");
const planarRows = ["z′", "log|det|", "dz", "du", "dw", "db"].map((name, i) => ({
  name,
  ...worst(gpuPlanar[i]!, cpuPlanar[i]!),
}));

// MNIST training steps (2,000 thresholded digits, batch 100, one epoch: 20 steps), CPU against webgpu.
const digits = loadMnist().train.images.subarray(0, 2000 * 784);
const images = Float64Array.from(digits, (v) => (v > 0.5 ? 1 : 0));
const training = [],
  gradients = [];
for (const K of [0, 10]) {
  const config = { K, hidden: 400, latent: 40, seed: 1 };
  const options = { epochs: 1, batchSize: 100, seed: 2 };
  const cpuModel = new FlowVAE(config);
  const c = trainVAE(cpuModel, images, options).losses;
  const g = (await on("gpu", () => trainVAEAsync(new FlowVAE(config), images, options))).losses;
  const gaps = c.map((l, i) => Math.abs(g[i]! - l) / l);
  training.push({
    K,
    steps: c.length,
    firstAbove1e4: gaps.findIndex((x) => x > 1e-4),
    largest: Math.max(...gaps),
    gaps,
  });
  // One minibatch's free energy and its gradient, parameter by parameter, at the CPU-trained model
  // (its flow no longer the identity), with the same draws: a wrong kernel shows here as one
  // parameter's gradient far off, where the training steps only say that the runs part.
  // Norm-wise: ‖g_gpu − g_cpu‖ / ‖g_cpu‖.
  const trained = cpuModel.stateDict();
  const gradientsOn = (backend: "cpu" | "gpu") =>
    on(backend, async () => {
      const model = new FlowVAE(config);
      model.loadStateDict(trained);
      const loss = model.freeEnergy(new Tensor(images.slice(0, 100 * 784), [100, 784]), new Random(5));
      loss.backward();
      const named: Array<[string, Float64Array]> = [["free energy", Float64Array.from(await loss.read())]];
      for (const [name, p] of model.namedParameters()) named.push([name, Float64Array.from(await p.grad!.read())]);
      return named;
    });
  const cg = await gradientsOn("cpu"),
    gg = await gradientsOn("gpu");
  for (const [i, [name, cv]] of cg.entries()) {
    const gv = gg[i]![1];
    let diff = 0,
      norm = 0;
    for (let j = 0; j < cv.length; j++) {
      diff += (gv[j]! - cv[j]!) ** 2;
      norm += cv[j]! ** 2;
    }
    gradients.push({ K, name, rel: Math.sqrt(diff / norm) });
  }
}

writeFileSync(out, `${JSON.stringify({ adapter, division, ops, planar: planarRows, training, gradients }, null, 1)}\n`);
const e = (v: number) => v.toExponential(1);
console.log(
  `adapter: ${adapter}\n\n| ⌊(a·y) / y⌋, a < ${MULTIPLES} | checked | floored one too low |\n|---|---:|---:|`,
);
for (const [name, r] of Object.entries(division))
  console.log(
    `| ${name === "runtime" ? "y read at run time (y = 1…128, 400, 784, 810, 3240, 6480)" : `y = ${name.slice(7)} in the source`} | ${r.checked} | ${r.wrong} |`,
  );
console.log(`\n| op | inputs | largest relative error | at x |\n|---|---|---:|---:|`);
for (const r of ops)
  console.log(`| ${r.op} | ${r.range} | ${e(r.rel)} | ${Number.isNaN(r.at) ? "—" : r.at.toFixed(3)} |`);
console.log("\n| fused planar layer (D = 40, N = 100) | largest relative error |\n|---|---:|");
for (const r of planarRows) console.log(`| ${r.name} | ${e(r.rel)} |`);
console.log(
  "\n| MNIST training, K | steps | first step past 1e-4 | largest relative loss gap |\n|---:|---:|---:|---:|",
);
for (const t of training) console.log(`| ${t.K} | ${t.steps} | ${t.firstAbove1e4} | ${e(t.largest)} |`);
console.log("\n| one minibatch, K | free energy or gradient of | relative error (norm-wise) |\n|---:|---|---:|");
for (const r of gradients) console.log(`| ${r.K} | ${r.name} | ${e(r.rel)} |`);
console.log(`wrote ${out}`);
process.exit(0);
