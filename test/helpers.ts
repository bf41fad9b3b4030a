import { execFileSync, type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, vi } from "vitest";
import * as ag from "../src/autograd/index.js";
import { type GradcheckOptions, gradcheck, Random, Tensor } from "../src/autograd/index.js";
import {
  PlanarFlow,
  type PlanarParams,
  planar,
  planarBackwardKernel,
  planarConstraintKernel,
  planarForwardKernel,
  planarInverse,
  type RadialParams,
  radial,
  radialInverse,
  Sequential,
} from "../src/flows/index.js";
import { createGpuBackend, type GpuBackend } from "../src/kernels/gpu/backend.js";
import type { GpuMode } from "../src/kernels/gpu/load.js";
import {
  type Backend,
  type CustomKernel,
  cpuBackend,
  type DeviceArray,
  isDeviceArray,
  type KernelInput,
  type ResidentKernels,
  setBackend,
  type UpdateRule,
} from "../src/kernels/index.js";
import { FlowVAE } from "../src/models/index.js";

/** A custom kernel (a flow layer's) run by `backend`, its outputs as float64 host arrays (device arrays read back and released). */
export function runToHost<A>(
  backend: Backend,
  kernel: CustomKernel<A>,
  inputs: ReadonlyArray<KernelInput | null>,
  args: A,
): Float64Array[] {
  return backend.run(kernel, inputs, args, "float64").map((x) => {
    if (!isDeviceArray(x)) return x instanceof Float64Array ? x : Float64Array.from(x);
    const values = Float64Array.from(x.read());
    x.release();
    return values;
  });
}

/** A custom kernel run by a backend with device memory, whose outputs must stay on the device. */
export function onDevice<A>(
  backend: Backend,
  kernel: CustomKernel<A>,
  inputs: ReadonlyArray<KernelInput | null>,
  args: A,
): DeviceArray[] {
  const out = backend.run(kernel, inputs, args, "float32");
  expect(out.every(isDeviceArray), `${kernel.name} left the device`).toBe(true);
  return out as DeviceArray[];
}

/** Random float64 tensor from a fixed-seed stream; `lo`/`hi` bound the values (uniform), else normal. */
export function randomTensor(rng: Random, shape: number[], range?: [number, number]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float64Array.from({ length: n }, () =>
    range ? range[0] + (range[1] - range[0]) * rng.uniform() : rng.normal(),
  );
  return new Tensor(data, shape);
}

/** Gradient check that fails with the report's message. */
export function expectGradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], options?: GradcheckOptions): void {
  const r = gradcheck(f, inputs, options);
  expect(r.message).toBe("ok");
  expect(r.ok).toBe(true);
}

/** Elementwise closeness with a combined tolerance, reporting the first bad index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-12, atol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (a !== e && !(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/**
 * One training step of a K = 4 flow (planar and radial layers, shared float32 parameters) on N = 64
 * points, the shape of the paper's 2-D fits: −E[Σ log|det| + log p(z_K)] with log p a logsumexp of
 * two modes, plus a term through slice, transpose and split, run in tidy() with backward. On a
 * device backend nothing in it needs a value on the host. Returns the loss and the parameters (with
 * their gradients), read by the caller.
 */
export function flowDensityStep(): { loss: Tensor; params: Tensor[] } {
  const random = new Random(6);
  const f32 = (shape: number[]) => ag.randn(shape, { random, dtype: "float32" });
  const layers = Array.from({ length: 4 }, (_, k): PlanarParams | RadialParams =>
    k % 2 === 0
      ? { u: f32([2]).mul(0.5).requireGrad(), w: f32([2]).requireGrad(), b: f32([1]).requireGrad() }
      : { z0: f32([2]).requireGrad(), alpha: f32([1]).requireGrad(), beta: f32([1]).requireGrad() },
  );
  const z0 = f32([64, 2]);
  const loss = ag.tidy(() => {
    let z = z0.mul(1); // on the device from here, where there is one
    let sumLogDet: Tensor | null = null;
    for (const p of layers) {
      const o = "u" in p ? planar(z, p) : radial(z, p as RadialParams);
      z = o.z;
      sumLogDet = sumLogDet ? sumLogDet.add(o.logAbsDet) : o.logAbsDet;
    }
    const centers = ag.tensor([[[2, 0]], [[-2, 0]]], { dtype: "float32" }); // [2, 1, 2]
    const logp = ag.logsumexp(z.unsqueeze(0).sub(centers).square().sum(2).mul(-0.5), 0);
    const [first] = ag.split(z.slice([0, 0], [64, 1]).transpose(), [40, 24], 1);
    const l = sumLogDet!.add(logp).neg().mean().add(first!.square().mean().mul(0.01));
    l.backward();
    return l;
  });
  return { loss, params: layers.flatMap((p) => Object.values(p) as Tensor[]) };
}

/**
 * A tiny float32 regression for training-loop tests: an MLP 2-16-1 with Adam (lr 0.02) fitting Σx²
 * on 64 points (the target made in tidy(), so only it stays on a device). step() runs one step in
 * tidy() and returns its loss tensor; the caller reads it and updates.
 */
export function tinyRegression(): { net: ag.MLP; opt: ag.Adam; step: () => Tensor } {
  const random = new Random(3);
  const net = new ag.MLP([2, 16, 1], "tanh", { random, dtype: "float32" });
  const opt = new ag.Adam(net.parameters(), { lr: 0.02 });
  const x = ag.randn([64, 2], { random, dtype: "float32" });
  const target = ag.tidy(() => ag.sum(x.square(), 1, true));
  const step = () =>
    ag.tidy(() => {
      opt.zeroGrad();
      const l = net.forward(x).sub(target).square().mean();
      l.backward();
      return l;
    });
  return { net, opt, step };
}

/**
 * Training steps of a small VAE (16 pixels, batch 40) with a K-layer planar posterior, as trainVAE
 * runs them (tidy, read the loss, update; awaited, so webgpu works too): each step's loss and, on a
 * GPU backend, the kernels compiled in each step after the first two (a kernel cache smaller than
 * a step's working set compiles in every step).
 */
export async function vaeSteps(
  backend: GpuBackend | "cpu",
  K: number,
  steps = 4,
): Promise<{ losses: number[]; compiles: number[] }> {
  setBackend(backend);
  try {
    const random = new Random(5);
    const x = new Tensor(
      Float64Array.from({ length: 40 * 16 }, () => (random.uniform() < 0.3 ? 1 : 0)),
      [40, 16],
    );
    const model = new FlowVAE({ inputs: 16, latent: 2, hidden: 8, K, seed: 3 });
    const opt = new ag.Adam(model.parameters(), { lr: 1e-2 });
    const losses: number[] = [],
      compiles: number[] = [];
    const compiled = () => (backend === "cpu" ? 0 : backend.kernelsCompiled());
    for (let s = 0; s < steps; s++) {
      const before = compiled();
      const loss = ag.tidy(() => {
        opt.zeroGrad();
        const l = model.freeEnergy(x, random);
        l.backward();
        return l;
      });
      losses.push((await loss.read())[0]!);
      await opt.stepAsync();
      if (s >= 2) compiles.push(compiled() - before);
    }
    await Promise.all(model.parameters().map((p) => p.read())); // webgpu: the last update has run
    return { losses, compiles };
  } finally {
    setBackend("cpu");
  }
}

/**
 * A backend of `mode` keeping 8 compiled kernels, fewer than a small VAE step uses: every step
 * compiles again, the backend says so once, holds 8, and the steps still give the CPU's losses.
 */
export async function expectSmallKernelCacheSteps(mode: GpuMode): Promise<void> {
  const small = await createGpuBackend(mode, { kernelCacheSize: 8 });
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  try {
    const gpu = await vaeSteps(small, 2),
      cpu = await vaeSteps("cpu", 2);
    expect(gpu.compiles.every((c) => c > 0)).toBe(true);
    expect(small.liveKernels()).toBe(8);
    const notices = warn.mock.calls.filter(([m]) => /keeps 8 compiled kernels/.test(String(m)));
    expect(notices).toHaveLength(1);
    gpu.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]!)).toBeLessThan(1e-4 * cpu.losses[i]!));
  } finally {
    warn.mockRestore();
    small.dispose();
  }
}

/** One step of each optimizer rule, with momentum where it has one, for the kernel tests. */
export const UPDATE_RULES: UpdateRule[] = [
  { kind: "sgd", lr: 0.1, momentum: 0.9 },
  { kind: "adam", lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: 3 },
  { kind: "rmsprop", lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0.5 },
];
export const stateBuffers = (rule: UpdateRule): number => (rule.kind === "sgd" ? 1 : 2);

/**
 * Two optimizer steps on the device against the CPU backend's, for every rule: the first from host
 * state, the second from the state the first left (packed after the parameter, or one array per
 * buffer); the inputs stay as they were and, once every output is released, so does the device's count.
 */
export async function expectDeviceUpdatesMatch(
  r: ResidentKernels,
  read: (x: DeviceArray) => Promise<Float32Array>,
  close: (actual: ArrayLike<number>, expected: ArrayLike<number>) => void,
): Promise<void> {
  const rng = new Random(12);
  const rand = (n: number, lo = -2, hi = 2) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
  const liveBefore = r.liveArrays();
  for (const first of UPDATE_RULES) {
    const second: UpdateRule =
      first.kind === "adam" ? { ...first, t: first.t + 1, lr: 0.02 } : { ...first, lr: first.lr * 2 };
    const n = 5000,
      k = stateBuffers(first),
      x = rand(n),
      g1 = rand(n),
      g2 = rand(n);
    const state = Array.from({ length: k }, () => rand(n, 0, 2)); // second moments are ≥ 0
    const x0 = x.slice(),
      cx = Float64Array.from(x),
      cs = state.map((b) => Float64Array.from(b));
    const one = r.update!(first, x, g1, state)!;
    cpuBackend.host.update(first, cx, g1, cs);
    const unpack = async (outs: DeviceArray[]): Promise<Float32Array[]> => {
      const values = await Promise.all(outs.map(read));
      expect(values[0]!.length).toBe(n);
      const packed = values.length === 2 && values[1]!.length === (1 + k) * n;
      if (packed) expect(Array.from(values[1]!.subarray(0, n))).toEqual(Array.from(values[0]!)); // block 0 is the parameter
      return packed
        ? [values[0]!, ...Array.from({ length: k }, (_, j) => values[1]!.subarray((j + 1) * n, (j + 2) * n))]
        : values;
    };
    (await unpack(one)).forEach((v, j) => close(v, [cx, ...cs][j]!));
    const two = r.update!(second, one[0]!, g2, one.slice(1))!;
    cpuBackend.host.update(second, cx, g2, cs);
    (await unpack(two)).forEach((v, j) => close(v, [cx, ...cs][j]!));
    expect(Array.from(x)).toEqual(Array.from(x0));
    for (const o of [...one, ...two]) o.release(); // every kernel that read them has run: their outputs were read
  }
  expect(r.liveArrays()).toBe(liveBefore);
}

/**
 * Planar parameters [rows, D] for the constraint kernels' tests: random rows, plus the edges — a row
 * with w = 0 (no correction), one with wᵀu ≪ −1 (softplus underflows to the floor) and one with wᵀu ≫ 1.
 */
export function constraintCases(
  rand: (n: number) => ArrayLike<number>,
  rows: number,
  d: number,
): { u: Float32Array; w: Float32Array } {
  const u = Float32Array.from(rand(rows * d)),
    w = Float32Array.from(rand(rows * d));
  w.fill(0, 0, d);
  for (let j = 0; j < d; j++) {
    u[d + j] = j === 0 ? -30 : 0;
    w[d + j] = j === 0 ? 4 : 0; // wᵀu = −120
    u[2 * d + j] = j === 0 ? 30 : 0;
    w[2 * d + j] = j === 0 ? 4 : 0; // wᵀu = 120
  }
  return { u, w };
}

/**
 * Points pushed through planar layers (shared and per-sample parameters, the constraint active,
 * |wᵀz| large) and radial layers, in float32 on the CPU backend, for the device inverses' tests:
 * each case's `forward` maps the inverse's result back, to compare with `y`.
 */
export interface InverseCase {
  name: string;
  y: Tensor;
  z: Tensor;
  inverse: (y: Tensor) => Tensor;
  forward: (z: Tensor) => Tensor;
}

export function inverseCases(): InverseCase[] {
  const random = new Random(12);
  const f32 = (shape: number[], scale = 1) => ag.randn(shape, { random, dtype: "float32" }).mul(scale).detach();
  const cases = [];
  for (const perSample of [false, true]) {
    const n = 200,
      d = 3,
      shape = perSample ? [n, d] : [d],
      scalars = perSample ? [n] : [1];
    const w = f32(shape),
      u = f32(shape);
    for (const [label, uk, scale] of [
      ["", u, 1],
      [", constraint active", w.mul(-3).add(u.mul(0.1)).detach(), 1],
      [", |wᵀz| large", u, 30],
    ] as const) {
      const p = { u: uk, w, b: f32(scalars) };
      const z = f32([n, d], scale);
      cases.push({
        name: `planar, ${perSample ? "per sample" : "shared"}${label}`,
        z,
        y: planar(z, p).z,
        inverse: (y: Tensor) => planarInverse(y, p),
        forward: (x: Tensor) => planar(x, p).z,
      });
    }
    const p = { z0: f32(shape), alpha: f32(scalars), beta: f32(scalars) };
    const z = f32([n, d]).add(p.z0).detach();
    cases.push({
      name: `radial, ${perSample ? "per sample" : "shared"}`,
      z,
      y: radial(z, p).z,
      inverse: (y: Tensor) => radialInverse(y, p),
      forward: (x: Tensor) => radial(x, p).z,
    });
  }
  return cases;
}

/**
 * A device's f⁻¹(y) (`values`, read from `back`): f(f⁻¹(y)) = y to float32 accuracy whatever the
 * conditioning, and f⁻¹(y) = z where f is well conditioned (not where the constraint is active).
 */
export function expectInverseSolves(c: InverseCase, back: Tensor, values: ArrayLike<number>): void {
  const again = c.forward(new Tensor(Float32Array.from(values), back.shape)).data,
    y = c.y.toHost().data;
  for (let i = 0; i < y.length; i++)
    expect(Math.abs(again[i]! - y[i]!), `${c.name}, element ${i}`).toBeLessThanOrEqual(2e-5 * (1 + Math.abs(y[i]!)));
  if (!c.name.includes("constraint")) expectClose(values, c.z.toHost().data, 1e-5, 1e-3);
}

/** f⁻¹(y) computed with `backend` selected (back to the CPU after); it must stay on the device. */
export function inverseOnDevice(c: InverseCase, backend: Backend): Tensor {
  setBackend(backend);
  try {
    const back = c.inverse(c.y);
    expect(back.storage.onDevice, c.name).toBe(true);
    return back;
  } finally {
    setBackend("cpu");
  }
}

/**
 * A kernel with several outputs hands them out as views of one array (the planar constraint: û,
 * then the slack). Each view, read or fed to another kernel — one compiled before for a plain array
 * of that length, too — gives its own values.
 */
export async function expectViewsAsInputs(
  backend: Backend,
  read: (x: DeviceArray) => Promise<Float32Array>,
  close: (actual: ArrayLike<number>, expected: ArrayLike<number>) => void,
): Promise<void> {
  const rows = 3,
    d = 4,
    rng = new Random(13);
  const u = Float32Array.from({ length: rows * d }, () => rng.normal()),
    w = Float32Array.from({ length: rows * d }, () => rng.normal());
  const r = backend.resident!;
  const [uHat, slack] = runToHost(cpuBackend, planarConstraintKernel, [u, w], { rows, d }) as [
    Float64Array,
    Float64Array,
  ];
  const plain = r.unary("neg", Float32Array.of(1, 2, 3), 3)!; // compiles neg for a plain array of 3
  const [hu, hs] = onDevice(backend, planarConstraintKernel, [u, w], { rows, d });
  close(await read(hu!), uHat);
  close(await read(hs!), slack);
  const negSlack = r.unary("neg", hs!, rows)!,
    negPlain = r.unary("neg", plain, 3)!;
  close(
    await read(negSlack),
    Array.from(slack, (v) => -v),
  );
  close(await read(negPlain), [1, 2, 3]);
  const sum = r.binary("add", hs!, [rows, 1], hu!, [rows, d], [rows, d])!; // both views, the slack broadcast along rows
  close(
    await read(sum),
    Array.from(uHat, (v, i) => v + slack[Math.floor(i / d)]!),
  );
  for (const t of [plain, hu!, hs!, negSlack, negPlain, sum]) t.release();
  // Views at one offset in arrays of different sizes: a planar layer's log|det| for n points of 3·D,
  // and per-sample dL/db of a layer of dimension D (after dL/dz, dL/du, dL/dw): both from 3·n·D.
  const n = 5,
    D = 2,
    f = (m: number) => Float32Array.from({ length: m }, () => 0.5 * rng.normal());
  const sp = Float32Array.from({ length: n }, () => 0.5 + rng.uniform());
  const wide = [f(n * 3 * D), f(3 * D), f(3 * D), f(1), sp.subarray(0, 1)] as const;
  const [fz, fld] = onDevice(backend, planarForwardKernel, wide, { n, d: 3 * D, perSample: false });
  const narrow = [f(n * D), f(n * D), f(n * D), f(n), sp, f(n * D), f(n)] as const;
  const back = onDevice(backend, planarBackwardKernel, narrow, { n, d: D, perSample: true });
  const [, ld] = runToHost(cpuBackend, planarForwardKernel, wide, { n, d: 3 * D, perSample: false }) as [
    Float64Array,
    Float64Array,
  ];
  const gb = runToHost(cpuBackend, planarBackwardKernel, narrow, { n, d: D, perSample: true })[3]!;
  const negLd = r.unary("neg", fld!, n)!,
    negGb = r.unary("neg", back[3]!, n)!;
  close(
    await read(negLd),
    Array.from(ld, (v) => -v),
  );
  close(
    await read(negGb),
    Array.from(gb, (v) => -v),
  );
  for (const t of [fz!, fld!, ...back, negLd, negGb]) t.release();
}

/**
 * Matrices whose log|det| is known exactly: A = P·L·U with L unit lower triangular, U upper
 * triangular with |U_kk| in [0.5, 2] and P a random row order (so partial pivoting has to swap),
 * log|det A| = Σ log|U_kk|. Entries are multiples of 1/8, so A's (multiples of 1/64) are exact in
 * float32 too: a float32 LU is checked against the true value, not against another rounding. Then
 * one that needs a swap at once (A₀₀ = 0, det 7) and a singular one.
 */
export function knownDeterminants(random: Random, n: number, d: number): { a: Float32Array; logAbsDet: number[] } {
  const a = new Float32Array((n + 2) * d * d),
    logAbsDet: number[] = [];
  const eighths = (lo: number, hi: number) => Math.round((lo + (hi - lo) * random.uniform()) * 8) / 8;
  for (let p = 0; p < n; p++) {
    const L = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d }, (_, j) => (j < i ? eighths(-0.5, 0.5) : j === i ? 1 : 0)),
    );
    const U = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d }, (_, j) =>
        j > i ? eighths(-1, 1) : j === i ? (random.uniform() < 0.5 ? -1 : 1) * eighths(0.5, 2) : 0,
      ),
    );
    const order = Array.from({ length: d }, (_, i) => i).sort(() => random.uniform() - 0.5);
    order.forEach((from, i) => {
      for (let j = 0; j < d; j++) a[(p * d + i) * d + j] = L[from]!.reduce((s, l, k) => s + l * U[k]![j]!, 0);
    });
    logAbsDet.push(U.reduce((s, row, k) => s + Math.log(Math.abs(row[k]!)), 0));
  }
  // [[0, 2, 1], [1, 0, 0], [3, 1, 4]] (det 7) and a rank-1 matrix, in the top-left 3×3 of identities.
  const special = (p: number, m: number[][], value: number) => {
    for (let i = 0; i < d; i++) a[(p * d + i) * d + i] = 1;
    m.forEach((row, i) => row.forEach((v, j) => (a[(p * d + i) * d + j] = v)));
    logAbsDet.push(value);
  };
  if (d >= 3) {
    special(
      n,
      [
        [0, 2, 1],
        [1, 0, 0],
        [3, 1, 4],
      ],
      Math.log(7),
    );
    special(
      n + 1,
      [
        [1, 2, 3],
        [2, 4, 6],
        [1, 2, 3],
      ],
      -Infinity,
    );
  } else {
    special(
      n,
      [
        [0, 2],
        [3, 1],
      ]
        .slice(0, d)
        .map((r) => r.slice(0, d)),
      d === 2 ? Math.log(6) : -Infinity,
    );
    special(
      n + 1,
      [
        [1, 2],
        [2, 4],
      ]
        .slice(0, d)
        .map((r) => r.slice(0, d)),
      d === 2 ? -Infinity : 0,
    );
  }
  return { a, logAbsDet };
}

/** log|det| from a float32 LU within d²·2⁻²⁰ of the exact value (−Infinity exactly): rounding grows with the d steps and d terms. */
export function expectLogAbsDets(actual: ArrayLike<number>, expected: number[], d: number): void {
  expected.forEach((e, i) => {
    const a = actual[i]!;
    if (e === -Infinity) expect(a, `matrix ${i} is singular`).toBe(-Infinity);
    else if (!(Math.abs(a - e) <= d * d * 2 ** -20))
      throw new Error(`matrix ${i} (d = ${d}): log|det| ${a}, exactly ${e}`);
  });
}

/** Three planar layers in D = 6 and five points, with their analytic log-det (CPU, float64): what the general-Jacobian baseline must reproduce. */
export function jacobianCase(): { f: (x: Tensor) => Tensor; z: Tensor; analytic: ArrayLike<number> } {
  const random = new Random(9);
  const flow = new Sequential([0, 1, 2].map(() => new PlanarFlow(6, { random })));
  const z = ag.randn([5, 6], { random });
  return { f: (x) => flow.forward(x).z, z, analytic: ag.noGrad(() => flow.forward(z).logAbsDet).data };
}

/**
 * A scalar function of points x [8, 2] for second-derivative tests on every backend: fused planar
 * and radial layers, a matmul with tanh, logsumexp over two modes, and a slice, an indexSelect and
 * a split (whose adjoints are ops of their own in a createGraph pass). Its hvp and jvp, computed with
 * the backend selected, are compared with the CPU's in float64.
 */
export function secondOrderCase(dtype: ag.DType): { f: (x: Tensor) => Tensor; x: Tensor; v: Tensor } {
  const random = new Random(21);
  const t = (shape: number[], scale = 1) =>
    ag
      .tensor(
        Array.from(ag.randn(shape, { random }).data, (a) => scale * a),
        { dtype },
      )
      .reshape(shape);
  const planarP = { u: t([2], 0.5), w: t([2]), b: t([1], 0.3) };
  const radialP = { z0: t([2], 0.5), alpha: t([1]), beta: t([1]) };
  const W = t([2, 3], 0.7),
    centers = ag.tensor([[[1.5, 0]], [[-1.5, 0]]], { dtype });
  const x = t([8, 2]),
    v = t([8, 2]);
  const f = (z: Tensor): Tensor => {
    const p = planar(z, planarP),
      r = radial(p.z, radialP);
    const logp = ag.logsumexp(r.z.unsqueeze(0).sub(centers).square().sum(2).mul(-0.5), 0);
    const hidden = r.z.matmul(W).tanh().square().sum(1);
    const [head] = ag.split(r.z.slice([0, 0], [8, 1]).reshape([8]).indexSelect(0, [0, 3, 3, 7, 5, 1]), [4, 2]);
    return p.logAbsDet.add(r.logAbsDet).sub(logp).add(hidden.mul(0.1)).sum().add(head!.square().sum().mul(0.05));
  };
  return { f, x, v };
}

/**
 * ∇²f(x) v the PyTorch way: an ordinary forward (the fused flow kernels run), backward with
 * createGraph (their composed references recomputed in the rules), then backward through x.grad.
 * hvp() records the composed references in the forward instead; both must agree.
 */
export function hvpByBackward(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  const leaf = new Tensor(x.storage, x.shape, true);
  f(leaf).backward(undefined, { createGraph: true });
  const g = leaf.grad!;
  leaf.grad = null;
  g.mul(v).sum().backward();
  g.storage.free("hvpByBackward used it up"); // backward() kept it past any tidy(), as it keeps every x.grad
  return leaf.grad!;
}

/** hvp (both ways) and jvp of secondOrderCase on the CPU backend, in float64: what every backend must reproduce. */
export function secondOrderReference(): { hvp: Float64Array; jvp: number } {
  const { f, x, v } = secondOrderCase("float64");
  const hv = ag.hvp(f, x, v).data as Float64Array;
  expectClose(hvpByBackward(f, x, v).data, hv, 1e-10, 1e-10);
  const jv = ag.jvp(f, x, v).item();
  return { hvp: hv, jvp: jv };
}

/** A double as an exact m·2^e (BigInt mantissa), from its bits. */
function exactParts(x: number): [bigint, number] {
  if (x === 0) return [0n, 0];
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn),
    fraction = bits & ((1n << 52n) - 1n);
  const m = exponent === 0 ? fraction : fraction | (1n << 52n);
  return [x < 0 ? -m : m, (exponent === 0 ? 1 : exponent) - 1075];
}

/**
 * 1 + Σ x_j y_j of doubles in exact rational arithmetic (BigInt), rounded once at the end: an
 * independent yardstick for what the planar map's 1 + wᵀû really is.
 */
export function exactOnePlusDot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const terms: Array<[bigint, number]> = [[1n, 0]];
  for (let j = 0; j < x.length; j++) {
    const [a, ea] = exactParts(x[j]!),
      [b, eb] = exactParts(y[j]!);
    terms.push([a * b, ea + eb]);
  }
  const low = Math.min(...terms.map(([, e]) => e));
  const total = terms.reduce((s, [m, e]) => s + (m << BigInt(e - low)), 0n);
  // Scale into range before converting: keep the top 64 bits, then multiply by the power of 2.
  const magnitude = total < 0n ? -total : total;
  const shift = Math.max(0, magnitude.toString(2).length - 64);
  return Number(total >> BigInt(shift)) * 2 ** (shift + low);
}

/**
 * Inputs whose float32 sums are exact in any order: nonzero integers in [−8, 8] (partial sums stay
 * far below 2²⁴). A device's sum of them must equal the exact sum, so dropping or double-counting
 * any one element is caught (a rounding bound for random floats is too loose to catch that).
 */
export function exactlySummable(rng: Random, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => (1 + Math.floor(rng.uniform() * 8)) * (rng.uniform() < 0.5 ? -1 : 1));
}

/** Values drawn from a few, so that comparisons meet ties (a test on distinct random floats passes a constant eq). */
export function withTies(rng: Random, n: number): Float64Array {
  const values = [-1, -0.5, 0.5, 1, 1.5];
  return Float64Array.from({ length: n }, () => values[Math.floor(rng.uniform() * values.length)]!);
}

export const COMPARISONS = {
  eq: (a: number, b: number) => a === b,
  ne: (a: number, b: number) => a !== b,
  gt: (a: number, b: number) => a > b,
  ge: (a: number, b: number) => a >= b,
  lt: (a: number, b: number) => a < b,
  le: (a: number, b: number) => a <= b,
} as const;

/** Throw unless out is the comparison `op` of a and b broadcast to `shape`, from its definition (1 or 0), element by element. */
export function expectComparison(
  op: keyof typeof COMPARISONS,
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  out: ArrayLike<number>,
  shape: number[],
): void {
  const at = (values: ArrayLike<number>, own: number[], index: number[]): number => {
    const lead = shape.length - own.length;
    let flat = 0;
    own.forEach((d, k) => (flat = flat * d + (d === 1 ? 0 : index[lead + k]!)));
    return values[flat]!;
  };
  const n = shape.reduce((p, d) => p * d, 1);
  for (let i = 0; i < n; i++) {
    const index: number[] = [];
    let rest = i;
    for (let k = shape.length - 1; k >= 0; k--) {
      index[k] = rest % shape[k]!;
      rest = Math.floor(rest / shape[k]!);
    }
    const x = at(a, aShape, index),
      y = at(b, bShape, index),
      want = COMPARISONS[op](x, y) ? 1 : 0;
    if (out[i] !== want) throw new Error(`${op}(${x}, ${y}) at flat index ${i}: got ${out[i]}, expected ${want}`);
  }
}

/**
 * Throw unless a device's reduction `actual` of x viewed as [outer, size, inner] matches the CPU's
 * `reference`: exactly for max and min, and for sums of exactlySummable inputs; otherwise within
 * the float32 rounding bound size·2⁻²⁴·Σ|x| of each reduced slice.
 */
export function expectReduced(
  op: "sum" | "max" | "min",
  x: ArrayLike<number>,
  _outer: number, // the layout's third number, implied by reference.length
  size: number,
  inner: number,
  actual: ArrayLike<number>,
  reference: ArrayLike<number>,
  exact: boolean,
): void {
  for (let i = 0; i < reference.length; i++) {
    let abs = 0;
    for (let k = 0; k < size; k++) abs += Math.abs(x[(Math.floor(i / inner) * size + k) * inner + (i % inner)]!);
    const bound = exact || op !== "sum" ? 0 : size * 2 ** -24 * abs;
    if (!(Math.abs(actual[i]! - reference[i]!) <= bound))
      throw new Error(`${op} ${i}: device ${actual[i]}, CPU ${reference[i]} (bound ${bound})`);
  }
}

/**
 * The built `flowgrad` command for a describe block: builds dist/ before its tests, runs the
 * command in a temporary folder of its own (removed afterwards), and returns spawnSync's result.
 */
export function cliHarness(prefix: string): {
  cli: string;
  tmp: string;
  run: (...args: string[]) => SpawnSyncReturns<string>;
} {
  const root = path.resolve(import.meta.dirname, "..");
  const cli = path.join(root, "dist/src/cli/main.js");
  const tmp = mkdtempSync(path.join(os.tmpdir(), prefix));
  beforeAll(() => {
    execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: root, stdio: "ignore" });
  }, 120_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  return { cli, tmp, run: (...args) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", cwd: tmp }) };
}

/**
 * Make WebAssembly look like a runtime without SIMD: compiling any module throws the CompileError
 * such a runtime gives (undo with vi.unstubAllGlobals; import the kernels afresh after vi.resetModules).
 */
export function stubRuntimeWithoutSimd(): void {
  const real = WebAssembly;
  class NoSimdModule {
    constructor() {
      throw new real.CompileError("WebAssembly.Module(): invalid simd opcode");
    }
  }
  vi.stubGlobal("WebAssembly", { ...real, Module: NoSimdModule, CompileError: real.CompileError });
}

/** Where an RGBA image has exactly this colour: the [x, y] of every such pixel, row by row. */
export function inkAt(
  image: { width: number; data: Uint8Array | Uint8ClampedArray },
  rgb: readonly number[],
): Array<[number, number]> {
  const at: Array<[number, number]> = [];
  for (let p = 0; p < image.data.length; p += 4)
    if (image.data[p] === rgb[0] && image.data[p + 1] === rgb[1] && image.data[p + 2] === rgb[2])
      at.push([(p / 4) % image.width, Math.floor(p / 4 / image.width)]);
  return at;
}
