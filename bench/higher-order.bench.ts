// Second derivatives (issue: derivatives of derivatives): what a Hessian-vector product costs
// against a gradient of the same function (theory: a small constant, about 2–4), whether the heap
// stays flat over a long loop that takes an hvp every step, and — given an older build with
// --baseline DIR (scripts/build-at.sh REV makes one) — the first-order planar K = 32 training step
// of that build and of this one, timed side by side in one process.
// Run: npm run bench:higher-order   (add --quick for a shorter run)
import path from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import * as ag from "../src/autograd/index.js";
import { Random, Tensor } from "../src/autograd/index.js";
import * as flowgrad from "../src/index.js";
import { type Case, environment, markdownTable, type Row, runCases, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const baselineAt = process.argv.indexOf("--baseline");
const baselineDir = baselineAt >= 0 ? process.argv[baselineAt + 1] : undefined;
if (baselineAt >= 0 && !baselineDir)
  throw new Error("--baseline needs the folder of an older build (its dist/), e.g. from scripts/build-at.sh");
const maxTime = quick ? 0.5 : 2;

// 1. hvp against grad, same function, same point; checked against each other first: ⟨v, H v⟩ by a
// central difference of the gradient along v.
interface Workload {
  name: string;
  f: (x: Tensor) => Tensor;
  x: Tensor;
}
const random = new Random(3);
const randn = (shape: number[], scale = 1) =>
  ag.tensor(Array.from(ag.randn(shape, { random }).data, (a) => a * scale)).reshape(shape);
const workloads: Workload[] = [];
for (const target of ["U1", "U3"] as const) {
  const U = flowgrad.energy(target);
  workloads.push({ name: `${target}(z), N = 1000 points`, f: (z) => U(z).sum(), x: randn([1000, 2], 1.5) });
}
// The paper's 2-D workload: free energy of K = 32 planar layers as a function of the base points,
// with the fused layers (a hand-written first-order kernel; a createGraph pass differentiates their
// composed reference instead) and with the composed layers (the same ops in both passes).
const planarPoints = randn([1000, 2]);
for (const implementation of ["fused", "composed"] as const) {
  const layerRandom = new Random(11);
  const flow = new flowgrad.Sequential(
    Array.from({ length: 32 }, () => new flowgrad.PlanarFlow(2, { random: layerRandom, implementation })),
  );
  const U = flowgrad.energy("U1");
  workloads.push({
    name: `planar K = 32 (${implementation}) free energy on U1, N = 1000 points`,
    f: (z) => {
      const o = flow.forward(z);
      return U(o.z).sub(o.logAbsDet).sum();
    },
    x: planarPoints,
  });
}
{
  // A dense network's loss as a function of its first weight matrix (the MNIST models' kind of work).
  const x = randn([100, 64]),
    w2 = randn([128, 10], 0.1),
    target = randn([100, 10]);
  workloads.push({
    name: "MLP 64-128-10 loss, batch 100, in W1 [64, 128]",
    f: (w1) => x.matmul(w1).tanh().matmul(w2).sub(target).square().mean(),
    x: randn([64, 128], 0.1),
  });
}

const cases: Case[] = [];
const checks: Array<{ workload: string; vHv: number; centralDifference: number }> = [];
for (const w of workloads) {
  const v = ag.tensor(Array.from({ length: w.x.size }, () => random.normal())).reshape(w.x.shape);
  const hv = ag.hvp(w.f, w.x, v).data;
  const gradAlong = (s: number) =>
    ag.grad(w.f)(ag.tensor(Array.from(w.x.data, (a, i) => a + s * v.data[i]!)).reshape(w.x.shape))[0]!.data;
  const eps = 1e-5,
    plus = gradAlong(eps),
    minus = gradAlong(-eps);
  let vHv = 0,
    numeric = 0;
  for (let i = 0; i < hv.length; i++) {
    vHv += v.data[i]! * hv[i]!;
    numeric += (v.data[i]! * (plus[i]! - minus[i]!)) / (2 * eps);
  }
  if (!(Math.abs(vHv - numeric) <= 1e-5 * (1 + Math.abs(vHv))))
    throw new Error(`${w.name}: ⟨v, Hv⟩ = ${vHv} but the gradient's central difference gives ${numeric}`);
  checks.push({ workload: w.name, vHv, centralDifference: numeric });
  console.error(`check: ${w.name}: ⟨v, Hv⟩ ${vHv.toPrecision(8)} = central difference ${numeric.toPrecision(8)}`);
  cases.push({ name: `${w.name}: gradient`, fn: () => ag.grad(w.f)(w.x) });
  cases.push({ name: `${w.name}: hvp`, fn: () => ag.hvp(w.f, w.x, v) });
}

// 2. The first-order step, this build and (with --baseline) an older one, alternated.
type Library = typeof flowgrad;
async function planarStep(lib: Library): Promise<() => number> {
  const init = new Float64Array(5 * 32);
  const r = new lib.Random(1);
  for (let i = 0; i < init.length; i++) init[i] = 0.1 * r.normal();
  const layers = Array.from(
    { length: 32 },
    (_, k) =>
      new lib.PlanarFlow(2, {
        u: init.slice(5 * k, 5 * k + 2),
        w: init.slice(5 * k + 2, 5 * k + 4),
        b: init[5 * k + 4]!,
      }),
  );
  const q = new lib.FlowDistribution(new lib.Sequential(layers), { fixedBase: true });
  const opt = new lib.Adam(q.parameters(), { lr: 1e-3 });
  const U = lib.energy("U1"),
    rng = new lib.Random(7);
  return () => {
    opt.zeroGrad();
    const loss = lib.freeEnergy(q, U, 1000, 1, rng);
    loss.backward();
    opt.step();
    return loss.item();
  };
}
const stepCases: Array<[string, () => number]> = [
  ["planar K = 32 Adam step on U1, N = 1000 (first order): this build", await planarStep(flowgrad)],
];
let baselineCommit: string | undefined;
if (baselineDir) {
  const older = (await import(pathToFileURL(path.resolve(baselineDir, "src/index.js")).href)) as Library;
  baselineCommit = path.basename(path.resolve(baselineDir, "..")).replace(/^build-/, "");
  const label = `planar K = 32 Adam step on U1, N = 1000 (first order): baseline build ${baselineCommit}`;
  stepCases.push([label, await planarStep(older)]);
  const [a, b] = [stepCases[0]![1](), stepCases[1]![1]()];
  if (Math.abs(a - b) > 1e-10 * Math.abs(a)) throw new Error(`the two builds' steps disagree: loss ${a} vs ${b}`);
  console.error(`check: this build and ${baselineCommit} give the same first loss (${a.toFixed(8)})`);
}
// Two rounds in alternation, so drift of a shared machine falls on both builds alike.
for (const round of [1, 2])
  for (const [name, fn] of stepCases) cases.push({ name: `${name} (round ${round})`, fn, maxTime: quick ? 1 : 3 });

console.error(`higher-order benchmarks (${quick ? "quick" : "full"}), maxTime ${maxTime}s per case`);
const rows = runCases(cases, maxTime);
const ms = (name: string) => rows.find((r) => r.name === name)!.meanMs;

// 3. Memory: the heap after a full collection, every 1,000 steps of a loop that takes an hvp each step.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
const memorySteps = quick ? 2_000 : 10_000;
const loop = workloads[2]!; // the fused planar K = 32 free energy: its layers recomputed composed in the second pass
let z = new Tensor(loop.x.data.slice(0, 200 * 2), [200, 2]);
const heap: Array<{ step: number; heapMiB: number }> = [];
const started = performance.now();
for (let t = 0; t <= memorySteps; t++) {
  if (t % 1000 === 0) {
    gc();
    heap.push({ step: t, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 });
  }
  const [g] = ag.grad(loop.f)(z);
  const hg = ag.hvp(loop.f, z, g!);
  z = ag.noGrad(() => z.sub(g!.mul(1e-3)).add(hg.mul(1e-5))); // a damped step that uses the curvature
}
const loopSeconds = (performance.now() - started) / 1000;

const env = environment();
console.log(`\n## Second derivatives (${env.cpu}, ${env.cores} cores, Node ${env.node}, CPU backend, float64)\n`);
console.log(markdownTable(rows));
const ratios = workloads.map((w) => ({
  workload: w.name,
  hvpOverGradient: ms(`${w.name}: hvp`) / ms(`${w.name}: gradient`),
}));
console.log("");
for (const r of ratios) console.log(`- ${r.workload}: hvp = **${r.hvpOverGradient.toFixed(2)}×** a gradient`);
const fusedHvp = ms(`${workloads[2]!.name}: hvp`),
  composedGradient = ms(`${workloads[3]!.name}: gradient`);
console.log(
  `- planar K = 32: the fused layers' hvp = ${(fusedHvp / composedGradient).toFixed(2)}× the composed layers' gradient (the ops its second pass runs)`,
);
let stepComparison: Record<string, number> | undefined;
if (baselineDir) {
  const median = (prefix: string) => {
    const times = rows
      .filter((r: Row) => r.name.startsWith(prefix))
      .map((r) => r.meanMs)
      .sort((p, q) => p - q);
    return (times[0]! + times[times.length - 1]!) / 2;
  };
  const now = median(stepCases[0]![0]),
    before = median(stepCases[1]![0]);
  stepComparison = { thisBuildMs: now, baselineMs: before, ratio: now / before };
  console.log(
    `- first-order planar K = 32 step: this build ${now.toFixed(2)} ms, ${baselineCommit} ${before.toFixed(2)} ms: **${(now / before).toFixed(3)}×** (mean of two alternated rounds each)`,
  );
}
const growth = heap[heap.length - 1]!.heapMiB - heap[1]!.heapMiB;
console.log(
  `- ${memorySteps.toLocaleString("en")} steps with a gradient and an hvp each (planar K = 32, N = 200): heap after a full GC ${heap.map((h) => h.heapMiB.toFixed(1)).join(", ")} MiB at every 1,000 steps; ${growth >= 0 ? "+" : ""}${growth.toFixed(2)} MiB from step 1,000 to the end (${(memorySteps / loopSeconds).toFixed(0)} steps/s)`,
);
const file = quick ? "results/higher-order-bench-quick.json" : "results/higher-order-bench.json";
writeResult(file, {
  suite: "higher-order",
  quick,
  environment: env,
  baselineCommit,
  rows,
  checks,
  ratios,
  fusedHvpOverComposedGradient: fusedHvp / composedGradient,
  stepComparison,
  memory: { steps: memorySteps, heap, growthMiB: growth },
});
console.log(`written: ${file}`);
