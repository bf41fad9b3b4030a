// One MNIST training step (K = 40 planar layers, or K from the environment), repeated, for a CPU profile:
// node --cpu-prof scripts/profile-vae-step.mjs (after npm run build). results/profiles/vae-K40-step.md holds what it showed.
import { Adam, Random, Tensor } from "../dist/src/autograd/index.js";
import { setCpuKernels } from "../dist/src/kernels/index.js";
import { FlowVAE } from "../dist/src/models/index.js";

setCpuKernels({ threads: 1 });
const m = new FlowVAE({ K: Number(process.env.K ?? 40), hidden: 400, latent: 40, seed: 0 });
const opt = new Adam(m.parameters(), { lr: 1e-3 });
const r = new Random(1);
const x = new Tensor(
  Float64Array.from({ length: 100 * 784 }, () => (r.uniform() < 0.2 ? 1 : 0)),
  [100, 784],
);
const step = () => {
  opt.zeroGrad();
  m.freeEnergy(x, r).backward();
  opt.step();
};
for (let i = 0; i < 5; i++) step();
const t0 = performance.now();
for (let i = 0; i < 40; i++) step();
console.log("ms/step", (performance.now() - t0) / 40);
