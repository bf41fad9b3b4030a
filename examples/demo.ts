// The main job for now: train a small network with flowgrad's autograd and watch the loss fall.
// A 2-16-16-1 tanh MLP learns to tell the two arms of a noisy spiral apart (binary cross-entropy).
import { Adam, MLP, Random, type Tensor, tensor } from "../src/autograd/index.js";

function spiral(n: number, rng: Random): { x: Tensor; y: Tensor } {
  const xs: number[][] = [],
    ys: number[][] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2,
      t = 0.5 + 2.5 * rng.uniform(); // angle along the arm
    const angle = t * Math.PI + label * Math.PI;
    xs.push([t * Math.cos(angle) + 0.1 * rng.normal(), t * Math.sin(angle) + 0.1 * rng.normal()]);
    ys.push([label]);
  }
  return { x: tensor(xs), y: tensor(ys) };
}

const rng = new Random(0);
const { x, y } = spiral(400, rng);
const net = new MLP([2, 16, 16, 1], "tanh", { random: 1 });
const opt = new Adam(net.parameters(), { lr: 0.02 });
const steps = 600;
const started = performance.now();
console.log(
  `flowgrad demo: ${net.parameters().reduce((n, p) => n + p.size, 0)} parameters, ${x.shape[0]} points, Adam, ${steps} steps`,
);
for (let step = 1; step <= steps; step++) {
  opt.zeroGrad();
  const logits = net.forward(x);
  // Binary cross-entropy from logits, stable: softplus(l) − y·l
  const loss = logits.softplus().sub(y.mul(logits)).mean();
  loss.backward();
  opt.step();
  if (step === 1 || step % 60 === 0) {
    const accuracy = logits.gt(0).eq(y).mean().item();
    console.log(
      `step ${String(step).padStart(4)}  loss ${loss.item().toFixed(4)}  accuracy ${(100 * accuracy).toFixed(1)}%`,
    );
  }
}
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
