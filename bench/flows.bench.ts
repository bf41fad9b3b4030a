// Flow layer benchmarks (issue 4): forward+log-det and forward+backward of planar and radial layers,
// composed from autograd ops vs fused, and one Adam training step of K = 32 fused planar layers on
// the paper's U1 (D = 2, N = 1000) against a hand-written plain-JS loop doing the same computation.
// Run: npm run bench:flows   (add --quick for a shorter run)
import { Adam, Random, randn, Tensor } from "../src/autograd/index.js";
import {
  type Flow,
  FlowDistribution,
  type Implementation,
  PlanarFlow,
  RadialFlow,
  Sequential,
} from "../src/flows/index.js";
import { energy, freeEnergy } from "../src/models/index.js";
import { type Case, environment, markdownTable, runCases, writeResult } from "./harness.js";
import { HandWrittenPlanarU1 } from "./reference/planar-u1.js";

const quick = process.argv.includes("--quick");
const maxTime = quick ? 0.3 : 1;
const cases: Case[] = [];

// 1. The training step, three ways, after checking that they compute the same thing.
const K = 32,
  N = 1000;
const init = new Float64Array(5 * K);
{
  const r = new Random(1);
  for (let i = 0; i < init.length; i++) init[i] = 0.1 * r.normal();
}
function flowgradStep(implementation: Implementation) {
  const layers = Array.from(
    { length: K },
    (_, k) =>
      new PlanarFlow(2, {
        u: init.slice(5 * k, 5 * k + 2),
        w: init.slice(5 * k + 2, 5 * k + 4),
        b: init[5 * k + 4]!,
        implementation,
      }),
  );
  const q = new FlowDistribution(new Sequential(layers), { fixedBase: true });
  const opt = new Adam(q.parameters(), { lr: 1e-3 });
  const U = energy("U1");
  return {
    q,
    layers,
    step: (rng: Random) => {
      opt.zeroGrad();
      const loss = freeEnergy(q, U, N, 1, rng);
      loss.backward();
      opt.step();
      return loss.item();
    },
  };
}
const hand = new HandWrittenPlanarU1(K, N, init);
const fused = flowgradStep("fused"),
  composed = flowgradStep("composed");
{
  // Same parameters, same base samples: same loss, same gradients (before any update).
  const handLoss = hand.step(new Random(5), 1, false);
  const q = fused.q;
  q.zeroGrad();
  const loss = freeEnergy(q, energy("U1"), N, 1, new Random(5));
  loss.backward();
  const grads = fused.layers.flatMap((l) => [...l.u.grad!.data, ...l.w.grad!.data, ...l.b.grad!.data]);
  const worst = grads.reduce((m, g, i) => Math.max(m, Math.abs(g - hand.grads[i]!) / (1e-12 + Math.abs(g))), 0);
  if (Math.abs(handLoss - loss.item()) > 1e-10 * Math.abs(handLoss) || worst > 1e-8) {
    throw new Error(
      `hand-written and flowgrad steps disagree: loss ${handLoss} vs ${loss.item()}, worst relative gradient difference ${worst}`,
    );
  }
  console.error(
    `check: hand-written and flowgrad agree (loss ${handLoss.toFixed(6)}, worst relative gradient difference ${worst.toExponential(1)})`,
  );
}
const stepRng = new Random(7);
// The headline ratio gets 3 s per case even in quick mode: short runs are dominated by JIT warm-up.
cases.push({ name: "U1 step K=32 N=1000: hand-written plain-JS loop", fn: () => hand.step(stepRng, 1), maxTime: 3 });
cases.push({ name: "U1 step K=32 N=1000: flowgrad fused", fn: () => fused.step(stepRng), maxTime: 3 });
cases.push({
  name: "U1 step K=32 N=1000: flowgrad composed",
  fn: () => composed.step(stepRng),
  maxTime: quick ? 1 : 3,
});

// 2. Layers: forward + log-det, and forward + backward, N = 1000.
const dims = quick ? [2, 128] : [2, 16, 128, 1024];
const depths = quick ? [1] : [1, 32];
for (const kind of ["planar", "radial"] as const) {
  for (const d of dims) {
    for (const k of depths) {
      for (const implementation of ["composed", "fused"] as const) {
        const random = new Random(d * 100 + k);
        const layers: Flow[] = Array.from({ length: k }, () =>
          kind === "planar"
            ? new PlanarFlow(d, { random, implementation })
            : new RadialFlow(d, { random, implementation }),
        );
        const flow = new Sequential(layers);
        const z = randn([N, d], { random: 3 });
        const zGrad = new Tensor(z.data, z.shape, true);
        const label = `${kind} D=${d} K=${k} ${implementation}`;
        cases.push({ name: `${label}: forward+log-det`, fn: () => flow.forward(z), elements: N * d * k });
        cases.push({
          name: `${label}: forward+backward`,
          fn: () => {
            zGrad.grad = null;
            const { z: out, logAbsDet } = flow.forward(zGrad);
            out.sum().add(logAbsDet.sum()).backward();
          },
          elements: N * d * k,
        });
      }
    }
  }
}

console.error(`flow benchmarks (${quick ? "quick" : "full"}), maxTime ${maxTime}s per case`);
const rows = runCases(cases, maxTime);
const env = environment();
console.log(`\n## Flow layers (${env.cpu}, ${env.cores} cores, Node ${env.node}, CPU backend, float64, N = ${N})\n`);
console.log(markdownTable(rows));
const ms = (name: string) => rows.find((r) => r.name === name)!.meanMs;
const handMs = ms("U1 step K=32 N=1000: hand-written plain-JS loop");
const fusedMs = ms("U1 step K=32 N=1000: flowgrad fused");
const composedMs = ms("U1 step K=32 N=1000: flowgrad composed");
console.log(
  `\nU1 training step, K = 32 planar, N = 1000: fused ${fusedMs.toFixed(2)} ms = ${(fusedMs / handMs).toFixed(2)}× the hand-written loop (${handMs.toFixed(2)} ms); composed ${(composedMs / handMs).toFixed(2)}× (target: fused ≤ 2×)`,
);
writeResult(quick ? "results/flows-bench-quick.json" : "results/flows-bench.json", {
  suite: "flows",
  quick,
  environment: env,
  rows,
  ratios: { fusedOverHand: fusedMs / handMs, composedOverHand: composedMs / handMs },
});
console.log(`written: results/flows-bench${quick ? "-quick" : ""}.json`);
