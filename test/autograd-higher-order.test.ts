import { describe, expect, it } from "vitest";
import * as ag from "../src/autograd/index.js";
import { Random, Tensor } from "../src/autograd/index.js";
import { constrainPlanar, PlanarFlow, planar, RadialFlow, radial, Sequential } from "../src/flows/index.js";
import { energy, fittedEnergy, TARGETS } from "../src/models/index.js";
import { expectClose, randomTensor } from "./helpers.js";

const rng = new Random(4321);
const T = (shape: number[], range?: [number, number]) => randomTensor(rng, shape, range);
const W = (shape: number[]) => {
  const w = T(shape);
  return (t: Tensor) => t.mul(w);
};

function expectGradgradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], options?: ag.GradcheckOptions): void {
  const r = ag.gradgradcheck(f, inputs, options);
  expect(r.message).toBe("ok");
  expect(r.ok).toBe(true);
}

/** d^k/dx^k of an elementwise f at every element of x, by nesting grad k times (no createGraph asked for). */
function nthDerivative(f: (x: Tensor) => Tensor, k: number): (x: Tensor) => Tensor {
  let d = f;
  for (let i = 0; i < k; i++) {
    const inner = d;
    d = (x) => ag.grad((t) => inner(t).sum())(x)[0]!;
  }
  return d;
}

// Closed forms, derived by hand (t = tanh x, s = σ(x)); the engine is compared with these, not with itself.
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const symbolic = (
  name: string,
  f: (x: Tensor) => Tensor,
  d: [(x: number) => number, (x: number) => number, (x: number) => number],
  points: number[],
) => ({ name, f, d, points });
const CASES = [
  symbolic(
    "tanh",
    ag.tanh,
    [
      (x) => 1 - Math.tanh(x) ** 2,
      (x) => -2 * Math.tanh(x) * (1 - Math.tanh(x) ** 2),
      (x) => (1 - Math.tanh(x) ** 2) * (6 * Math.tanh(x) ** 2 - 2),
    ],
    [-2.3, -0.7, 0.4, 1.9],
  ),
  symbolic(
    "sigmoid",
    ag.sigmoid,
    [
      (x) => sig(x) * (1 - sig(x)),
      (x) => sig(x) * (1 - sig(x)) * (1 - 2 * sig(x)),
      (x) => sig(x) * (1 - sig(x)) * (1 - 6 * sig(x) + 6 * sig(x) ** 2),
    ],
    [-3.1, -0.8, 0.6, 2.7],
  ),
  symbolic(
    "softplus",
    ag.softplus,
    [(x) => sig(x), (x) => sig(x) * (1 - sig(x)), (x) => sig(x) * (1 - sig(x)) * (1 - 2 * sig(x))],
    [-3.1, -0.8, 0.6, 2.7, 25],
  ),
  symbolic("exp", ag.exp, [Math.exp, Math.exp, Math.exp], [-2, -0.3, 0.5, 3]),
  symbolic("log", ag.log, [(x) => 1 / x, (x) => -1 / x ** 2, (x) => 2 / x ** 3], [0.2, 0.9, 1.7, 6]),
  symbolic(
    "sqrt",
    ag.sqrt,
    [(x) => 0.5 / Math.sqrt(x), (x) => -0.25 * x ** -1.5, (x) => 0.375 * x ** -2.5],
    [0.2, 0.9, 1.7, 6],
  ),
];

describe("derivatives of derivatives against closed forms (float64, 1e-8 relative)", () => {
  for (const { name, f, d, points } of CASES) {
    for (const k of [1, 2, 3]) {
      it(`${name}: derivative ${k} by grad nested ${k} times`, () => {
        const x = ag.tensor(points);
        const got = nthDerivative(f, k)(x).data;
        expectClose(got, points.map(d[k - 1]!), 1e-8, 1e-300);
      });
    }
  }
  it("nesting grad no longer gives zeros silently: d²/dx² tanh(x) at 0.5", () => {
    const [d2] = ag.grad((x) =>
      ag
        .grad((t) => t.tanh().sum())(x)[0]!
        .sum(),
    )(ag.tensor([0.5]));
    const t = Math.tanh(0.5);
    expect(d2!.item()).toBeCloseTo(-2 * t * (1 - t * t), 14);
    expect(d2!.item()).not.toBe(0);
  });
  it("backward({ createGraph: true }) leaves x.grad differentiable: d/dx of (d/dx x³) = 6x", () => {
    const x = ag.tensor([1.5, -2], { requiresGrad: true });
    x.pow(3).sum().backward(undefined, { createGraph: true });
    const first = x.grad!;
    expectClose(first.data, [6.75, 12]);
    expect(first.requiresGrad).toBe(true);
    x.zeroGrad();
    first.sum().backward();
    expectClose(x.grad!.data, [9, -12]);
  });
  it("createGraph: false asks for constants, as a stop-gradient", () => {
    const [d2] = ag.grad((x) =>
      ag
        .grad((t) => t.pow(3).sum(), { createGraph: false })(x)[0]!
        .mul(x)
        .sum(),
    )(ag.tensor([2]));
    expect(d2!.item()).toBe(12); // d/dx [c · x] with c = 3x² held constant
  });
});

/** The paper's U1–U4 Hessians, derived by hand for one point z = (z1, z2). */
function exactHessian(target: string, z1: number, z2: number): number[][] {
  const k = Math.PI / 2;
  const w1 = Math.sin(k * z1),
    w1p = k * Math.cos(k * z1),
    w1pp = -k * k * Math.sin(k * z1);
  // −ln(e^a + e^b) with a = −½(e_a/σa)², b = −½(e_b/σb)²: ∇a = −(e_a/σa²)∇e_a, Ha = −(∇e_a∇e_aᵀ + e_a He_a)/σa².
  type Part = { e: number; de: [number, number]; h11: number; sigma: number };
  const mixture = (pa: Part, pb: Part): number[][] => {
    const grad = (p: Part): [number, number] => [-(p.e / p.sigma ** 2) * p.de[0], -(p.e / p.sigma ** 2) * p.de[1]];
    const hess = (p: Part): number[][] =>
      [0, 1].map((i) =>
        [0, 1].map((j) => -(p.de[i]! * p.de[j]! + (i === 0 && j === 0 ? p.e * p.h11 : 0)) / p.sigma ** 2),
      );
    const a = -0.5 * (pa.e / pa.sigma) ** 2,
      b = -0.5 * (pb.e / pb.sigma) ** 2;
    const m = Math.max(a, b),
      wa = Math.exp(a - m),
      wb = Math.exp(b - m);
    const qa = wa / (wa + wb),
      qb = wb / (wa + wb);
    const ga = grad(pa),
      gb = grad(pb),
      ha = hess(pa),
      hb = hess(pb);
    const mean = [0, 1].map((i) => qa * ga[i]! + qb * gb[i]!);
    return [0, 1].map((i) =>
      [0, 1].map(
        (j) => -(qa * ha[i]![j]! + qb * hb[i]![j]! + qa * ga[i]! * ga[j]! + qb * gb[i]! * gb[j]! - mean[i]! * mean[j]!),
      ),
    );
  };
  if (target === "U1") {
    const r = Math.hypot(z1, z2),
      z = [z1, z2];
    const R1 = (r - 2) / 0.16,
      R2 = 1 / 0.16; // R(r) = ½((r − 2)/0.4)²
    const radialPart = [0, 1].map((i) =>
      [0, 1].map((j) => (R2 * z[i]! * z[j]!) / r ** 2 + R1 * ((i === j ? 1 : 0) / r - (z[i]! * z[j]!) / r ** 3)),
    );
    const mix = mixture({ e: z1 - 2, de: [1, 0], h11: 0, sigma: 0.6 }, { e: z1 + 2, de: [1, 0], h11: 0, sigma: 0.6 });
    return [0, 1].map((i) => [0, 1].map((j) => radialPart[i]![j]! + mix[i]![j]!));
  }
  const d = z2 - w1;
  if (target === "U2")
    return [
      [(w1p ** 2 - d * w1pp) / 0.16, -w1p / 0.16],
      [-w1p / 0.16, 1 / 0.16],
    ];
  if (target === "U3") {
    const w2 = 3 * Math.exp(-0.5 * ((z1 - 1) / 0.6) ** 2),
      w2p = w2 * (-(z1 - 1) / 0.36),
      w2pp = w2 * ((z1 - 1) ** 2 / 0.36 ** 2 - 1 / 0.36);
    return mixture(
      { e: d, de: [-w1p, 1], h11: -w1pp, sigma: 0.35 },
      { e: d + w2, de: [-w1p + w2p, 1], h11: -w1pp + w2pp, sigma: 0.35 },
    );
  }
  const s = sig((z1 - 1) / 0.3),
    w3 = 3 * s,
    w3p = (3 * s * (1 - s)) / 0.3,
    w3pp = (3 * s * (1 - s) * (1 - 2 * s)) / 0.09;
  return mixture(
    { e: d, de: [-w1p, 1], h11: -w1pp, sigma: 0.4 },
    { e: d + w3, de: [-w1p + w3p, 1], h11: -w1pp + w3pp, sigma: 0.35 },
  );
}

describe("Hessians of the paper's energies U1–U4 against their hand-derived forms", () => {
  const points = [
    [0.3, -1.7],
    [-1.1, 0.4],
    [2.2, 1.3],
    [0.9, 0.05],
    [-3.5, -2.6],
  ];
  for (const target of TARGETS) {
    it(`${target} at ${points.length} points (hessian of Σ U over a batch: one 2×2 block per point)`, () => {
      const U = energy(target);
      const z = ag.tensor(points);
      const H = ag.hessian((x) => U(x).sum())(z); // [5, 2, 5, 2]
      expect(H.shape).toEqual([5, 2, 5, 2]);
      points.forEach(([z1, z2], p) => {
        const exact = exactHessian(target, z1!, z2!);
        for (let q = 0; q < points.length; q++) {
          for (let i = 0; i < 2; i++) {
            for (let j = 0; j < 2; j++) {
              const got = H.data[((p * 2 + i) * 5 + q) * 2 + j]!;
              const want = q === p ? exact[i]![j]! : 0; // points do not interact
              expect(
                Math.abs(got - want),
                `${target} point ${p}, block ${q}, (${i}, ${j}): ${got} vs ${want}`,
              ).toBeLessThanOrEqual(1e-8 * Math.abs(want) + 1e-10);
            }
          }
        }
      });
    });
  }
  it("the boxed U2 outside |z1| ≤ 4 adds the wall's curvature 1/0.1² to ∂²/∂z1²", () => {
    const H = ag.hessian((x) => fittedEnergy("U2")(x).sum())(ag.tensor([[4.3, 0.2]]));
    const exact = exactHessian("U2", 4.3, 0.2);
    expectClose(H.data, [exact[0]![0]! + 100, exact[0]![1]!, exact[1]![0]!, exact[1]![1]!], 1e-8, 1e-10);
  });
  it("hvp(U1) is the hand-derived Hessian times v, and the gradient of grad(U1)·v", () => {
    const U = energy("U1");
    const z = ag.tensor([[0.3, -1.7]]),
      v = ag.tensor([[0.7, -1.3]]);
    const H = exactHessian("U1", 0.3, -1.7);
    const expected = [H[0]![0]! * 0.7 - H[0]![1]! * 1.3, H[1]![0]! * 0.7 - H[1]![1]! * 1.3];
    expectClose(ag.hvp((x) => U(x).sum(), z, v).data, expected, 1e-10, 1e-12);
    const [viaGrad] = ag.grad((x) =>
      ag
        .grad((y) => U(y).sum())(x)[0]!
        .mul(v)
        .sum(),
    )(z);
    expectClose(viaGrad!.data, expected, 1e-10, 1e-12);
  });
});

describe("functional API: hvp, hessian, jvp, jacrev, jacfwd against closed forms", () => {
  // f(x) = ½ xᵀAx + Σ exp(x): ∇²f = (A + Aᵀ)/2 + diag(exp x)
  const A = [
    [2, 1, 0],
    [3, 4, -1],
    [0.5, 0, 1],
  ];
  const f = (x: Tensor) => x.matmul(ag.tensor(A)).mul(x).sum().mul(0.5).add(x.exp().sum());
  const x0 = [0.2, -0.4, 1.1];
  const exactH = A.map((row, i) => row.map((a, j) => (a + A[j]![i]!) / 2 + (i === j ? Math.exp(x0[i]!) : 0)));
  it("hessian(f)(x)", () => expectClose(ag.hessian(f)(ag.tensor(x0)).data, exactH.flat(), 1e-14, 1e-14));
  it("hvp(f, x, v) = ∇²f(x) v", () => {
    const v = [1, -2, 0.5];
    expectClose(
      ag.hvp(f, ag.tensor(x0), ag.tensor(v)).data,
      exactH.map((row) => row.reduce((s, h, j) => s + h * v[j]!, 0)),
      1e-14,
      1e-14,
    );
  });
  it("a Newton step on a quadratic lands on its minimum", () => {
    // q(x) = ½ xᵀBx − bᵀx, minimum at B⁻¹b = [1, −1]: one Newton step from anywhere
    const B = ag.tensor([
        [3, 1],
        [1, 2],
      ]),
      b = ag.tensor([2, -1]);
    const q = (x: Tensor) => x.matmul(B).mul(x).sum().mul(0.5).sub(x.mul(b).sum());
    const x = ag.tensor([5, 7]);
    const H = ag.hessian(q)(x).data,
      [g] = ag.grad(q)(x);
    const det = H[0]! * H[3]! - H[1]! * H[2]!;
    const step = [
      (H[3]! * g!.data[0]! - H[1]! * g!.data[1]!) / det,
      (-H[2]! * g!.data[0]! + H[0]! * g!.data[1]!) / det,
    ];
    expectClose([5 - step[0]!, 7 - step[1]!], [1, -1], 1e-14, 1e-14);
  });
  // g(x) = tanh(Mx): J = diag(1 − tanh²(Mx)) M
  const M = [
    [1, 2],
    [3, -4],
    [0.5, 6],
  ];
  const g = (x: Tensor) => ag.tensor(M).matmul(x).tanh();
  const xs = [0.1, -0.05];
  const exactJ = M.map((row) => {
    const t = Math.tanh(row[0]! * xs[0]! + row[1]! * xs[1]!);
    return row.map((m) => (1 - t * t) * m);
  });
  it("jacrev and jacfwd give the same Jacobian, shaped [...out, ...in]", () => {
    for (const jac of [ag.jacrev, ag.jacfwd]) {
      const J = jac(g)(ag.tensor(xs));
      expect(J.shape).toEqual([3, 2]);
      expectClose(J.data, exactJ.flat(), 1e-14, 1e-15);
    }
  });
  it("jvp(f, x, v) = J v, shaped like f(x)", () => {
    const v = [2, -1];
    expectClose(
      ag.jvp(g, ag.tensor(xs), ag.tensor(v)).data,
      exactJ.map((row) => row[0]! * v[0]! + row[1]! * v[1]!),
      1e-14,
      1e-15,
    );
  });
  it("jvp of a function that does not depend on x is zero; of a non-Tensor tangent, an error", () => {
    expect(Array.from(ag.jvp(() => ag.tensor([1, 2]), ag.tensor([3]), ag.tensor([1])).data)).toEqual([0, 0]);
    expect(() => ag.jvp(g, ag.tensor(xs), ag.tensor([1, 2, 3]))).toThrow(
      /jvp: the tangent v must be a float64 tensor of x's shape \[2\]/,
    );
    expect(() => ag.hvp(f, ag.tensor(x0), ag.tensor([1]))).toThrow(/hvp: the vector v must be/);
  });
  it("third order: the gradient of an hvp", () => {
    // d/dx ⟨∇²(Σ x⁴) v, w⟩ = 24 x v w elementwise
    const v = ag.tensor([1, 2]),
      w = ag.tensor([0.5, -1]);
    const [d3] = ag.grad((x) =>
      ag
        .hvp((y) => y.pow(4).sum(), x, v)
        .mul(w)
        .sum(),
    )(ag.tensor([0.3, 1.2]));
    expectClose(d3!.data, [24 * 0.3 * 1 * 0.5, 24 * 1.2 * 2 * -1], 1e-14, 1e-14);
  });
});

describe("an op that cannot be differentiated twice says so by name", () => {
  // A custom op whose rule runs on raw arrays: a first-order rule only.
  const rawSquare = (x: Tensor, declare: boolean) =>
    ag.fromOp(
      "rawSquare",
      x.data.map((v) => v * v),
      x.shape,
      [x],
      (g) => {
        if (declare) ag.firstOrderOnly("rawSquare");
        return [
          new Tensor(
            g.data.map((gi, i) => 2 * gi * x.data[i]!),
            x.shape,
          ),
        ];
      },
    );
  it("first order works as before", () => {
    expectClose(ag.grad((x) => rawSquare(x, true).sum())(ag.tensor([3]))[0]!.data, [6]);
  });
  it("a rule that declares itself first-order only is refused in a createGraph pass", () => {
    expect(() => ag.hvp((x) => rawSquare(x, true).sum(), ag.tensor([3]), ag.tensor([1]))).toThrow(
      /op "rawSquare" has a first-order backward rule only/,
    );
  });
  it("a rule that returns an off-graph gradient for an on-graph one is caught without declaring anything", () => {
    expect(() => ag.jvp((x) => rawSquare(x, false), ag.tensor([3]), ag.tensor([1]))).toThrow(
      /op "rawSquare" has a first-order backward rule only/,
    );
  });
  it("the graph released by a first backward is an error, not a zero, for a second", () => {
    const x = ag.tensor([0.5], { requiresGrad: true });
    x.tanh().sum().backward(undefined, { createGraph: true, retainGraph: false });
    expect(() => x.grad!.sum().backward()).toThrow(/was released by an earlier backward/);
  });
});

// Every primitive op, and the composites built on them, checked to second order in float64:
// the gradient map's backward against central differences of first-order gradients.
describe("gradgradcheck: unary ops", () => {
  const positive: [number, number] = [0.5, 3];
  const cases: Array<[string, (x: Tensor) => Tensor, [number, number]?]> = [
    ["neg", ag.neg],
    ["exp", ag.exp],
    ["log", ag.log, positive],
    ["log1p", ag.log1p, [-0.5, 3]],
    ["sqrt", ag.sqrt, positive],
    ["square", ag.square],
    ["reciprocal", ag.reciprocal, positive],
    ["abs", ag.abs, [0.2, 2]],
    ["tanh", ag.tanh],
    ["sin", ag.sin],
    ["cos", ag.cos],
    ["sigmoid", ag.sigmoid, [-6, 6]],
    ["softplus", ag.softplus, [-6, 6]],
    ["relu", ag.relu, [0.1, 2]],
    ["astype (float32 and back)", (x) => x.mul(x).astype("float32").astype("float64"), [0.5, 1]],
  ];
  for (const [name, f, range] of cases) {
    if (name.startsWith("astype"))
      it(name, () => expectGradgradcheck(f, [T([3, 4], range)], { eps: 1e-3, rtol: 1e-3, atol: 1e-4 }));
    else it(name, () => expectGradgradcheck(f, [T([3, 4], range)]));
  }
});

describe("gradgradcheck: binary ops with broadcasting", () => {
  const shapes: Array<[number[], number[]]> = [
    [
      [3, 4],
      [3, 4],
    ],
    [
      [3, 1],
      [1, 4],
    ],
    [[], [2, 3]],
  ];
  const ops: Array<[string, (a: Tensor, b: Tensor) => Tensor, [number, number]?, [number, number]?]> = [
    ["add", ag.add],
    ["sub", ag.sub],
    ["mul", ag.mul],
    ["div", ag.div, undefined, [0.5, 2]],
    ["pow", ag.pow, [0.5, 2], [-1.5, 1.5]],
    ["maximum", ag.maximum],
    ["minimum", ag.minimum],
  ];
  for (const [name, f, ra, rb] of ops) {
    for (const [sa, sb] of shapes)
      it(`${name} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () =>
        expectGradgradcheck(f, [T(sa, ra), T(sb, rb)]));
  }
  it("where, broadcast condition", () => {
    const cond = new Tensor(Float64Array.from([1, 0, 0, 1]), [4]);
    expectGradgradcheck((a, b) => ag.where(cond, a.square(), b.exp()), [T([3, 4]), T([3, 1])]);
  });
  it("addN", () => expectGradgradcheck((a, b) => ag.addN([a.square(), b, a.mul(b)]), [T([2, 3]), T([2, 3])]));
  it("comparisons, sign and step feed a mask: their (zero) derivative leaves the rest intact", () => {
    expectGradgradcheck((a, b) => ag.gt(a, b).mul(a.square()).add(ag.le(a, b).mul(b.exp())), [T([3, 4]), T([3, 4])]);
    expectGradgradcheck((a) => ag.sign(a).mul(a.square()).add(ag.step(a).mul(a.exp())), [T([3, 4])]);
  });
});

describe("gradgradcheck: reductions", () => {
  for (const [name, f] of [
    ["sum axis 1 (squared)", (t: Tensor) => t.sum(1).square()],
    ["sum axes [0, 2] keepdims", (t: Tensor) => t.sum([0, 2], true).exp()],
    ["mean axes [1, 2]", (t: Tensor) => t.mean([1, 2]).square()],
    ["max axis 1 keepdims", (t: Tensor) => t.max(1, true).square()],
    ["min axis 2", (t: Tensor) => t.min(2).tanh()],
    ["logsumexp axis -1", (t: Tensor) => t.logsumexp(-1)],
    ["logsumexp axes [0, 1] keepdims", (t: Tensor) => t.logsumexp([0, 1], true)],
  ] as const) {
    it(name, () => expectGradgradcheck(f, [T([2, 3, 4])]));
  }
});

describe("gradgradcheck: linear algebra and movement", () => {
  it("matmul 2-D", () => expectGradgradcheck((a, b) => a.matmul(b).tanh(), [T([3, 4]), T([4, 5])]));
  it("matmul batched, broadcast batch", () =>
    expectGradgradcheck((a, b) => a.matmul(b).square(), [T([2, 1, 3, 4]), T([3, 4, 2])]));
  it("matmul vector · matrix and matrix · vector", () => {
    expectGradgradcheck((a, b) => a.matmul(b).sin(), [T([4]), T([4, 3])]);
    expectGradgradcheck((a, b) => a.matmul(b).sin(), [T([3, 4]), T([4])]);
  });
  it("matmul of transposes (the backward's own products, differentiated again)", () => {
    expectGradgradcheck((a, b) => a.transpose().matmul(b.transpose()).tanh(), [T([4, 3]), T([2, 4])]);
  });
  it("transpose and permute", () => {
    const w = W([4, 2, 3]);
    expectGradgradcheck((t) => w(t.permute([2, 0, 1]).square()), [T([2, 3, 4])]);
  });
  it("reshape, unsqueeze, squeeze", () => {
    const w = W([3, 2, 4]);
    expectGradgradcheck((t) => w(t.unsqueeze(1).tanh()).squeeze().reshape([6, -1]), [T([3, 4])]);
  });
  it("broadcastTo", () => {
    const w = W([2, 3, 4]);
    expectGradgradcheck((t) => w(t.broadcastTo([2, 3, 4]).square()), [T([3, 1])]);
  });
  it("slice", () => {
    const w = W([2, 2]);
    expectGradgradcheck((t) => w(t.slice([1, -3], [3, -1]).exp()), [T([3, 4])]);
  });
  it("concat", () => {
    const w = W([2, 7]);
    expectGradgradcheck((a, b) => w(ag.concat([a, b, a], 1).square()), [T([2, 3]), T([2, 1])]);
  });
  it("split, some pieces unused", () => {
    expectGradgradcheck(
      (t) => {
        const [a, , c] = ag.split(t, [3, 1, 2], 1);
        return a!.square().sum().add(c!.exp().sum());
      },
      [T([2, 6])],
    );
  });
  it("stack", () => {
    const w = W([2, 3, 2]);
    expectGradgradcheck((a, b) => w(ag.stack([a.square(), b], -1)), [T([2, 3]), T([2, 3])]);
  });
  it("indexSelect with repeats", () => {
    const w = W([4, 3]);
    expectGradgradcheck((t) => w(t.indexSelect(0, [2, 0, 2, -1]).square()), [T([3, 3])]);
  });
  it("a composite: log-likelihood of a 2-layer network", () => {
    expectGradgradcheck(
      (x, w1, w2) => x.matmul(w1).tanh().matmul(w2).logsumexp(1).mean(),
      [T([4, 3]), T([3, 4]), T([4, 2])],
    );
  });
});

describe("gradgradcheck: flow layers, fused and composed", () => {
  for (const implementation of ["fused", "composed"] as const) {
    it(`planar (${implementation}), shared parameters: z, u, w, b`, () => {
      expectGradgradcheck(
        (z, u, w, b) => {
          const o = planar(z, { u, w, b }, implementation);
          return o.z.square().sum(1).add(o.logAbsDet);
        },
        [T([4, 3]), T([3]), T([3]), T([1])],
      );
    });
    it(`planar (${implementation}), per-sample parameters, the constraint active (wᵀu < −1)`, () => {
      const w = T([3, 2]),
        u = w
          .mul(-2)
          .add(T([3, 2]).mul(0.1))
          .detach();
      expectGradgradcheck(
        (z, u, w, b) => {
          const o = planar(z, { u, w, b }, implementation);
          return o.z.tanh().sum(1).add(o.logAbsDet);
        },
        [T([3, 2]), u, w, T([3])],
      );
    });
    it(`radial (${implementation}), shared and per-sample parameters`, () => {
      expectGradgradcheck(
        (z, z0, a, b) => {
          const o = radial(z, { z0, alpha: a, beta: b }, implementation);
          return o.z.square().sum(1).add(o.logAbsDet);
        },
        [T([4, 3]), T([3]), T([1]), T([1])],
      );
      expectGradgradcheck(
        (z, z0, a, b) => {
          const o = radial(z, { z0, alpha: a, beta: b }, implementation);
          return o.z.sin().sum(1).add(o.logAbsDet);
        },
        [T([3, 2]), T([3, 2]), T([3]), T([3])],
      );
    });
    it(`the planar constraint (${implementation}) alone`, () => {
      expectGradgradcheck(
        (u, w) => {
          const c = constrainPlanar(u, w, implementation);
          return c.uHat.square().sum(1).add(c.slack.log());
        },
        [T([3, 2]), T([3, 2])],
      );
    });
  }
  it("a K = 3 Sequential of planar and radial layers (fused): the fit's free-energy terms", () => {
    const random = new Random(3);
    const flow = new Sequential([
      new PlanarFlow(2, { random }),
      new RadialFlow(2, { random }),
      new PlanarFlow(2, { random }),
    ]);
    const U = energy("U2");
    expectGradgradcheck(
      (z) => {
        const o = flow.forward(z);
        return U(o.z).sub(o.logAbsDet);
      },
      [T([3, 2])],
    );
  });
  it("the fused kernel's forward, then a createGraph backward (its composed reference recomputed), gives the composed layer's Hessian-vector product", () => {
    const z = T([5, 3]),
      p = { u: T([3]), w: T([3]), b: T([1]) },
      v = T([5, 3]);
    const ops: string[] = [];
    const loss = (x: Tensor, implementation: "fused" | "composed") => {
      const o = planar(x, p, implementation);
      ops.push(o.z.node!.op);
      return o.z.square().sum().add(o.logAbsDet.sum());
    };
    const x = new Tensor(z.data, z.shape, true);
    loss(x, "fused").backward(undefined, { createGraph: true });
    expect(ops).toEqual(["planar"]); // the fused kernel ran
    const g = x.grad!;
    x.zeroGrad();
    g.mul(v).sum().backward();
    expectClose(x.grad!.data, ag.hvp((y) => loss(y, "composed"), z, v).data, 1e-12, 1e-12);
  });
  it("hvp, hessian and nested grad record a fused layer's composed reference in the forward (no kernel, then no recompute)", () => {
    const p = { u: T([2]), w: T([2]), b: T([1]) };
    const ops: string[] = [];
    ag.hvp(
      (x) => {
        const o = planar(x, p);
        ops.push(o.z.node!.op);
        return o.z.sum().add(o.logAbsDet.sum());
      },
      T([3, 2]),
      T([3, 2]),
    );
    ag.grad((x) => {
      const o = planar(x, p);
      ops.push(o.z.node!.op);
      return o.z.sum();
    })(T([3, 2]));
    expect(ops).toEqual(["add", "planar"]); // first order keeps the fused kernel
  });
});

describe("gradgradcheck itself", () => {
  it("catches a rule whose derivative is wrong", () => {
    // d(x²) = 2x dx written as 2 · x.detach() · dx: right at first order, wrong at second
    const wrong = (x: Tensor) => {
      const y = x.square();
      if (y.node) y.node.backward = ([g]) => [g!.mul(x.detach()).mul(2)];
      return y;
    };
    expect(ag.gradcheck(wrong, [T([3])]).ok).toBe(true);
    const r = ag.gradgradcheck(wrong, [T([3])]);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/central difference/);
  });
  it("refuses float32 inputs", () => {
    expect(() => ag.gradgradcheck(ag.exp, [ag.ones([2], { dtype: "float32" })])).toThrow(/float64/);
  });
});

describe("the first-order path is unchanged", () => {
  it("without createGraph, gradients carry no graph and backward releases it", () => {
    const x = ag.tensor([0.5, 1], { requiresGrad: true });
    const y = x.tanh().sum();
    y.backward();
    expect(x.grad!.requiresGrad).toBe(false);
    expect(() => y.backward()).toThrow(/released/);
    const [g] = ag.grad((t) => t.exp().sum())(ag.tensor([1]));
    expect(g!.requiresGrad).toBe(false);
  });
  it("hvp's result is cut from its graph when x is not itself in one (nothing kept alive)", () => {
    const out = ag.hvp((t) => t.pow(3).sum(), ag.tensor([1, 2]), ag.tensor([1, 1]));
    expect(out.requiresGrad).toBe(false);
    expect(out.node).toBeNull();
    expectClose(out.data, [6, 12]);
  });
});
