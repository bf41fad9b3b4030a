import { describe, expect, it } from "vitest";
import { HandWrittenPlanarU1 } from "../bench/reference/planar-u1.js";
import { Random } from "../src/autograd/index.js";
import { FlowDistribution, PlanarFlow, Sequential } from "../src/flows/index.js";
import { energy, freeEnergy } from "../src/models/index.js";
import { expectClose } from "./helpers.js";

// The benchmark's floor must compute exactly what flowgrad computes, or the ratio means nothing.
describe("the hand-written planar/U1 training step used as the benchmark floor", () => {
  it("gives flowgrad's loss and parameter gradients (K = 6, N = 50)", () => {
    const K = 6,
      N = 50,
      init = new Float64Array(5 * K),
      r = new Random(3);
    for (let i = 0; i < init.length; i++) init[i] = 0.8 * r.normal();
    init[0] = -5; // a constraint-active first layer: wᵀu < −1 for most w
    const hand = new HandWrittenPlanarU1(K, N, init);
    const layers = Array.from(
      { length: K },
      (_, k) =>
        new PlanarFlow(2, {
          u: init.slice(5 * k, 5 * k + 2),
          w: init.slice(5 * k + 2, 5 * k + 4),
          b: init[5 * k + 4]!,
        }),
    );
    const q = new FlowDistribution(new Sequential(layers), { fixedBase: true });
    for (const beta of [0.3, 1]) {
      const handLoss = hand.step(new Random(11), beta, false);
      q.zeroGrad();
      const loss = freeEnergy(q, energy("U1"), N, beta, new Random(11));
      loss.backward();
      expectClose([handLoss], [loss.item()], 1e-12, 1e-12);
      const grads = layers.flatMap((l) => [...l.u.grad!.data, ...l.w.grad!.data, ...l.b.grad!.data]);
      expectClose(hand.grads, grads, 1e-9, 1e-12);
    }
    expect(hand.grads.some((g) => g !== 0)).toBe(true);
  });
});
