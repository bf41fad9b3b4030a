// Autograd core benchmarks: elementwise throughput, matmul forward and forward+backward against a
// plain Float64Array i-k-j loop, an MLP training step, and the per-op overhead of a small-op graph.
// Run: npm run bench:autograd   (add --quick for a shorter run)
import { Adam, MLP, matmul, randn, type Tensor, tensor } from "../src/autograd/index.js";
import { type Case, environment, markdownTable, runCases, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const maxTime = quick ? 0.5 : 2;

function ikjMatmul(a: Float64Array, b: Float64Array, c: Float64Array, n: number): void {
  c.fill(0);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j]!;
    }
  }
}

const cases: Case[] = [];

const big = randn([1_000_000], { random: 1 });
const big2 = randn([1_000_000], { random: 2 });
const plainOut = new Float64Array(1_000_000),
  bigData = big.data as Float64Array;
cases.push({ name: "neg, 1e6 elements", fn: () => big.neg(), elements: 1e6 });
cases.push({ name: "relu, 1e6 elements", fn: () => big.relu(), elements: 1e6 });
cases.push({ name: "square, 1e6 elements", fn: () => big.square(), elements: 1e6 });
cases.push({ name: "abs, 1e6 elements", fn: () => big.abs(), elements: 1e6 });
cases.push({ name: "exp, 1e6 elements", fn: () => big.exp(), elements: 1e6 });
// The floor for transcendental ops: Math.exp itself in a plain loop (no allocation, no dispatch).
cases.push({
  name: "plain loop Math.exp, 1e6 elements",
  fn: () => {
    for (let i = 0; i < 1e6; i++) plainOut[i] = Math.exp(bigData[i]!);
  },
  elements: 1e6,
});
cases.push({
  name: "plain loop Math.tanh, 1e6 elements",
  fn: () => {
    for (let i = 0; i < 1e6; i++) plainOut[i] = Math.tanh(bigData[i]!);
  },
  elements: 1e6,
});
cases.push({ name: "tanh, 1e6 elements", fn: () => big.tanh(), elements: 1e6 });
cases.push({ name: "softplus, 1e6 elements", fn: () => big.softplus(), elements: 1e6 });
cases.push({ name: "add, 1e6 elements", fn: () => big.add(big2), elements: 1e6 });
cases.push({
  name: "mul broadcast [1000,1000]·[1000], 1e6",
  fn: () => big.reshape([1000, 1000]).mul(big2.slice([0], [1000])),
  elements: 1e6,
});

for (const n of [64, 256, 512]) {
  const a = randn([n, n], { random: 3 }),
    b = randn([n, n], { random: 4 });
  const ar = randn([n, n], { random: 3, requiresGrad: true }),
    br = randn([n, n], { random: 4, requiresGrad: true });
  const c = new Float64Array(n * n);
  const flops = 2 * n ** 3;
  cases.push({
    name: `plain i-k-j loop, n=${n}`,
    fn: () => ikjMatmul(a.data as Float64Array, b.data as Float64Array, c, n),
    flops,
  });
  cases.push({ name: `matmul forward, n=${n}`, fn: () => matmul(a, b), flops });
  cases.push({
    name: `matmul forward+backward, n=${n}`,
    fn: () => {
      ar.grad = br.grad = null;
      matmul(ar, br).sum().backward();
    },
    flops: 3 * flops,
  });
  cases.push({
    name: `plain i-k-j loop ×3 (fwd+bwd work), n=${n}`,
    fn: () => {
      for (let r = 0; r < 3; r++) ikjMatmul(a.data as Float64Array, b.data as Float64Array, c, n);
    },
    flops: 3 * flops,
  });
}

{
  const net = new MLP([784, 400, 40], "relu", { random: 5 });
  const x = randn([100, 784], { random: 6 });
  const opt = new Adam(net.parameters(), { lr: 1e-3 });
  const flops = 3 * 2 * 100 * (784 * 400 + 400 * 40);
  cases.push({
    name: "MLP 784-400-40 training step, batch 100",
    fn: () => {
      opt.zeroGrad();
      net.forward(x).square().mean().backward();
      opt.step();
    },
    flops,
  });
}

{
  const x = tensor(
    Array.from({ length: 16 }, (_, i) => i / 16),
    { requiresGrad: true },
  );
  const w = tensor(Array.from({ length: 16 }, (_, i) => 1 - i / 32));
  cases.push({
    name: "graph of 1,000 small ops ([16]) forward+backward",
    fn: () => {
      x.grad = null;
      let h: Tensor = x;
      for (let i = 0; i < 250; i++) h = h.mul(w).add(0.01).tanh().sub(0.001);
      h.sum().backward();
    },
  });
}

console.error(`autograd benchmarks (${quick ? "quick" : "full"}), maxTime ${maxTime}s per case`);
const rows = runCases(cases, maxTime);
const env = environment();
console.log(`\n## Autograd core (${env.cpu}, ${env.cores} cores, Node ${env.node}, CPU backend, float64)\n`);
console.log(markdownTable(rows));
const byName = (name: string) => rows.find((r) => r.name === name)!;
console.log("\nratios (flowgrad / plain loop time; < 1 means flowgrad is faster):");
for (const n of [64, 256, 512]) {
  const fb = byName(`matmul forward+backward, n=${n}`),
    loop = byName(`plain i-k-j loop ×3 (fwd+bwd work), n=${n}`);
  console.log(
    `  n=${n}: matmul fwd+bwd ${(fb.meanMs / loop.meanMs).toFixed(2)}× the plain loop doing the same three products`,
  );
}
writeResult(quick ? "results/autograd-bench-quick.json" : "results/autograd-bench.json", {
  suite: "autograd",
  quick,
  environment: env,
  rows,
});
console.log(`\nwritten: results/autograd-bench${quick ? "-quick" : ""}.json`);
