import { describe, expect, it } from "vitest";
import { randn, type Tensor } from "../src/autograd/index.js";
import { AdditiveCoupling, DiagonalScaling, logAbsDetJacobian, NICE } from "../src/flows/index.js";
import { estimateKL, fit2D, logPartition } from "../src/models/index.js";
import { expectGradcheck } from "./helpers.js";

// NICE against the math: a coupling's Jacobian has determinant exactly 1 (brute force: the full
// Jacobian, then LU), the whole flow's log-det is Σ s, and the inverse undoes the forward.
const maxAbs = (t: Tensor) => t.abs().max().item();

describe("NICE: additive coupling layers and the diagonal scaling", () => {
  for (const dim of [2, 3, 5]) {
    for (const moves of ["first", "second"] as const) {
      it(`a coupling (D = ${dim}, moving the ${moves} half) preserves volume: log|det J| = 0 by brute force`, () => {
        const layer = new AdditiveCoupling(dim, { moves, hidden: [8, 8], random: 3, init: "random" });
        const z = randn([6, dim], { random: 4 });
        const brute = logAbsDetJacobian((p) => layer.forward(p).z, z);
        expect(maxAbs(brute)).toBeLessThan(1e-12);
        expect(maxAbs(layer.forward(z).logAbsDet)).toBe(0);
        // It moves the points (m is not zero) and only the half it says.
        const y = layer.forward(z).z;
        const h = Math.floor(dim / 2);
        const [fixedStart, fixedEnd] = moves === "second" ? [0, h] : [h, dim];
        const zs = z.toArray() as number[][];
        const ys = y.toArray() as number[][];
        for (let i = 0; i < 6; i++)
          for (let j = 0; j < dim; j++) {
            if (j >= fixedStart && j < fixedEnd) expect(ys[i]![j]).toBe(zs[i]![j]);
          }
        expect(maxAbs(y.sub(z))).toBeGreaterThan(1e-3);
      });
    }
  }
  it("NICE's log-det is Σ s, equal to the brute-force log|det J| of the whole flow", () => {
    const flow = new NICE(4, 6, { hidden: [8], random: 1, init: "random" });
    const scaling = flow.layers.at(-1) as DiagonalScaling;
    scaling.logScale.data.set([0.3, -0.7, 0.1, 0.25]);
    const z = randn([5, 4], { random: 2 });
    const out = flow.forward(z);
    const sumS = 0.3 - 0.7 + 0.1 + 0.25;
    for (const v of out.logAbsDet.data) expect(Math.abs(v - sumS)).toBeLessThan(1e-14);
    const brute = logAbsDetJacobian((p) => flow.forward(p).z, z);
    expect(maxAbs(brute.sub(out.logAbsDet))).toBeLessThan(1e-10);
  });
  it("the inverse is exact: f⁻¹(f(z)) = z and f(f⁻¹(x)) = x to rounding", () => {
    const flow = new NICE(6, 8, { hidden: [16, 16], random: 5, init: "random" });
    (flow.layers.at(-1) as DiagonalScaling).logScale.data.set([0.5, -0.2, 0, 0.1, -1, 0.3]);
    const z = randn([20, 6], { random: 6 });
    expect(maxAbs(flow.inverse(flow.forward(z).z).sub(z))).toBeLessThan(1e-12);
    expect(maxAbs(flow.forward(flow.inverse(z)).z.sub(z))).toBeLessThan(1e-12);
  });
  it("starts as the identity map (so every k starts from the base distribution), and gradients check", () => {
    const flow = new NICE(3, 4, { hidden: [8], random: 7 });
    const z = randn([4, 3], { random: 8 });
    const out = flow.forward(z);
    expect(maxAbs(out.z.sub(z))).toBe(0);
    expect(maxAbs(out.logAbsDet)).toBe(0);
    const random = new NICE(3, 2, { hidden: [8], random: 9, init: "random" });
    const scaling = random.layers.at(-1) as DiagonalScaling;
    // ReLU networks: central differences are exact away from kinks, which random points avoid.
    expectGradcheck((p) => random.forward(p).z.square().sum(), [randn([3, 3], { random: 10 })]);
    expectGradcheck(
      (s) => {
        const y = randn([3, 3], { random: 11 }).mul(s.exp());
        return y.square().sum().add(s.sum());
      },
      [scaling.logScale.detach().add(0.1)],
    );
    // Every parameter gets a gradient from the free-energy-like loss.
    const loss = random
      .forward(randn([8, 3], { random: 12 }))
      .z.square()
      .sum();
    loss.backward();
    for (const p of random.parameters()) expect(p.grad, "a parameter without a gradient").toBeDefined();
  });
  it("bad sizes are named", () => {
    expect(() => new AdditiveCoupling(1)).toThrow(/dimension must be an integer ≥ 2/);
    expect(() => new NICE(4, 0)).toThrow(/NICE: k \(coupling layers\) must be a positive integer, got 0/);
    expect(() => new NICE(4, 2).forward(randn([3, 5]))).toThrow(/expected points of shape \[N, 4\]/);
    expect(() => new DiagonalScaling(3, { logScale: [1, 2] })).toThrow(/logScale has 2 values/);
  });
  it('fit2D with flow "nice" lowers KL(q‖p) on U1 well below the base distribution\'s', () => {
    const logZ = logPartition("U1", 400);
    const before = estimateKL(fit2D({ target: "U1", flow: "nice", K: 4, steps: 1, seed: 0 }).q, "U1", logZ, 20_000);
    const { q } = fit2D({ target: "U1", flow: "nice", K: 4, steps: 500, seed: 0 });
    const after = estimateKL(q, "U1", logZ, 20_000);
    expect(after.kl).toBeLessThan(before.kl / 3);
  });
});
