import { describe, expect, it } from "vitest";
import * as ag from "../src/autograd/index.js";
import { Random, Tensor } from "../src/autograd/index.js";
import { expectGradcheck, randomTensor } from "./helpers.js";

const rng = new Random(1234);
const T = (shape: number[], range?: [number, number]) => randomTensor(rng, shape, range);
// A fixed random weight, drawn once per test, so the checked function is deterministic.
const W = (shape: number[]) => {
  const w = T(shape);
  return (t: Tensor) => t.mul(w);
};

// Every op, checked by central differences (each input element) and the random-direction test,
// at rtol 1e-6, on shapes that exercise broadcasting and reductions. Inputs avoid the kinks
// (|x| at 0, relu at 0, ties in max) where the derivative does not exist.
describe("gradcheck: unary ops", () => {
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
    ["abs (negative side)", ag.abs, [-2, -0.2]],
    ["tanh", ag.tanh],
    ["sin", ag.sin],
    ["cos", ag.cos],
    ["sigmoid", ag.sigmoid, [-8, 8]],
    ["softplus", ag.softplus, [-8, 8]],
    ["softplus (large |x|)", ag.softplus, [30, 40]],
    ["relu", ag.relu, [0.1, 2]],
    ["relu (off side)", ag.relu, [-2, -0.1]],
  ];
  for (const [name, f, range] of cases) {
    it(name, () => expectGradcheck(f, [T([3, 4], range)]));
  }
});

describe("gradcheck: binary ops with broadcasting", () => {
  const shapes: Array<[number[], number[]]> = [
    [
      [3, 4],
      [3, 4],
    ],
    [[3, 4], [4]],
    [
      [3, 1],
      [1, 4],
    ],
    [
      [2, 3, 4],
      [3, 1],
    ],
    [[], [2, 3]],
  ];
  const ops: Array<[string, (a: Tensor, b: Tensor) => Tensor, [number, number]?, [number, number]?]> = [
    ["add", ag.add],
    ["sub", ag.sub],
    ["mul", ag.mul],
    ["div", ag.div, undefined, [0.5, 2]],
    ["pow (tensor exponent)", ag.pow, [0.5, 2], [-1.5, 1.5]],
    ["maximum", ag.maximum],
    ["minimum", ag.minimum],
  ];
  for (const [name, f, ra, rb] of ops) {
    for (const [sa, sb] of shapes) {
      it(`${name} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () => expectGradcheck(f, [T(sa, ra), T(sb, rb)]));
    }
  }
  it("pow with a scalar exponent", () => expectGradcheck((x) => ag.pow(x, 3), [T([5])]));
  it("pow with a fractional scalar exponent", () => expectGradcheck((x) => x.pow(-0.5), [T([5], [0.5, 2])]));
  it("scalar number on the left", () => expectGradcheck((x) => ag.sub(2, x).div(3), [T([4])]));
  it("where, broadcast condition", () => {
    const cond = new Tensor(Float64Array.from([1, 0, 0, 1]), [4]);
    expectGradcheck((a, b) => ag.where(cond, a, b), [T([3, 4]), T([3, 1])]);
  });
  it("addN", () => expectGradcheck((a, b, c) => ag.addN([a, b, c, a]), [T([2, 3]), T([2, 3]), T([2, 3])]));
  it("the same tensor used twice accumulates", () => expectGradcheck((x) => x.mul(x).add(x.exp().mul(x)), [T([3])]));
});

describe("gradcheck: reductions", () => {
  const x = () => T([2, 3, 4]);
  for (const [name, f] of [
    ["sum all", (t: Tensor) => t.sum()],
    ["sum axis 1", (t: Tensor) => t.sum(1)],
    ["sum axes [0, 2] keepdims", (t: Tensor) => t.sum([0, 2], true)],
    ["sum axis -1", (t: Tensor) => t.sum(-1)],
    ["mean axes [1, 2]", (t: Tensor) => t.mean([1, 2])],
    ["max all", (t: Tensor) => t.max()],
    ["max axis 1 keepdims", (t: Tensor) => t.max(1, true)],
    ["min axis 2", (t: Tensor) => t.min(2)],
    ["logsumexp axis -1", (t: Tensor) => t.logsumexp(-1)],
    ["logsumexp axes [0, 1] keepdims", (t: Tensor) => t.logsumexp([0, 1], true)],
  ] as const) {
    it(name, () => expectGradcheck(f, [x()]));
  }
  it("logsumexp of large values", () => expectGradcheck((t) => t.mul(1000).logsumexp(1), [T([3, 4])]));
});

describe("gradcheck: linear algebra and movement", () => {
  it("matmul 2-D", () => expectGradcheck(ag.matmul, [T([3, 4]), T([4, 5])]));
  it("matmul batched", () => expectGradcheck(ag.matmul, [T([2, 3, 4]), T([2, 4, 5])]));
  it("matmul with broadcast batch", () => expectGradcheck(ag.matmul, [T([2, 1, 3, 4]), T([3, 4, 2])]));
  it("matmul vector · matrix", () => expectGradcheck(ag.matmul, [T([4]), T([4, 3])]));
  it("matmul matrix · vector", () => expectGradcheck(ag.matmul, [T([3, 4]), T([4])]));
  it("matmul vector · vector", () => expectGradcheck(ag.matmul, [T([4]), T([4])]));
  it("transpose", () => {
    const w = W([4, 3]);
    expectGradcheck((t) => w(t.transpose()), [T([3, 4])]);
  });
  it("permute", () => {
    const w = W([4, 2, 3]);
    expectGradcheck((t) => w(t.permute([2, 0, 1])), [T([2, 3, 4])]);
  });
  it("reshape", () => {
    const w = W([6, 2]);
    expectGradcheck((t) => w(t.reshape([6, -1])), [T([3, 4])]);
  });
  it("broadcastTo", () => {
    const w = W([2, 3, 4]);
    expectGradcheck((t) => w(t.broadcastTo([2, 3, 4])), [T([3, 1])]);
  });
  it("unsqueeze and squeeze", () => {
    const w = W([3, 2, 4]);
    expectGradcheck((t) => w(t.unsqueeze(1)).squeeze(), [T([3, 4])]);
  });
  it("slice", () => {
    const w = W([2, 2]);
    expectGradcheck((t) => w(t.slice([1, -3], [3, -1])), [T([3, 4])]);
  });
  it("concat", () => {
    const w = W([2, 7]);
    expectGradcheck((a, b) => w(ag.concat([a, b, a], 1)), [T([2, 3]), T([2, 1])]);
  });
  it("split, some pieces unused", () => {
    const w = W([2, 3]),
      v = W([2, 2]);
    expectGradcheck(
      (t) => {
        const [a, , c] = ag.split(t, [3, 1, 2], 1);
        return w(a!).sum().add(v(c!).sum());
      },
      [T([2, 6])],
    );
  });
  it("stack", () => {
    const w = W([2, 3, 2]);
    expectGradcheck((a, b) => w(ag.stack([a, b], -1)), [T([2, 3]), T([2, 3])]);
  });
  it("indexSelect with repeats", () => {
    const w = W([4, 3]);
    expectGradcheck((t) => w(t.indexSelect(0, [2, 0, 2, -1])), [T([3, 3])]);
  });
  it("a composite: log-likelihood of a 2-layer network", () => {
    expectGradcheck(
      (x, w1, w2) => x.matmul(w1).tanh().matmul(w2).logsumexp(1).mean(),
      [T([5, 3]), T([3, 4]), T([4, 2])],
    );
  });
});

describe("gradcheck itself", () => {
  it("catches a wrong backward rule", () => {
    // d(2x) = 2 dx, but this rule says 3 dx.
    const wrong = (x: Tensor) => {
      const y = x.mul(2);
      if (y.node) y.node.backward = ([g]) => [g!.mul(3), null];
      return y;
    };
    const r = ag.gradcheck(wrong, [T([3])]);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/central difference/);
  });
  it("refuses float32 inputs", () => {
    expect(() => ag.gradcheck(ag.exp, [ag.ones([2], { dtype: "float32" })])).toThrow(/float64/);
  });
});
