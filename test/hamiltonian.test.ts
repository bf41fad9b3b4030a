import { describe, expect, it } from "vitest";
import * as ag from "../src/autograd/index.js";
import { Random } from "../src/autograd/index.js";
import { augmentedEnergy, HamiltonianFlow, jacobian, logAbsDet } from "../src/flows/index.js";
import { energy, estimateKL, fit2D, logPartition, makeFlow2D } from "../src/models/index.js";
import { expectClose, expectGradcheck, randomTensor } from "./helpers.js";

const rng = new Random(57);
const T = (shape: number[], scale = 1) => randomTensor(rng, shape).mul(scale).detach();

describe("the Hamiltonian flow (leapfrog on (z, ρ), tempered)", () => {
  const U = energy("U2");
  it("its log-det is D Σ ln α_k, and that is log|det J| of the map (leapfrog preserves volume)", () => {
    for (const tempering of [1, 0.9]) {
      const flow = new HamiltonianFlow(2, U, { K: 3, stepSize: 0.15, tempering });
      const x = T([5, 4]);
      const { logAbsDet: analytic } = flow.forward(x);
      expectClose(analytic.data, new Array(5).fill(2 * 3 * Math.log(tempering)), 1e-12, 1e-12);
      expectClose(logAbsDet(jacobian((y) => flow.forward(y).z, x).detach()).data, analytic.data, 1e-9, 1e-9);
    }
  });
  it("inverse runs the leapfrog backwards: f⁻¹(f(x)) = x", () => {
    const flow = new HamiltonianFlow(2, U, { K: 4, stepSize: 0.1, tempering: 0.95 });
    const x = T([10, 4]);
    expectClose(flow.inverse(flow.forward(x).z).data, x.data, 1e-10, 1e-10);
  });
  it("gradients through the leapfrog (second derivatives of U inside) pass gradcheck for the points", () => {
    const flow = new HamiltonianFlow(2, U, { K: 2, stepSize: 0.1, tempering: 0.9 });
    expectGradcheck(
      (x) => {
        const o = flow.forward(x);
        return o.z.square().sum(1).add(o.logAbsDet);
      },
      [T([3, 4])],
    );
  });
  it("the step sizes' and tempering's gradients match central differences of the free energy", () => {
    const flow = new HamiltonianFlow(2, U, { K: 3, stepSize: 0.1, tempering: 0.9 });
    const x = T([20, 4]),
      Ua = augmentedEnergy(U, 2);
    const loss = () => {
      const o = flow.forward(x);
      return Ua(o.z).sub(o.logAbsDet).mean();
    };
    loss().backward();
    for (const p of [flow.stepRaw, flow.temperingRaw]) {
      for (let j = 0; j < p.size; j++) {
        const v = p.data[j]!,
          eps = 1e-6;
        p.data[j] = v + eps;
        const plus = ag.noGrad(() => loss().item());
        p.data[j] = v - eps;
        const minus = ag.noGrad(() => loss().item());
        p.data[j] = v;
        expect(Math.abs(p.grad!.data[j]! - (plus - minus) / (2 * eps))).toBeLessThanOrEqual(
          1e-6 * (1 + Math.abs(p.grad!.data[j]!)),
        );
      }
    }
  });
  it("bad settings are errors that name them", () => {
    expect(() => new HamiltonianFlow(2, U, { K: 0 })).toThrow(/K \(leapfrog steps\) must be a positive integer, got 0/);
    expect(() => new HamiltonianFlow(2, U, { stepSize: -1 })).toThrow(/step size and the tempering must be positive/);
    expect(() => new HamiltonianFlow(2, U).forward(T([3, 2]))).toThrow(
      /HamiltonianFlow: expected points of shape \[N, 4\], got \[3, 2\]/,
    );
    expect(() => makeFlow2D("hamiltonian", 3, new Random(0))).toThrow(/name the target/);
  });
  it('fit2D with flow "hamiltonian" lowers its KL bound (on (z, ρ), an upper bound on KL(q(z) ‖ p)) on U1', () => {
    const logZ = logPartition("U1", 600);
    const before = estimateKL(makeFlow2D("hamiltonian", 3, new Random(0), "fused", {}, "U1"), "U1", logZ, 5000);
    expect(before.augmented).toBe(true);
    const { q } = fit2D({ target: "U1", flow: "hamiltonian", K: 3, steps: 300, batchSize: 100, lr: 0.02, seed: 0 });
    const after = estimateKL(q, "U1", logZ, 5000);
    expect(after.kl).toBeLessThan(before.kl / 2);
    expect(after.kl).toBeGreaterThan(-3 * after.standardError); // a KL, augmented or not, is never negative
    expect(after.logZ).toBeCloseTo(logZ + Math.log(2 * Math.PI), 12); // the augmented normaliser
  }, 60_000);
});
