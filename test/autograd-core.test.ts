import { describe, expect, it } from "vitest";
import * as ag from "../src/autograd/index.js";
import { Adam, Linear, MLP, Module, Random, RMSprop, SGD, type Tensor, tensor } from "../src/autograd/index.js";
import { cpuKernelInfo } from "../src/kernels/index.js";
import { expectClose, randomTensor } from "./helpers.js";

describe("the CPU kernels this run tests", () => {
  it("are WebAssembly SIMD products in the default project and the TypeScript loops in plain-kernels", ({ task }) => {
    const a = ag.randn([32, 32], { random: 1 });
    a.matmul(a);
    const info = cpuKernelInfo();
    if (task.file.projectName === "plain-kernels") {
      expect(info.matmul).toBe("typescript");
      expect(info.calls.wasm + info.calls.threaded).toBe(0);
    } else {
      expect(info.matmul).toBe("wasm-simd");
      expect(info.calls.wasm + info.calls.threaded).toBeGreaterThan(0);
    }
  });
});

describe("tensor creation", () => {
  it("builds from numbers, nested arrays and typed arrays", () => {
    expect(tensor(3).shape).toEqual([]);
    expect(tensor(3).item()).toBe(3);
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe("float64");
    expect(t.data).toBeInstanceOf(Float64Array);
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const f = tensor(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] });
    expect(f.dtype).toBe("float32");
    expect(f.toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(tensor([1, 2], { dtype: "float32" }).data).toBeInstanceOf(Float32Array);
  });
  it("rejects ragged arrays and wrong sizes with the problem named", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => tensor([1, [2]] as never)).toThrow(/ragged/);
    expect(() => tensor(new Float64Array(5), { shape: [2, 2] })).toThrow(/5 values do not fill shape \[2, 2\]/);
    expect(() => ag.zeros([2, -1])).toThrow(/non-negative integers/);
  });
  it("zeros, ones, full, arange, linspace, eye", () => {
    expect(ag.zeros([2]).toArray()).toEqual([0, 0]);
    expect(ag.ones([1, 2]).toArray()).toEqual([[1, 1]]);
    expect(ag.full([2], 7).toArray()).toEqual([7, 7]);
    expect(ag.arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(ag.arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(ag.linspace(-1, 1, 5).toArray()).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(ag.eye(2).toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });
  it("seeded random numbers repeat exactly and have the right moments", () => {
    const a = ag.randn([1000], { random: 42 }),
      b = ag.randn([1000], { random: 42 });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(ag.randn([3], { random: 43 }).data)).not.toEqual(Array.from(a.data.slice(0, 3)));
    // Pinned values: the same seed gives these numbers on every platform.
    const r = new Random(7);
    expect([r.nextUint32(), r.nextUint32()]).toEqual([PINNED_UINT32[0], PINNED_UINT32[1]]);
    const big = ag.randn([200_000], { random: 1 });
    const mean = big.mean().item(),
      variance = big.square().mean().item() - mean ** 2;
    expect(Math.abs(mean)).toBeLessThan(0.01); // 4.5 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.015);
    const u = ag.rand([200_000], { random: 2 });
    expect(u.min().item()).toBeGreaterThanOrEqual(0);
    expect(u.max().item()).toBeLessThan(1);
    expect(Math.abs(u.mean().item() - 0.5)).toBeLessThan(0.003);
  });
});

// xoshiro128** seeded by splitmix32 from 7, computed independently (see the test below).
const PINNED_UINT32 = referenceXoshiro(7);
function referenceXoshiro(seed: number): [number, number] {
  // A BigInt reimplementation, independent of the Math.imul code under test.
  const M = (1n << 32n) - 1n;
  let x = BigInt(seed);
  const sm = () => {
    x = (x + 0x9e3779b9n) & M;
    let z = x;
    z = ((z ^ (z >> 16n)) * 0x85ebca6bn) & M;
    z = ((z ^ (z >> 13n)) * 0xc2b2ae35n) & M;
    return (z ^ (z >> 16n)) & M;
  };
  const s = [sm(), sm(), sm(), sm()];
  const rotl = (v: bigint, k: bigint) => ((v << k) | (v >> (32n - k))) & M;
  const next = () => {
    const result = (rotl((s[1]! * 5n) & M, 7n) * 9n) & M;
    const t = (s[1]! << 9n) & M;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11n);
    return Number(result);
  };
  return [next(), next()];
}

describe("forward values against the math", () => {
  it("elementwise ops", () => {
    const x = tensor([-2, -0.5, 0.5, 2]);
    expectClose(x.exp().data, [-2, -0.5, 0.5, 2].map(Math.exp));
    expectClose(x.tanh().data, [-2, -0.5, 0.5, 2].map(Math.tanh));
    expectClose(x.sin().data, [-2, -0.5, 0.5, 2].map(Math.sin));
    expectClose(x.cos().data, [-2, -0.5, 0.5, 2].map(Math.cos));
    expectClose(
      x.sigmoid().data,
      [-2, -0.5, 0.5, 2].map((v) => 1 / (1 + Math.exp(-v))),
    );
    expectClose(x.relu().data, [0, 0, 0.5, 2]);
    expectClose(x.abs().data, [2, 0.5, 0.5, 2]);
    expectClose(x.pow(2).data, [4, 0.25, 0.25, 4]);
    expectClose(ag.maximum(x, 0).data, [0, 0, 0.5, 2]);
    expectClose(ag.minimum(x, 0).data, [-2, -0.5, 0, 0]);
    expectClose(x.gt(0).data, [0, 0, 1, 1]);
  });
  it("softplus and sigmoid stay finite and accurate for large |x|", () => {
    const x = tensor([-800, -40, 0, 40, 800]);
    expectClose(x.softplus().data, [0, Math.exp(-40), Math.LN2, 40 + Math.exp(-40), 800], 1e-14, 1e-300);
    expectClose(
      x.sigmoid().data,
      [0, Math.exp(-40) / (1 + Math.exp(-40)), 0.5, 1 / (1 + Math.exp(-40)), 1],
      1e-14,
      1e-300,
    );
  });
  it("broadcasting follows NumPy", () => {
    const a = tensor([[1], [2], [3]]),
      b = tensor([10, 20]);
    expect(a.add(b).toArray()).toEqual([
      [11, 21],
      [12, 22],
      [13, 23],
    ]);
    const c = ag.arange(24).reshape([2, 3, 4]);
    const d = tensor([[100], [200], [300]]);
    const s = c.add(d);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let k = 0; k < 4; k++) {
          expect(s.data[i * 12 + j * 4 + k]).toBe(i * 12 + j * 4 + k + (j + 1) * 100);
        }
    // Four axes none of which merge: exercises the odometer path of the kernel.
    const e = ag.arange(16).reshape([2, 2, 2, 2]),
      f = ag.arange(4).reshape([2, 1, 2, 1]);
    const g = e.mul(f);
    for (let i = 0; i < 16; i++) {
      const i0 = (i >> 3) & 1,
        i2 = (i >> 1) & 1; // f[i0, 0, i2, 0] = 2·i0 + i2
      expect(g.data[i]).toBe(i * (2 * i0 + i2));
    }
  });
  it("reductions", () => {
    const x = ag.arange(24).reshape([2, 3, 4]);
    expect(x.sum().item()).toBe(276);
    expect(x.sum(1).toArray()).toEqual([
      [12, 15, 18, 21],
      [48, 51, 54, 57],
    ]);
    expect(x.sum([0, 2], true).shape).toEqual([1, 3, 1]);
    expect(x.sum([0, 2]).toArray()).toEqual([60, 92, 124]);
    expect(x.max(-1).toArray()).toEqual([
      [3, 7, 11],
      [15, 19, 23],
    ]);
    expect(x.min(0).toArray()).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
    expect(x.mean().item()).toBe(11.5);
    const big = tensor([
      [1000, 1000],
      [-Infinity, -Infinity],
    ]);
    expectClose(big.logsumexp(1).data, [1000 + Math.LN2, -Infinity]);
  });
  it("matmul against a naive triple loop, all shapes", () => {
    const rng = new Random(3);
    for (const [m, k, n] of [
      [1, 1, 1],
      [3, 5, 2],
      [7, 9, 13],
      [16, 3, 1],
    ]) {
      const a = randomTensor(rng, [m!, k!]),
        b = randomTensor(rng, [k!, n!]);
      const c = a.matmul(b),
        ref = new Float64Array(m! * n!);
      for (let i = 0; i < m!; i++)
        for (let j = 0; j < n!; j++)
          for (let p = 0; p < k!; p++) ref[i * n! + j] += a.data[i * k! + p]! * b.data[p * n! + j]!;
      expectClose(c.data, ref, 1e-12, 1e-12);
    }
    expect(ag.matmul(ag.ones([4]), ag.ones([4])).shape).toEqual([]);
    expect(ag.matmul(ag.ones([2, 5, 3, 4]), ag.ones([5, 4, 6])).shape).toEqual([2, 5, 3, 6]);
  });
  it("movement ops", () => {
    const x = ag.arange(6).reshape([2, 3]);
    expect(x.transpose().toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(x.slice([0, 1], [2, 3]).toArray()).toEqual([
      [1, 2],
      [4, 5],
    ]);
    expect(ag.concat([x, x], 0).shape).toEqual([4, 3]);
    expect(ag.stack([x, x], 1).shape).toEqual([2, 2, 3]);
    expect(x.indexSelect(1, [2, 0]).toArray()).toEqual([
      [2, 0],
      [5, 3],
    ]);
    expect(ag.split(x, [1, 2], 1).map((p) => p.toArray())).toEqual([
      [[0], [3]],
      [
        [1, 2],
        [4, 5],
      ],
    ]);
    expect(() => ag.split(x, [1, 1], 1)).toThrow(/split: sizes \[1, 1\] must be non-negative integers adding up to 3/);
    expect(x.broadcastTo([2, 2, 3]).toArray()).toEqual([x.toArray(), x.toArray()]);
    expect(ag.where(x.gt(2), x, tensor(-1)).toArray()).toEqual([
      [-1, -1, -1],
      [3, 4, 5],
    ]);
  });
});

describe("bad input is named", () => {
  const a = ag.ones([2, 3]);
  it("shape and dtype errors name the op and shapes", () => {
    expect(() => a.add(ag.ones([4]))).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
    expect(() => a.matmul(ag.ones([2, 3]))).toThrow(/matmul: inner dimensions differ, \[2, 3\] · \[2, 3\]/);
    expect(() => a.reshape([4])).toThrow(/reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4\]/);
    expect(() => a.sum(2)).toThrow(/sum: axis 2 is out of range for a tensor of rank 2/);
    expect(() => a.add(ag.ones([2, 3], { dtype: "float32" }))).toThrow(
      /add: dtype mismatch, float64 \[2, 3\] and float32 \[2, 3\]/,
    );
    expect(() => a.slice([0], [3])).toThrow(/slice: range 0:3 is out of bounds for axis 0/);
    expect(() => a.indexSelect(0, [2])).toThrow(/indexSelect: index 2 is out of range/);
    expect(() => ag.concat([a, ag.ones([2, 2])], 0)).toThrow(/concat: shapes \[2, 3\], \[2, 2\] differ outside axis 0/);
    expect(() => a.broadcastTo([3, 3])).toThrow(/broadcastTo: cannot broadcast \[2, 3\] to \[3, 3\]/);
    expect(() => a.item()).toThrow(/item: tensor of shape \[2, 3\] has 6 elements/);
  });
  it("backward errors", () => {
    expect(() => ag.ones([2], { requiresGrad: true }).mul(2).backward()).toThrow(/not a scalar; pass the gradient/);
    expect(() => ag.ones([1]).backward()).toThrow(/does not require grad/);
    const x = ag.ones([1], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/released by an earlier backward\(\); pass \{ retainGraph: true \}/);
    expect(() => x.exp().backward(ag.ones([2]))).toThrow(
      /gradient of shape \[2\] does not match tensor of shape \[1\]/,
    );
  });
  it("anomaly mode names the first op that made a NaN", () => {
    ag.detectAnomaly(true);
    try {
      const x = tensor([-1, 1], { requiresGrad: true });
      expect(() => x.sqrt()).toThrow(/forward of op "sqrt" produced NaN at flat index 0/);
      const z = tensor([0], { requiresGrad: true });
      const y = z.sqrt().sum(); // forward is finite (0) but d√x at 0 is infinite
      expect(() => y.backward()).toThrow(/backward of op "sqrt" produced Infinity/);
    } finally {
      ag.detectAnomaly(false);
    }
    expect(tensor([-1]).sqrt().item()).toBeNaN(); // off again: NaN propagates as in IEEE arithmetic
  });
});

describe("backward semantics", () => {
  it("accumulates into leaves, and zeroGrad clears", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.square().sum().backward();
    x.square().sum().backward();
    expect(x.grad!.toArray()).toEqual([4, 8]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });
  it("retainGraph allows a second pass", () => {
    const x = tensor([3], { requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad!.item()).toBe(12);
  });
  it("noGrad and detach stop the graph", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = ag.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    const z = x.detach().mul(x).sum();
    z.backward();
    expect(x.grad!.toArray()).toEqual([1, 2]); // d(c·x)/dx = c with c the detached x
  });
  it("runs a deep chain without overflowing the stack", () => {
    const x = tensor([0.5], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 20_000; i++) y = y.mul(1);
    y.sum().backward();
    expect(x.grad!.item()).toBe(1);
  });
  it("a leaf's gradient is a buffer of its own: never the seed's, a caller's tensor's or another leaf's", () => {
    // add hands both inputs the same gradient tensor; the leaves must not share it.
    const a = tensor([1, 2], { requiresGrad: true }),
      b = tensor([3, 4], { requiresGrad: true });
    const seed = tensor([5, 6]);
    a.add(b).backward(seed);
    expect(a.grad!.storage).not.toBe(b.grad!.storage);
    expect(a.grad!.storage).not.toBe(seed.storage);
    a.grad!.data[0] = 100;
    seed.data[1] = 100;
    expect(b.grad!.toArray()).toEqual([5, 6]);
    expect(a.grad!.toArray()).toEqual([100, 6]);
    // A gradient that is the seed reshaped shares the seed's storage: copied too.
    const c = tensor([1, 2, 3, 4], { requiresGrad: true });
    const g = tensor([
      [1, 2],
      [3, 4],
    ]);
    c.reshape([2, 2]).backward(g);
    expect(c.grad!.storage).not.toBe(g.storage);
    g.data[0] = -1;
    expect(c.grad!.toArray()).toEqual([1, 2, 3, 4]);
    // A fresh gradient made for one leaf alone is taken as it is, and accumulating makes a new one.
    const x = tensor([1, 2], { requiresGrad: true });
    x.square().sum().backward();
    const first = x.grad!;
    x.square().sum().backward();
    expect(first.toArray()).toEqual([2, 4]);
    expect(x.grad!.toArray()).toEqual([4, 8]);
  });
  it("recordedOps lists the graph behind some outputs once, each op after the ops that made its inputs", () => {
    const x = tensor([1, 2], { requiresGrad: true }),
      w = tensor([3, 4], { requiresGrad: true }),
      c = tensor([5, 6]); // no grad: not part of the graph
    const h = x.mul(w); // shared by both outputs
    const a = h.exp().sum(),
      b = h.add(c).sum();
    const ops = ag.recordedOps([a, b]);
    expect(ops.map((op) => op.op).sort()).toEqual(["add", "exp", "mul", "sum", "sum"]);
    expect(new Set(ops).size).toBe(ops.length);
    for (const [i, op] of ops.entries())
      for (const p of op.parents) if (p.node) expect(ops.indexOf(p.node)).toBeLessThan(i);
    expect(ops.flatMap((op) => op.parents).filter((t) => !t.node && t.requiresGrad)).toEqual([x, w]);
    // Tensors in stopAt are leaves: the mul behind h is not walked; nothing is recorded under noGrad.
    expect(
      ag
        .recordedOps([a, b], new Set([h]))
        .map((op) => op.op)
        .sort(),
    ).toEqual(["add", "exp", "sum", "sum"]);
    expect(ag.recordedOps([ag.noGrad(() => x.mul(w))])).toEqual([]);
    expect(ag.recordedOps([x])).toEqual([]);
  });
  it("gradients of non-leaves are not kept", () => {
    const x = tensor([1], { requiresGrad: true });
    const h = x.mul(2);
    h.sum().backward();
    expect(h.grad).toBeNull();
    expect(x.grad!.item()).toBe(2);
  });
});

describe("functional API", () => {
  it("grad and valueAndGrad", () => {
    const f = (x: Tensor, y: Tensor) => x.mul(y).sum();
    const [dx, dy] = ag.grad(f)(tensor([1, 2]), tensor([3, 4]));
    expect(dx!.toArray()).toEqual([3, 4]);
    expect(dy!.toArray()).toEqual([1, 2]);
    const { value, grads } = ag.valueAndGrad((x: Tensor) => x.square().sum())(tensor([3]));
    expect(value.item()).toBe(9);
    expect(grads[0]!.toArray()).toEqual([6]);
    expect(() => ag.grad((x: Tensor) => x)(tensor([1, 2]))).toThrow(/must return a scalar/);
  });
  it("vjp gives rows of the Jacobian", () => {
    // f(x) = [x0·x1, sin-free: x0², x1³] has J = [[x1, x0], [2x0, 0], [0, 3x1²]]
    const f = (x: Tensor) =>
      ag.stack([
        x
          .slice([0], [1])
          .mul(x.slice([1], [2]))
          .squeeze(),
        x.slice([0], [1]).square().squeeze(),
        x.slice([1], [2]).pow(3).squeeze(),
      ]);
    const x = tensor([2, 3]);
    expect(ag.vjp(f, x, tensor([1, 0, 0])).toArray()).toEqual([3, 2]);
    expect(ag.vjp(f, x, tensor([0, 1, 0])).toArray()).toEqual([4, 0]);
    const { value, pullback } = ag.vjpFunction(f, x);
    expect(value.toArray()).toEqual([6, 4, 27]);
    expect(pullback(tensor([0, 0, 1])).toArray()).toEqual([0, 27]);
    expect(pullback(tensor([1, 1, 1])).toArray()).toEqual([7, 29]);
  });
});

describe("optimizers", () => {
  // Minimise the Rosenbrock-like quadratic f = (x − 3)² + 10 (y + 1)²; every optimizer must get close.
  const minimise = (make: (ps: Tensor[]) => ag.Optimizer, steps: number) => {
    const p = tensor([0, 0], { requiresGrad: true });
    const opt = make([p]);
    for (let i = 0; i < steps; i++) {
      opt.zeroGrad();
      p.sub(tensor([3, -1]))
        .square()
        .mul(tensor([1, 10]))
        .sum()
        .backward();
      opt.step();
    }
    return p.toArray() as number[];
  };
  it("SGD with momentum, Adam and RMSprop with momentum converge", () => {
    for (const [name, make, steps] of [
      ["sgd", (ps: Tensor[]) => new SGD(ps, { lr: 0.02, momentum: 0.9 }), 500],
      ["adam", (ps: Tensor[]) => new Adam(ps, { lr: 0.05 }), 2000],
      ["rmsprop", (ps: Tensor[]) => new RMSprop(ps, { lr: 0.001, momentum: 0.9 }), 3000],
    ] as const) {
      const [x, y] = minimise(make, steps);
      expect(Math.abs(x! - 3), name).toBeLessThan(1e-2);
      expect(Math.abs(y! + 1), name).toBeLessThan(1e-2);
    }
  });
  it("one Adam step matches the formula", () => {
    const p = tensor([1], { requiresGrad: true });
    const opt = new Adam([p], { lr: 0.1 });
    p.mul(2).sum().backward(); // g = 2
    opt.step();
    // m̂ = g, v̂ = g², step = lr·g/(|g| + eps)
    expectClose(p.data, [1 - (0.1 * 2) / (2 + 1e-8)]);
  });
  it("scaleLearningRate: the scaled parameters step at factor·lr, the others at lr (Adam and SGD)", () => {
    const [p, q] = [tensor([1], { requiresGrad: true }), tensor([1], { requiresGrad: true })];
    const adam = new Adam([p, q], { lr: 0.1 });
    adam.scaleLearningRate([q], 0.25);
    p.mul(2).add(q.mul(2)).sum().backward();
    adam.step();
    expectClose(p.data, [1 - (0.1 * 2) / (2 + 1e-8)]);
    expectClose(q.data, [1 - (0.025 * 2) / (2 + 1e-8)]);
    const [a, b] = [tensor([1, 2], { requiresGrad: true }), tensor([3], { requiresGrad: true })];
    const sgd = new SGD([a, b], { lr: 0.5 });
    sgd.scaleLearningRate([b], 3);
    a.square().sum().add(b.square().sum()).backward(); // g = 2x
    sgd.step();
    expectClose(a.data, [1 - 0.5 * 2, 2 - 0.5 * 4]);
    expectClose(b.data, [3 - 1.5 * 6]);
    expect(() => sgd.scaleLearningRate([b], 0)).toThrow(/factor must be a positive number, got 0/);
    expect(() => sgd.scaleLearningRate([p], 2)).toThrow(/a parameter that this optimizer does not update/);
  });
  it("one RMSprop step matches the formula", () => {
    const p = tensor([1], { requiresGrad: true });
    const opt = new RMSprop([p], { lr: 0.1, alpha: 0.9, momentum: 0.5 });
    p.mul(2).sum().backward();
    opt.step();
    opt.step(); // same gradient again
    const s1 = 0.1 * 4,
      b1 = 2 / (Math.sqrt(s1) + 1e-8);
    const s2 = 0.9 * s1 + 0.1 * 4,
      b2 = 0.5 * b1 + 2 / (Math.sqrt(s2) + 1e-8);
    expectClose(p.data, [1 - 0.1 * b1 - 0.1 * b2]);
  });
  it("clipGradNorm: the global norm is √Σg² (float64, by hand); above maxNorm every gradient is scaled to it, direction kept; at or below, left alone", () => {
    const a = tensor([1, -2, 3], { requiresGrad: true }),
      b = tensor([[0.5, 4]], { requiresGrad: true }),
      unused = tensor([7], { requiresGrad: true });
    const fill = () => {
      for (const p of [a, b, unused]) p.zeroGrad();
      // d/da of Σ a²/2 is a; d/db of Σ 3b is 3: gradients [1, −2, 3] and [[3, 3]]
      a.square().mul(0.5).sum().add(b.mul(3).sum()).backward();
    };
    const norm = Math.sqrt(1 + 4 + 9 + 9 + 9);
    fill();
    expect(ag.gradNorm([a, b, unused]).toArray()).toEqual(expect.closeTo(norm, 14));
    expect(ag.clipGradNorm([a, b, unused], 100)).toBeCloseTo(norm, 14); // below: nothing changes
    expectClose(a.grad!.data, [1, -2, 3]);
    expect(ag.clipGradNorm([a, b, unused], 2)).toBeCloseTo(norm, 14); // returns the norm before clipping
    const f = 2 / norm;
    expectClose(a.grad!.data, [f, -2 * f, 3 * f]);
    expectClose(b.grad!.data, [3 * f, 3 * f]);
    expect(b.grad!.shape).toEqual([1, 2]);
    expect(ag.gradNorm([a, b]).toArray()).toEqual(expect.closeTo(2, 14));
    expect(unused.grad).toBeNull(); // a parameter without a gradient gets none
    // Exactly at the threshold nothing is scaled (clipFactor 1).
    expect(ag.clipFactor(5, 5)).toBe(1);
    expect(ag.clipFactor(10, 5)).toBe(0.5);
    // Clipped gradients are what an optimizer then steps on: SGD moves by lr times them.
    fill();
    const sgd = new SGD([a, b], { lr: 0.5 });
    ag.clipGradNorm([a, b], 1);
    sgd.step();
    expectClose(a.data, [1 - 0.5 / norm, -2 + 1 / norm, 3 - 1.5 / norm]);
    // Bad input is named.
    expect(() => ag.clipGradNorm([a], 0)).toThrow(/clipping norm must be a positive finite number, got 0/);
    expect(() => ag.clipGradNorm([a], Number.NaN)).toThrow(/clipping norm must be a positive finite number, got NaN/);
    expect(() => ag.gradNorm([unused])).toThrow(/none of the parameters has a gradient/);
    expect(() => ag.scaleGrads([a], -1)).toThrow(/factor must be a finite number ≥ 0, got -1/);
    const nan = tensor([1], { requiresGrad: true });
    nan.mul(Number.NaN).sum().backward();
    expect(() => ag.clipGradNorm([nan], 1)).toThrow(/the gradients' norm is NaN/);
  });
  it("rejects bad settings", () => {
    expect(() => new Adam([tensor([1], { requiresGrad: true })], { lr: -1 })).toThrow(
      /learning rate must be a positive number/,
    );
    expect(() => new SGD([tensor([1])], { lr: 1 })).toThrow(/parameter 0 does not require grad/);
  });
});

describe("modules and saved parameters", () => {
  it("names parameters, trains, saves and loads", () => {
    const net = new MLP([3, 8, 2], "tanh", { random: 5 });
    expect(net.namedParameters().map(([n]) => n)).toEqual(["0.weight", "0.bias", "1.weight", "1.bias"]);
    expect(net.forward(ag.ones([4, 3])).shape).toEqual([4, 2]);
    const state = JSON.parse(JSON.stringify(net.stateDict()));
    const other = new MLP([3, 8, 2], "tanh", { random: 6 });
    expect(Array.from(other.layers[0]!.weight.data)).not.toEqual(Array.from(net.layers[0]!.weight.data));
    other.loadStateDict(state);
    expect(Array.from(other.layers[0]!.weight.data)).toEqual(Array.from(net.layers[0]!.weight.data));
  });
  it("a bad file changes nothing and says why", () => {
    const net = new MLP([3, 4, 2], "relu", { random: 1 });
    const before = net.parameters().map((p) => Array.from(p.data));
    const state = net.stateDict();
    const wrongShape = structuredClone(state);
    wrongShape.parameters["1.weight"]!.shape = [2, 4];
    // Make an earlier parameter different so a half-applied load would show.
    wrongShape.parameters["0.bias"]!.data = [9, 9, 9, 9];
    expect(() => net.loadStateDict(wrongShape)).toThrow(
      /parameter "1.weight" has shape \[2, 4\] in the file, the module expects \[4, 2\]/,
    );
    const missing = structuredClone(state);
    delete missing.parameters["0.bias"];
    expect(() => net.loadStateDict(missing)).toThrow(/missing parameters \[0.bias\]/);
    expect(() => net.loadStateDict({ hello: 1 })).toThrow(/not a flowgrad parameter file/);
    expect(net.parameters().map((p) => Array.from(p.data))).toEqual(before);
  });
  it("a custom module registers parameters and sub-modules", () => {
    class Affine extends Module {
      scale = this.addParameter("scale", ag.ones([2]));
      inner = this.addModule("inner", new Linear(2, 2, { random: 0 }));
    }
    const m = new Affine();
    expect(m.namedParameters().map(([n]) => n)).toEqual(["scale", "inner.weight", "inner.bias"]);
    expect(m.scale.requiresGrad).toBe(true);
  });
});
