import { describe, expect, it } from "vitest";
import { noGrad, Random, split, type Tensor, tensor } from "../src/autograd/index.js";
import { logAbsDetJacobian, planar } from "../src/flows/index.js";
import { boundWithLayers, FlowVAE, planarLayerStats, SATURATED } from "../src/models/index.js";
import { repeatRows } from "../src/models/vae.js";

const D = 3,
  K = 3,
  INPUTS = 6;
const images = Float64Array.from([1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1]); // 3 digits

/** A planar model whose flow head has weights and biases of order one: layers that bend and differ per digit. */
function bentModel(): FlowVAE {
  const model = new FlowVAE({ inputs: INPUTS, latent: D, hidden: 5, K, seed: 4, flowInit: "random" });
  const r = new Random(11);
  const head = model.flowParamsHead!;
  for (const p of [head.weight, head.bias]) p.data.forEach((_, i, a) => (a[i] = 1.5 * r.normal()));
  return model;
}

/** Set the flow head to give every digit these per-layer parameters [u (D), w (D), b] (weights zero). */
function fixedLayers(model: FlowVAE, layers: number[][]): void {
  model.flowParamsHead!.weight.data.fill(0);
  model.flowParamsHead!.bias.data.set(layers.flat());
}

describe("planarLayerStats: each planar layer of a trained posterior, against its definition", () => {
  it("the layers' log-dets add up, draw by draw, to log|det J| of the whole flow by brute force (autograd Jacobian, LU)", () => {
    const model = bentModel();
    const draws = 4;
    const report = planarLayerStats(model, images, { draws, seed: 3 });
    expect(report.layers).toHaveLength(K);
    const n = images.length / INPUTS;
    noGrad(() => {
      for (let i = 0; i < n; i++) {
        const x = tensor(images.subarray(i * INPUTS, (i + 1) * INPUTS), { shape: [1, INPUTS] });
        const params = model.posterior(x).flowParams!;
        const layer = split(params, Array.from({ length: K }, () => [D, D, 1]).flat(), 1);
        const flow = (z: Tensor) => {
          for (let k = 0; k < K; k++) {
            const [u, w, b] = layer.slice(3 * k, 3 * k + 3).map((t) => t.reshape([-1])) as [Tensor, Tensor, Tensor];
            z = planar(z, { u, w, b: b.reshape([]) }).z;
          }
          return z;
        };
        const z0 = tensor(report.z0.subarray(i * draws * D, (i + 1) * draws * D), { shape: [draws, D] });
        const brute = logAbsDetJacobian(flow, z0).data;
        for (let s = 0; s < draws; s++) expect(report.drawLogDet[i * draws + s]).toBeCloseTo(brute[s]!, 10);
      }
    });
    const layerSum = report.layers.reduce((s, l) => s + l.logDet, 0);
    expect(report.logDet).toBeCloseTo(layerSum, 12);
    expect(report.layers.some((l) => Math.abs(l.logDet) > 0.05)).toBe(true); // the check is not of identities
  });

  it("identity layers (w = e_j, b = 0, û = 0): no log-det, no step; saturation and splits read from z₀ by the definition", () => {
    const model = new FlowVAE({ inputs: INPUTS, latent: D, hidden: 5, K, seed: 4 });
    // 20 digits × 3 draws: some digits have every draw on one side of a hyperplane, others not.
    const r = new Random(6);
    const many = Float64Array.from({ length: 20 * INPUTS }, () => (r.uniform() < 0.5 ? 1 : 0));
    const draws = 3;
    const report = planarLayerStats(model, many, { draws, seed: 5 });
    const n = 20;
    report.layers.forEach((l, k) => {
      expect(Math.abs(l.logDet)).toBeLessThan(1e-12);
      expect(l.step).toBeLessThan(1e-12);
      expect(Math.abs(l.wDotUHat)).toBeLessThan(1e-7); // slack − 1, with the slack's 1e-8 floor
      expect([l.uHatNorm, l.uHatSpread, l.wNorm]).toEqual([
        expect.closeTo(0, 7),
        expect.closeTo(0, 7),
        expect.closeTo(1, 12),
      ]);
      // wᵀz + b = z_j for layer k (j = k mod D), and the layers leave z as it was.
      const zj = (i: number, s: number) => report.z0[(i * draws + s) * D + (k % D)]!;
      let saturated = 0,
        split = 0;
      for (let i = 0; i < n; i++) {
        const signs = new Set<boolean>();
        for (let s = 0; s < draws; s++) {
          if (Math.abs(zj(i, s)) > SATURATED) saturated++;
          signs.add(zj(i, s) > 0);
        }
        if (signs.size === 2) split++;
      }
      expect(l.saturated).toBe(saturated / (n * draws));
      expect(l.bothSides).toBe(split / n);
      expect(split).toBeGreaterThan(0);
      expect(split).toBeLessThan(n);
    });
  });

  it("a layer whose hyperplane lies far from every draw is a translation by û: step ‖û‖, log-det 0, all draws saturated, none split", () => {
    const model = new FlowVAE({ inputs: INPUTS, latent: D, hidden: 5, K: 1, seed: 4 });
    // u = (0, 3, 0), w = (10, 0, 0), b = 100: wᵀu = 0, so wᵀû = softplus(0) − 1 = ln 2 − 1 and
    // û = u + (ln 2 − 1) w / ‖w‖² = ((ln 2 − 1)/10, 3, 0); wᵀz + b > 2 unless z₁ < −9.8.
    fixedLayers(model, [[0, 3, 0, 10, 0, 0, 100]]);
    const [l] = planarLayerStats(model, images, { draws: 20 }).layers;
    const uHat = Math.hypot((Math.LN2 - 1) / 10, 3);
    expect(l!.saturated).toBe(1);
    expect(l!.bothSides).toBe(0);
    expect(l!.step).toBeCloseTo(uHat, 9);
    expect(l!.uHatNorm).toBeCloseTo(uHat, 9);
    expect(l!.wDotUHat).toBeCloseTo(Math.LN2 - 1, 7);
    expect(l!.wNorm).toBeCloseTo(10, 12);
    expect(l!.uHatSpread).toBeCloseTo(0, 12); // the same û for every digit: the head's weights are zero
    expect(Math.abs(l!.logDet)).toBeLessThan(1e-12);
  });

  it("boundWithLayers: every layer kept is the model's own bound; none kept is the bound of the same encoder and decoder without a flow, on the same draws", () => {
    const model = bentModel();
    const draws = 5,
      n = images.length / INPUTS;
    const x = tensor(images, { shape: [n, INPUTS] }).indexSelect(0, repeatRows(n, draws));
    const own = noGrad(() => model.freeEnergy(x, new Random(7)).item());
    expect(boundWithLayers(model, images, () => true, { draws, seed: 7 })).toBeCloseTo(own, 10);
    const diagonal = new FlowVAE({ inputs: INPUTS, latent: D, hidden: 5, K: 0 });
    diagonal.startFrom(model);
    const q0 = noGrad(() => diagonal.freeEnergy(x, new Random(7)).item());
    expect(boundWithLayers(model, images, () => false, { draws, seed: 7 })).toBeCloseTo(q0, 9);
    // one layer alone differs from both
    const first = boundWithLayers(model, images, (k) => k === 0, { draws, seed: 7 });
    expect(Math.min(Math.abs(first - own), Math.abs(first - q0))).toBeGreaterThan(1e-3);
  });

  it("bad input is named", () => {
    const nice = new FlowVAE({ inputs: INPUTS, latent: D, hidden: 5, K: 2, flow: "nice", niceHidden: [4] });
    expect(() => planarLayerStats(nice, images)).toThrow(/no planar flow \(flow nice, K = 2\)/);
    const diagonal = new FlowVAE({ inputs: INPUTS, latent: D, hidden: 5, K: 0 });
    expect(() => planarLayerStats(diagonal, images)).toThrow(/no planar flow \(flow planar, K = 0\)/);
    const model = bentModel();
    expect(() => planarLayerStats(model, images, { draws: 0 })).toThrow(/draws must be a positive integer, got 0/);
    expect(() => planarLayerStats(model, images.subarray(0, 7))).toThrow(/images must be \[n, 6\] row-major, got 7/);
    expect(() => boundWithLayers(diagonal, images, () => true)).toThrow(
      /boundWithLayers: the model has no planar flow/,
    );
  });
});
