// Training throughput: a VAE step on real MNIST digits (batch 100, examples/s), and the memory of a
// long run: peak RSS over 10,000 fused planar K = 32 steps on U1 (2,000 with --quick).
// Run: npm run bench:training
import { Adam, Random, Tensor } from "../src/autograd/index.js";
import { energy, FlowVAE, freeEnergy, makeFlow2D } from "../src/models/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { type Case, environment, markdownTable, runCases, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const data = loadMnist();
const batch = new Tensor(data.train.images.slice(0, 100 * 784), [100, 784]);
const cases: Case[] = [];
for (const K of [0, 10]) {
  const model = new FlowVAE({ K });
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const random = new Random(1);
  cases.push({
    name: `VAE step, batch 100, K=${K} planar (784-200-200-40, float64)`,
    fn: () => {
      opt.zeroGrad();
      model.freeEnergy(batch, random).backward();
      opt.step();
    },
    elements: 100, // examples per step
  });
}
const rows = runCases(cases, quick ? 1 : 3);

// Memory over a long run: sample RSS every 100 steps.
const steps = quick ? 2_000 : 10_000;
const q = makeFlow2D("planar", 32, new Random(0));
const opt = new Adam(q.parameters(), { lr: 1e-3 });
const U = energy("U1"),
  random = new Random(1);
let peak = 0,
  atTenth = 0;
const started = performance.now();
for (let t = 1; t <= steps; t++) {
  opt.zeroGrad();
  freeEnergy(q, U, 1000, 1, random).backward();
  opt.step();
  if (t % 100 === 0) {
    const rss = process.memoryUsage().rss;
    peak = Math.max(peak, rss);
    if (t === steps / 10) atTenth = rss;
  }
}
const seconds = (performance.now() - started) / 1000;
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const env = environment();
console.log(`\n## Training throughput (${env.cpu}, ${env.cores} cores, Node ${env.node}, CPU backend)\n`);
console.log(markdownTable(rows).replace("M elem/s", "examples/s ×1e6"));
for (const r of rows) console.log(`- ${r.name}: **${(100 / (r.meanMs / 1000)).toFixed(0)} examples/s**`);
console.log(
  `- ${steps.toLocaleString("en")} fused planar K=32 U1 steps (N = 1000): ${(steps / seconds).toFixed(0)} steps/s; RSS ${mb(atTenth)} MiB after ${steps / 10} steps, peak ${mb(peak)} MiB over the run`,
);
writeResult(quick ? "results/training-bench-quick.json" : "results/training-bench.json", {
  suite: "training",
  quick,
  environment: env,
  rows,
  longRun: { steps, seconds, rssAfterTenthMiB: atTenth / 2 ** 20, peakRssMiB: peak / 2 ** 20 },
});
console.log(`written: results/training-bench${quick ? "-quick" : ""}.json`);
