import { describe, expect, it } from "vitest";
import { noGrad, Random, randn, sum, Tensor, tensor, zeros } from "../src/autograd/index.js";
import {
  constrainPlanar,
  constrainPlanarU,
  FlowDistribution,
  type Implementation,
  jacobian,
  logAbsDet,
  logAbsDetJacobian,
  PlanarFlow,
  planar,
  planarInverse,
  RadialFlow,
  radial,
  radialInverse,
  Sequential,
  SLACK_FLOOR,
  solveMonotone,
} from "../src/flows/index.js";
import { freeEnergy } from "../src/models/index.js";
import { exactOnePlusDot, expectClose, expectGradcheck, knownDeterminants, randomTensor } from "./helpers.js";

const rng = new Random(2024);
const T = (shape: number[], scale = 1) => randomTensor(rng, shape).mul(scale).detach();

describe("planar flow: the paper's formulas", () => {
  it("matches the known value u = (0.5, −0.3), w = (1, 0.5), b = 0.1 at z = (1, 2)", () => {
    for (const implementation of ["fused", "composed"] as const) {
      const layer = new PlanarFlow(2, { u: [0.5, -0.3], w: [1, 0.5], b: 0.1, implementation });
      expectClose(layer.uHat().data, [0.1267057, -0.4866471], 0, 1e-6);
      const { z, logAbsDet } = layer.forward(tensor([[1, 2]]));
      expectClose(z.data, [1.1229618, 1.5277323], 0, 1e-6);
      expectClose(logAbsDet.data, [-0.006813001], 0, 1e-6);
    }
  });
  it("the constraint gives wᵀû = m(wᵀu) > −1 for any raw u, including wᵀu ≪ −1, and is finite at w = 0; where float64 cannot hold such a û, it refuses", () => {
    let refused = 0;
    for (let trial = 0; trial < 200; trial++) {
      const w = T([5], 3),
        u = T([5], trial < 100 ? 10 : 1000);
      const rawWu = sum(w.mul(u), -1).item();
      const expectedSlack = Math.max(rawWu, 0) + Math.log1p(Math.exp(-Math.abs(rawWu))) + SLACK_FLOOR;
      for (const implementation of ["fused", "composed"] as const) {
        let result: { uHat: Tensor; slack: Tensor };
        try {
          result = constrainPlanar(u, w, implementation);
        } catch (error) {
          // Refused only where û's own rounding (ε Σ|w_j u_j|) is not small next to the slack.
          expect((error as Error).message).toMatch(
            /^planar: parameters too large for float64 .* the log-det would not describe the map/,
          );
          const scale = Array.from(w.data).reduce((s, wj, j) => s + Math.abs(wj * u.data[j]!), 0);
          expect(2 ** -53 * scale).toBeGreaterThan(1e-4 * expectedSlack);
          refused++;
          continue;
        }
        const { uHat, slack } = result;
        // slack = softplus(wᵀu) (+ its floor), computed directly, is positive: the margin the log-det uses.
        expect(slack.item()).toBeGreaterThan(0);
        expectClose([slack.item()], [expectedSlack], 1e-14, 0);
        // And it is 1 + wᵀû of the û actually applied (exact rational arithmetic), to 1 %.
        expect(Math.abs(exactOnePlusDot(w.data, uHat.data) - slack.item())).toBeLessThanOrEqual(1e-2 * slack.item());
      }
      if (trial < 100) {
        // The layer's log-det is finite even where tanh'(a) = 1 (a = 0), the worst point.
        const layer = new PlanarFlow(5, { u: Array.from(u.data), w: Array.from(w.data), b: 0 });
        expect(Number.isFinite(layer.forward(zeros([1, 5])).logAbsDet.item())).toBe(true);
      }
    }
    expect(refused).toBeLessThan(200); // most of these raw parameters are held exactly enough
    const uHat = constrainPlanarU(tensor([1, 2]), zeros([2]));
    expect(Array.from(uHat.data)).toEqual([1, 2]);
  });
});

// Random raw parameters for one layer, shared or per sample; constraint-active ones have wᵀu < −1.
function planarParams(n: number, d: number, perSample: boolean, active = false) {
  const shape = perSample ? [n, d] : [d];
  const w = T(shape);
  let u = T(shape);
  if (active) u = w.mul(-3).add(u.mul(0.1)).detach(); // wᵀu ≈ −3‖w‖² < −1 for ‖w‖ not tiny
  return { u, w, b: T(perSample ? [n] : [1]) };
}
function radialParams(n: number, d: number, perSample: boolean) {
  return { z0: T(perSample ? [n, d] : [d]), alpha: T(perSample ? [n] : [1]), beta: T(perSample ? [n] : [1]) };
}

describe("fused and composed implementations agree to 1e-10 in value and gradient", () => {
  for (const kind of ["planar", "radial"] as const) {
    for (const [perSample, d] of [
      [false, 4],
      [true, 4],
      [false, 2],
      [true, 2],
    ] as const) {
      it(`${kind}, ${perSample ? "per-sample (amortised)" : "shared"} parameters, D = ${d}`, () => {
        const n = 7;
        const z = T([n, d]);
        const p = kind === "planar" ? planarParams(n, d, perSample) : radialParams(n, d, perSample);
        const names = Object.keys(p) as Array<keyof typeof p>;
        const weights = T([n, d]),
          ldWeights = T([n]);
        const run = (implementation: Implementation) => {
          const leaves = [z, ...names.map((k) => p[k] as Tensor)].map((t) => new Tensor(t.data.slice(), t.shape, true));
          const [zz, ...rest] = leaves;
          const params = Object.fromEntries(names.map((k, i) => [k, rest[i]!]));
          const out =
            kind === "planar"
              ? planar(zz!, params as never, implementation)
              : radial(zz!, params as never, implementation);
          out.z.mul(weights).sum().add(out.logAbsDet.mul(ldWeights).sum()).backward();
          return { z: out.z.data, ld: out.logAbsDet.data, grads: leaves.map((l) => l.grad!.data) };
        };
        const fused = run("fused"),
          composed = run("composed");
        expectClose(fused.z, composed.z, 1e-10, 1e-10);
        expectClose(fused.ld, composed.ld, 1e-10, 1e-10);
        fused.grads.forEach((g, i) => expectClose(g, composed.grads[i]!, 1e-10, 1e-10));
      });
    }
  }
});

describe("gradient checks of the flow layers (the fused backward against central differences)", () => {
  for (const implementation of ["fused", "composed"] as const) {
    it(`planar ${implementation}`, () => {
      const p = planarParams(5, 3, false, true);
      const lw = T([5]);
      expectGradcheck(
        (z, u, w, b) => {
          const o = planar(z, { u, w, b }, implementation);
          return o.z.sum(1).add(o.logAbsDet.mul(lw));
        },
        [T([5, 3]), p.u, p.w, p.b],
      );
    });
    it(`radial ${implementation}`, () => {
      const p = radialParams(5, 3, true);
      const lw = T([5]);
      expectGradcheck(
        (z, z0, alpha, beta) => {
          const o = radial(z, { z0, alpha, beta }, implementation);
          return o.z.square().sum(1).add(o.logAbsDet.mul(lw));
        },
        [T([5, 3]), p.z0, p.alpha, p.beta],
      );
    });
  }
});

describe("analytic log-dets equal the brute-force log|det J| (full Jacobian + LU) to 1e-9", () => {
  for (const d of [1, 2, 3, 10, 64]) {
    it(`D = ${d}: planar and radial, single layers and stacks of K = 4, constraint-active planar layers included`, () => {
      const n = d >= 64 ? 4 : 8;
      for (const implementation of ["fused", "composed"] as const) {
        const layers = [
          new PlanarFlow(d, { random: rng, implementation }),
          new RadialFlow(d, { random: rng, alpha: rng.normal(), beta: rng.normal(), implementation }),
        ];
        // Bigger parameters than the default init, and a constraint-active planar layer (‖w‖ = 1.5, u = −2w).
        const w0 = T([d]);
        const w = w0.mul(1.5 / Math.sqrt(w0.square().sum().item())).detach();
        const active = new PlanarFlow(d, {
          u: Array.from(w.mul(-2).data),
          w: Array.from(w.data),
          b: 0.3,
          implementation,
        });
        const stack = new Sequential([
          new PlanarFlow(d, { u: Array.from(T([d], 2).data), w: Array.from(T([d], 2).data), b: 0.5, implementation }),
          new RadialFlow(d, { random: rng, alpha: -0.5, beta: 1.5, implementation }),
          active,
          new RadialFlow(d, { random: rng, alpha: 0.5, beta: -1, implementation }),
        ]);
        expect(sum(w.mul(w.mul(-2)), -1).item()).toBeLessThan(-1); // the raw u violates wᵀu ≥ −1
        for (const flow of [...layers, active, stack]) {
          const z = T([n, d], 1.5);
          const analytic = flow.forward(z).logAbsDet;
          const brute = logAbsDetJacobian((x) => flow.forward(x).z, z);
          expectClose(analytic.data, brute.data, 1e-9, 1e-9);
        }
      }
    });
  }
});

describe("the general-Jacobian baseline on known matrices", () => {
  it("jacobian of a linear map is its matrix; logAbsDet by LU with pivoting", () => {
    const A = tensor([
      [0, 2, 1],
      [1, 0, 0],
      [3, 1, 4],
    ]); // a zero on the diagonal: needs pivoting
    const z = T([3, 3]);
    const J = jacobian((x) => x.matmul(A.transpose()), z); // f(z) = A z per point
    for (let p = 0; p < 3; p++) expectClose(J.data.slice(p * 9, p * 9 + 9), A.data, 1e-15, 1e-15);
    // det A = 0·(0·4 − 0·1) − 2·(1·4 − 0·3) + 1·(1·1 − 0·3) = −7
    expectClose(
      logAbsDet(
        tensor([
          [
            [0, 2, 1],
            [1, 0, 0],
            [3, 1, 4],
          ],
        ]),
      ).data,
      [Math.log(7)],
      1e-14,
    );
    expect(
      logAbsDet(
        tensor([
          [
            [1, 2],
            [2, 4],
          ],
        ]),
      ).item(),
    ).toBe(-Infinity);
    expect(() => logAbsDet(tensor([[1, 2]]))).toThrow(/square matrices \[N, D, D\]/);
  });
  it("logAbsDet of matrices P·L·U of known determinant, and a clear error where a gradient was expected", () => {
    const random = new Random(4);
    for (const d of [1, 2, 3, 10, 40]) {
      const { a, logAbsDet: exact } = knownDeterminants(random, 5, d);
      const got = logAbsDet(new Tensor(Float64Array.from(a), [exact.length, d, d])).data;
      exact.forEach((e, i) =>
        e === -Infinity ? expect(got[i]).toBe(-Infinity) : expect(Math.abs(got[i]! - e)).toBeLessThan(d * 1e-14),
      );
    }
    const m = new Tensor(Float64Array.of(2, 1, 1, 3), [1, 2, 2], true);
    expect(() => logAbsDet(m)).toThrow(
      "logAbsDet: has no backward (it is the O(D³) baseline, for measuring); call it on matrices.detach() or inside noGrad()",
    );
    expectClose(noGrad(() => logAbsDet(m)).data, [Math.log(5)], 1e-15);
  });
});

describe("inverses", () => {
  it("planar: f⁻¹(f(z)) = z to 1e-10, random and extreme parameters", () => {
    const cases = [
      { ...planarParams(50, 3, false), scale: 1 },
      { ...planarParams(50, 3, true), scale: 1 },
      { ...planarParams(50, 3, false, true), scale: 1 }, // constraint active
      { u: tensor([-80, 0]), w: tensor([8, 0]), b: tensor([0]), scale: 0.05 }, // wᵀu = −640: wᵀû = −1 + e⁻⁶⁴⁰ ≈ −1
      { ...planarParams(50, 3, false), scale: 1000 }, // |wᵀz| large
    ];
    for (const c of cases) {
      const d = c.u.shape[c.u.rank - 1]!;
      const z = T([50, d], c.scale);
      const y = planar(z, c).z;
      const back = planarInverse(y, c);
      expect(back.data.every(Number.isFinite)).toBe(true);
      // Where wᵀû ≈ −1 the map is nearly flat along w; f⁻¹ is then only as accurate as f(z) allows.
      const nearFlat = constrainPlanar(c.u, c.w).slack.data.some((v) => v < 1e-6);
      if (!nearFlat) expectClose(back.data, z.data, 1e-10, 1e-10 * c.scale);
      else expectClose(planar(back, c).z.data, y.data, 1e-12, 1e-12); // it still solves f(z) = y
    }
  });
  it("radial: f⁻¹(f(z)) = z to 1e-10 (closed form), including points near z0 and far away", () => {
    for (const perSample of [false, true]) {
      const p = radialParams(60, 4, perSample);
      for (const scale of [1e-6, 1, 1e4]) {
        const z = p.z0.rank === 2 ? p.z0.add(T([60, 4], scale)).detach() : T([60, 4], scale).add(p.z0).detach();
        expectClose(radialInverse(radial(z, p).z, p).data, z.data, 1e-10, 1e-10 * scale);
      }
    }
  });
  it("FlowDistribution: logProb(x) through the inverse equals the sampled logProb", () => {
    const flow = new Sequential([
      new PlanarFlow(2, { random: 1, u: [1.5, -0.5], w: [2, 1], b: 0.2 }),
      new RadialFlow(2, { random: 2, alpha: 0.3, beta: 1 }),
      new PlanarFlow(2, { random: 3, u: [-2, 1], w: [1, 1], b: -0.1 }),
    ]);
    const q = new FlowDistribution(flow, { mean: [0.5, -1], logStd: [0.2, -0.3] });
    const { z, logProb } = q.sample(500, new Random(9));
    expectClose(q.logProb(z.detach()).data, logProb.data, 1e-9, 1e-9);
  });
  it("planar inverse solves wᵀf(z) = c where plain Newton oscillates (large wᵀû)", () => {
    // This case sends undamped Newton back and forth across the bracket for hundreds of steps.
    const slack = 6.002475685137731,
      c = 2.39,
      b = 1;
    const s = solveMonotone(c, slack, b);
    expect(Math.abs(s + (slack - 1) * Math.tanh(s + b) - c)).toBeLessThan(1e-13);
    for (let trial = 0; trial < 2000; trial++) {
      const sl = Math.exp(8 * rng.uniform() - 6),
        cc = 40 * rng.normal(),
        bb = 5 * rng.normal();
      const root = solveMonotone(cc, sl, bb);
      const slope = Math.tanh(root + bb) ** 2 + sl * (1 - Math.tanh(root + bb) ** 2);
      // the residual is at the rounding level of the terms, relative to the local slope
      expect(Math.abs(root + (sl - 1) * Math.tanh(root + bb) - cc)).toBeLessThan(
        1e-12 * (1 + Math.abs(cc)) + 1e-15 / slope,
      );
    }
  });
  it("a density: exp(logProb) of a 1-D flow integrates to 1", () => {
    const q = new FlowDistribution(
      new Sequential([
        new PlanarFlow(1, { u: [3], w: [2], b: 1 }),
        new RadialFlow(1, { z0: [0.5], alpha: 0, beta: 2 }),
      ]),
    );
    const grid = Array.from({ length: 40001 }, (_, i) => -20 + i * 0.001);
    const density = q.logProb(tensor(grid.map((x) => [x]))).exp();
    expect(Math.abs(density.sum().item() * 0.001 - 1)).toBeLessThan(1e-6);
  });
});

describe("bad input names the layer and the problem", () => {
  const layer = new PlanarFlow(3, { random: 0 });
  it("wrong D, wrong parameter shapes, N mismatch, non-finite points", () => {
    expect(() => layer.forward(zeros([4, 2]))).toThrow(/PlanarFlow: expected points of shape \[N, 3\], got \[4, 2\]/);
    expect(() => new RadialFlow(2).forward(zeros([4]))).toThrow(
      /RadialFlow: expected points of shape \[N, 2\], got \[4\]/,
    );
    expect(() => planar(zeros([4, 3]), { u: zeros([2]), w: zeros([3]), b: zeros([1]) })).toThrow(
      /planar: parameter u has shape \[2\], expected \[3\]/,
    );
    expect(() => planar(zeros([4, 3]), { u: zeros([5, 3]), w: zeros([5, 3]), b: zeros([5]) })).toThrow(
      /planar: parameter u has shape \[5, 3\], expected \[4, 3\] for points \[4, 3\] \(per-sample parameters\)/,
    );
    expect(() => radial(zeros([4, 3]), { z0: zeros([4, 3]), alpha: zeros([4]), beta: zeros([3]) })).toThrow(
      /radial: parameter beta has shape \[3\], expected \[4\]/,
    );
    expect(() => layer.forward(tensor([[0, NaN, 0]]))).toThrow(/PlanarFlow: input holds NaN at point 0, coordinate 1/);
    expect(() =>
      layer.forward(
        tensor([
          [0, 0, 0],
          [Infinity, 0, 0],
        ]),
      ),
    ).toThrow(/input holds Infinity at point 1, coordinate 0/);
    expect(() => new PlanarFlow(2, { u: [1, 2, 3] })).toThrow(
      /PlanarFlow: initial u has 3 values, the layer has dimension 2/,
    );
    expect(() => new Sequential([new PlanarFlow(2), new RadialFlow(3)])).toThrow(
      /layer 1 has dimension 3, layer 0 has 2/,
    );
  });
  it("training cannot push a planar layer out of the invertible set", () => {
    // Push hard on wᵀu toward −∞ with a loss; wᵀû stays above −1 all the way.
    const l = new PlanarFlow(2, { u: [0.5, 0.5], w: [1, 1] });
    for (let i = 0; i < 50; i++) {
      l.zeroGrad();
      l.u.mul(l.w).sum().backward();
      noGrad(() => {
        for (let j = 0; j < 2; j++) l.u.data[j] -= 10 * l.u.grad!.data[j]!;
      });
      const { slack } = constrainPlanar(l.u, l.w);
      expect(slack.item()).toBeGreaterThan(0); // 1 + wᵀû > 0
      expect(Number.isFinite(l.forward(zeros([1, 2])).logAbsDet.item())).toBe(true);
    }
  });
});

describe("float32 layers and caller-given base draws", () => {
  const z64 = T([16, 3]);
  const z32 = z64.astype("float32");
  for (const implementation of ["fused", "composed"] as const) {
    it(`PlanarFlow and RadialFlow hold float32 parameters (${implementation}) and agree with float64 to float32 rounding`, () => {
      for (const make of [
        (dtype: "float32" | "float64") => new PlanarFlow(3, { random: 5, dtype, implementation }),
        (dtype: "float32" | "float64") =>
          new RadialFlow(3, { random: 6, alpha: 0.3, beta: 0.2, dtype, implementation }),
      ]) {
        const f32 = make("float32");
        const f64 = make("float64");
        expect(f32.parameters().every((p) => p.dtype === "float32")).toBe(true);
        const a = f32.forward(z32);
        const b = f64.forward(z64);
        expect(a.z.dtype).toBe("float32");
        expect(a.logAbsDet.dtype).toBe("float32");
        // float32 keeps about 7 digits: a few ulps of each value, well below float64's agreement.
        expectClose(a.z.astype("float64").data, b.z.data, 1e-5, 1e-5);
        expectClose(a.logAbsDet.astype("float64").data, b.logAbsDet.data, 1e-5, 1e-5);
        a.z.sum().add(a.logAbsDet.sum()).backward();
        for (const p of f32.parameters()) {
          expect(p.grad!.dtype).toBe("float32");
          expect(Array.from(p.grad!.data).every(Number.isFinite)).toBe(true);
        }
      }
    });
  }
  it("a float32 layer refuses float64 points, naming both dtypes", () => {
    expect(() => new PlanarFlow(3, { dtype: "float32" }).forward(z64)).toThrow(/float64.*float32|float32.*float64/);
    expect(() => new PlanarFlow(3, { dtype: "int8" as never })).toThrow(
      /PlanarFlow: dtype must be "float32" or "float64"/,
    );
  });
  it("FlowDistribution takes its flow's dtype, samples in it, and its log-density matches through the inverse", () => {
    const q = new FlowDistribution(new Sequential([new PlanarFlow(2, { random: 1, dtype: "float32" })]));
    expect(q.mean.dtype).toBe("float32");
    const s = q.sample(5, 3);
    expect(s.z.dtype).toBe("float32");
    expectClose(q.logProb(s.z.detach()).data, s.logProb.data, 1e-4, 1e-4);
  });
  it("freeEnergy on the caller's base draws equals freeEnergy drawing the same numbers itself", () => {
    const q = new FlowDistribution(new PlanarFlow(2, { random: 4 }));
    const U = (z: Tensor) => z.square().sum(1);
    const drawn = freeEnergy(q, U, 50, 0.7, new Random(9)).item();
    const eps = randn([50, 2], { random: new Random(9) });
    expect(freeEnergy(q, U, 50, 0.7, eps).item()).toBe(drawn);
    // By hand: ln N(z0; 0, I) − log|det| + β U(f(z0)), averaged.
    const { z, logAbsDet } = q.flow.forward(eps);
    const byHand = eps
      .square()
      .sum(1)
      .mul(-0.5)
      .sub(Math.log(2 * Math.PI))
      .sub(logAbsDet)
      .add(U(z).mul(0.7))
      .mean();
    expect(Math.abs(freeEnergy(q, U, 50, 0.7, eps).item() - byHand.item())).toBeLessThan(1e-12);
    expect(() => freeEnergy(q, U, 40, 0.7, eps)).toThrow(/freeEnergy: n is 40 but the base draws eps have 50 rows/);
    expect(() => q.pushForward(randn([5, 3]))).toThrow(/eps must be a tensor of shape \[n, 2\]/);
    expect(() => q.pushForward(randn([5, 2], { dtype: "float32" }))).toThrow(
      /eps is float32, the distribution float64/,
    );
  });
});
