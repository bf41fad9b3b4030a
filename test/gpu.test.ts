import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import * as ag from "../src/autograd/index.js";
import {
  jacobian,
  logAbsDet,
  planar,
  planarBackwardKernel,
  planarConstraintBackwardKernel,
  planarConstraintKernel,
  planarForwardKernel,
  radialBackwardKernel,
  radialForwardKernel,
} from "../src/flows/index.js";
import { createGpuBackend, type GpuBackend } from "../src/kernels/gpu/backend.js";
import { KERNEL_CACHE_SIZE } from "../src/kernels/gpu/kernel-cache.js";
import type { GpuMode } from "../src/kernels/gpu/load.js";
import {
  BINARY,
  type BinaryOp,
  backendInfo,
  cpuBackend,
  DEFAULT_GPU_THRESHOLDS,
  initBackend,
  loadedGpuBackend,
  machineKey,
  setBackend,
  UNARY,
  type UnaryOp,
  withCalibration,
} from "../src/kernels/index.js";
import {
  COMPARISONS,
  constraintCases,
  exactlySummable,
  expectComparison,
  expectDeviceUpdatesMatch,
  expectGradcheck,
  expectInverseSolves,
  expectLogAbsDets,
  expectReduced,
  expectSmallKernelCacheSteps,
  expectViewsAsInputs,
  flowDensityStep,
  hvpByBackward,
  inverseCases,
  inverseOnDevice,
  jacobianCase,
  knownDeterminants,
  onDevice,
  runToHost,
  secondOrderCase,
  secondOrderReference,
  tinyRegression,
  UPDATE_RULES,
  vaeSteps,
  withTies,
} from "./helpers.js";

// Every GPU kernel against the CPU fallback, in every gpu.js mode this machine can run. A mode that
// cannot run here is listed as skipped with its reason (never silently passed).
const modes: GpuMode[] = ["headlessgl", "webasm", "cpu"];
const loaded = new Map<GpuMode, GpuBackend | string>();
for (const mode of modes) {
  try {
    loaded.set(mode, await createGpuBackend(mode));
  } catch (error) {
    loaded.set(mode, (error as Error).message);
  }
}
afterAll(() => {
  setBackend("cpu");
  for (const b of loaded.values()) if (typeof b !== "string") b.dispose();
});

const rng = new ag.Random(77);
const rand = (n: number, lo = -2, hi = 2) => Float64Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
/** float32 tolerance: relative 1e-5 of the value, plus an absolute floor for values near 0 */
function expectFloat32Close(actual: ArrayLike<number>, expected: ArrayLike<number>, scale = 1): void {
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (Number.isNaN(e)) expect(a, `element ${i}`).toBeNaN();
    else if (!(Math.abs(a - e) <= 1e-5 * Math.abs(e) + 1e-6 * scale))
      throw new Error(`element ${i}: GPU ${a}, CPU ${e}`);
  }
}

// A condition the CI sets when it installed headless-gl and an X display: then falling back is a failure.
const expected = process.env.FLOWGRAD_EXPECT_GPU_MODE as GpuMode | undefined;
if (expected) {
  it(`CI asked for gpu.js ${expected}: it loads and runs, no silent fallback`, () => {
    const b = loaded.get(expected);
    expect(typeof b === "string" ? b : b!.info.gpuMode).toBe(expected);
  });
}

for (const mode of modes) {
  const backend = loaded.get(mode)!;
  if (typeof backend === "string") {
    describe(`gpu.js ${mode} mode`, () => {
      it.skip(`not available on this machine: ${backend}`, () => {});
    });
    continue;
  }
  describe(`gpu.js ${mode} mode (${backend.info.kernelClass}) against the CPU backend`, () => {
    it("reports the mode and kernel class that ran", () => {
      expect(backend.info.gpuMode).toBe(mode);
      expect(backend.info.kernelClass).toMatch(/Kernel$/);
    });
    it("tanh, sigmoid and softplus of large arguments (|x| up to 100) stay finite and match the CPU", () => {
      const x = Float64Array.from([100, -100, 50, -50, 44.5, 20, -9.5, 0.5]);
      for (const op of ["tanh", "sigmoid", "softplus"] as const) {
        const g = new Float64Array(x.length),
          c = new Float64Array(x.length);
        backend.host.unary(op, x, g);
        cpuBackend.host.unary(op, x, c);
        expectFloat32Close(g, c, 100);
      }
    });
    it("every unary op", () => {
      const x = rand(5000, 0.05, 3); // in every op's domain (log, sqrt, reciprocal)
      for (const op of Object.keys(UNARY) as UnaryOp[]) {
        const g = new Float64Array(x.length),
          c = new Float64Array(x.length);
        backend.host.unary(op, x, g);
        cpuBackend.host.unary(op, Float64Array.from(Float32Array.from(x)), c); // the same float32 inputs
        expectFloat32Close(g, c);
      }
    });
    it("every binary op, with broadcasting, over more than one output row (W = 4096)", () => {
      const cases: Array<[number[], number[]]> = [
        [
          [100, 70],
          [100, 70],
        ],
        [[100, 70], [70]],
        [
          [3, 1, 5],
          [4, 1],
        ],
        [[], [9000]],
        [
          [2, 3, 4, 5],
          [3, 1, 5],
        ],
      ];
      for (const op of Object.keys(BINARY) as BinaryOp[]) {
        for (const [as, bs] of cases) {
          const shape = ag.broadcastShapes("test", as, bs);
          const a = Float64Array.from(
            Float32Array.from(
              rand(
                as.reduce((p, d) => p * d, 1),
                0.5,
                2,
              ),
            ),
          );
          const b = Float64Array.from(
            Float32Array.from(
              rand(
                bs.reduce((p, d) => p * d, 1),
                0.5,
                2,
              ),
            ),
          );
          const n = shape.reduce((p, d) => p * d, 1);
          const g = new Float64Array(n),
            c = new Float64Array(n);
          backend.host.binary(op, a, as, b, bs, g, shape);
          cpuBackend.host.binary(op, a, as, b, bs, c, shape);
          expectFloat32Close(g, c, 4);
        }
      }
    });
    it("reductions: exact on integer inputs (every element counted once), and within n·2⁻²⁴·Σ|x| on random floats", () => {
      for (const [outer, size, inner] of [
        [1, 5000, 1],
        [30, 17, 40],
        [7, 300, 3],
      ]) {
        for (const exact of [true, false]) {
          const x = exact
            ? exactlySummable(rng, outer * size * inner)
            : Float64Array.from(Float32Array.from(rand(outer * size * inner)));
          for (const op of ["sum", "max", "min"] as const) {
            const g = new Float64Array(outer * inner),
              c = new Float64Array(outer * inner);
            backend.host.reduce(op, x, outer, size, inner, g);
            cpuBackend.host.reduce(op, x, outer, size, inner, c);
            expectReduced(op, x, outer, size, inner, g, c, exact);
          }
        }
      }
    });
    it("comparisons on inputs with ties match their definitions (eq, ne, gt, ge, lt, le), with broadcasting", () => {
      for (const [as, bs] of [
        [
          [100, 70],
          [100, 70],
        ],
        [[100, 70], [70]],
        [
          [3, 1, 5],
          [4, 1],
        ],
      ] as Array<[number[], number[]]>) {
        const shape = ag.broadcastShapes("test", as, bs),
          n = shape.reduce((p, d) => p * d, 1);
        const a = withTies(
            rng,
            as.reduce((p, d) => p * d, 1),
          ),
          b = withTies(
            rng,
            bs.reduce((p, d) => p * d, 1),
          );
        for (const op of Object.keys(COMPARISONS) as Array<keyof typeof COMPARISONS>) {
          const g = new Float64Array(n);
          backend.host.binary(op, a, as, b, bs, g, shape);
          expectComparison(op, a, as, b, bs, g, shape);
        }
      }
    });
    it("matmul: plain, transposed and batched (error bound k·2⁻²⁴·Σ|a||b|)", () => {
      for (const [m, k, n, batch] of [
        [17, 33, 9, 1],
        [64, 64, 64, 2],
        [5, 1200, 3, 1],
      ]) {
        for (const [ta, tb] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          const a = Float64Array.from(Float32Array.from(rand(batch * m * k))),
            b = Float64Array.from(Float32Array.from(rand(batch * k * n)));
          const ao = Int32Array.from({ length: batch }, (_, t) => t * m * k),
            bo = Int32Array.from({ length: batch }, (_, t) => t * k * n);
          const g = new Float64Array(batch * m * n),
            c = new Float64Array(batch * m * n);
          backend.host.matmul(a, ao, b, bo, g, m, k, n, ta, tb);
          cpuBackend.host.matmul(a, ao, b, bo, c, m, k, n, ta, tb);
          const bound = k * 2 ** -24 * 4 * k;
          for (let i = 0; i < c.length; i++) expect(Math.abs(g[i]! - c[i]!)).toBeLessThanOrEqual(bound);
        }
      }
    });
    it("the fused planar and radial layers, forward and backward, shared and per-sample parameters", () => {
      for (const [n, d, perSample] of [
        [300, 2, false],
        [50, 5, true],
        [7000, 1, false],
        [40, 3, true],
      ] as const) {
        const f32 = (m: number, lo = -1.5, hi = 1.5) => Float64Array.from(Float32Array.from(rand(m, lo, hi)));
        const pn = perSample ? n : 1;
        const z = f32(n * d),
          u = f32(pn * d),
          w = f32(pn * d),
          b = f32(pn),
          sp = f32(pn, 0.1, 3);
        const z0 = f32(pn * d),
          al = f32(pn, 0.1, 2),
          ab = f32(pn, 0.1, 2);
        for (const layer of ["planar", "radial"] as const) {
          const g = new Float64Array(n * d),
            c = new Float64Array(n * d),
            gl = new Float64Array(n),
            cl = new Float64Array(n);
          const args = { n, d, perSample };
          const [fwd, bwd, params] =
            layer === "planar"
              ? [planarForwardKernel, planarBackwardKernel, [z, u, w, b, sp]]
              : [radialForwardKernel, radialBackwardKernel, [z, z0, al, ab]];
          [g, gl].forEach((x, k) => x.set(runToHost(backend, fwd, params, args)[k]!));
          [c, cl].forEach((x, k) => x.set(runToHost(cpuBackend, fwd, params, args)[k]!));
          expectFloat32Close(g, c, 4);
          expectFloat32Close(gl, cl, 10); // logs of sums: absolute error ~1e-6 of their terms
          // Backward, with both output gradients, then with only one of them.
          for (const [gOut, gLd] of [
            [f32(n * d), f32(n)],
            [f32(n * d), null],
            [null, f32(n)],
          ] as const) {
            const gg = runToHost(backend, bwd, [...params, gOut, gLd], args),
              cg = runToHost(cpuBackend, bwd, [...params, gOut, gLd], args);
            expect(gg.map((x) => x.length)).toEqual(
              layer === "planar" ? [n * d, pn * d, pn * d, pn, pn] : [n * d, pn * d, pn, pn],
            );
            gg.forEach((x, k) => expectFloat32Close(x, cg[k]!, 20));
          }
        }
      }
    });
    it("the planar layer where |wᵀz + b| is large (tanh saturates): finite, and as the CPU computes it", () => {
      const n = 64,
        d = 2,
        z = Float64Array.from(Float32Array.from(rand(n * d, -60, 60)));
      const u = Float64Array.of(0.7, -0.4),
        w = Float64Array.of(1.5, 0.8),
        b = Float64Array.of(0.3),
        sp = Float64Array.of(1.2);
      const args = { n, d, perSample: false },
        params = [z, u, w, b, sp];
      const [g, gl] = runToHost(backend, planarForwardKernel, params, args),
        [c, cl] = runToHost(cpuBackend, planarForwardKernel, params, args);
      expectFloat32Close(g!, c!, 100);
      expectFloat32Close(gl!, cl!, 10);
      const gOut = Float64Array.from(Float32Array.from(rand(n * d))),
        gLd = Float64Array.from(Float32Array.from(rand(n)));
      const gg = runToHost(backend, planarBackwardKernel, [...params, gOut, gLd], args),
        cg = runToHost(cpuBackend, planarBackwardKernel, [...params, gOut, gLd], args);
      gg.forEach((x, k) => expectFloat32Close(x, cg[k]!, 1000));
    });
    it("the baseline's LU log-det: matrices of known determinant (pivoting, a zero first pivot, a singular one), on host arrays and on the device", () => {
      const local = new ag.Random(21);
      for (const d of [1, 2, 3, 8, 33]) {
        const { a, logAbsDet } = knownDeterminants(local, 4, d);
        const out = new Float64Array(logAbsDet.length);
        backend.host.logAbsDet(a, logAbsDet.length, d, out);
        expectLogAbsDets(out, logAbsDet, d);
        const device = backend.resident?.logAbsDet?.(a, logAbsDet.length, d);
        if (backend.resident) expect(device).toBeTruthy();
        if (device) {
          expectLogAbsDets(device.read(), logAbsDet, d);
          device.release();
        }
      }
      expect(backend.kernelLaunchesByKind()).toMatchObject({
        "lu-start": expect.any(Number),
        "lu-step": expect.any(Number),
        "lu-last": expect.any(Number),
      });
    });
    it("the general-Jacobian baseline with this backend selected: log|det J| of planar layers is their analytic log-det", () => {
      const { f, z, analytic } = jacobianCase();
      setBackend(backend);
      try {
        const before = backend.liveTextures();
        const ld = ag.tidy(() => {
          const J = jacobian(f, z);
          expect(J.shape).toEqual([5, 6, 6]);
          expect(J.storage.onDevice).toBe(!!backend.resident); // the rows stacked where they were computed
          return logAbsDet(J);
        });
        expect(ld.storage.onDevice).toBe(!!backend.resident);
        expectFloat32Close(ld.toHost().data, analytic, 10);
        expect(backend.liveTextures()).toBe(before); // read, and nothing else left
        if (backend.resident) {
          // concat of m pieces joins halves: each intermediate freed, one array left for the result.
          const pieces = [1, 2, 3, 4, 5].map((k) => ag.full([2, 3], k).exp());
          const live = backend.liveTextures();
          const joined = ag.concat(pieces, 1);
          expect(backend.liveTextures() - live).toBe(1);
          expectFloat32Close(
            joined.toHost().data,
            Array.from({ length: 2 }, () => [1, 2, 3, 4, 5].flatMap((k) => [k, k, k].map(Math.exp))).flat(),
            200,
          );
          pieces.forEach((p) => p.storage.free());
        }
      } finally {
        setBackend("cpu");
      }
    });
    it("gradient checks of the autograd pass with this backend selected (float32 tolerance)", () => {
      setBackend(backend);
      try {
        const local = new ag.Random(5); // the same inputs whichever modes ran before
        const T = (shape: number[]) =>
          new ag.Tensor(
            Float64Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => Math.fround(local.uniform() * 4 - 2)),
            shape,
          );
        const opts = { eps: 1e-2, rtol: 2e-3, atol: 2e-4 };
        expectGradcheck((x, w) => x.matmul(w).tanh().sum(1), [T([6, 5]), T([5, 4])], opts);
        expectGradcheck((x, y) => x.mul(y).add(x.exp()).logsumexp(1), [T([4, 3]), T([3])], opts);
        // Smooth functions only: a finite difference of 1e-2 can jump across a kink of max or relu.
        expectGradcheck((x) => x.softplus().sub(x.sigmoid()).mul(x).sum(0), [T([5, 4])], opts);
        // A flow layer whose forward runs on this backend and whose backward runs on the CPU.
        const layer = (z: ag.Tensor, u: ag.Tensor, w: ag.Tensor) => {
          const o = planar(z, { u, w, b: ag.tensor([0.2]) });
          return o.z.sum(1).add(o.logAbsDet);
        };
        expectGradcheck(layer, [T([6, 3]), T([3]), T([3])], opts);
      } finally {
        setBackend("cpu");
      }
    });
    it("second derivatives with this backend selected (hvp and jvp through fused flow layers, matmul, logsumexp, slice, indexSelect, split) match the CPU's float64", () => {
      const reference = secondOrderReference();
      setBackend(backend);
      try {
        const { f, x, v } = secondOrderCase("float32");
        const before = backend.liveTextures();
        const [hv, jv, byBackwardTensor] = ag.tidy(() => [ag.hvp(f, x, v), ag.jvp(f, x, v), hvpByBackward(f, x, v)]);
        if (backend.resident) expect(hv.storage.onDevice).toBe(true);
        expect(backend.liveTextures() - before).toBe(backend.resident ? 3 : 0); // the graphs' textures went with the scope
        const scale = Math.max(...Array.from(reference.hvp, Math.abs));
        const values = hv.toHost().data;
        reference.hvp.forEach((e, i) =>
          expect(Math.abs(values[i]! - e), `hvp element ${i}: ${values[i]} vs ${e}`).toBeLessThanOrEqual(
            2e-4 * Math.abs(e) + 2e-4 * scale,
          ),
        );
        expect(Math.abs(jv.item() - reference.jvp)).toBeLessThanOrEqual(2e-4 * (1 + Math.abs(reference.jvp)));
        const byBackward = byBackwardTensor.toHost().data; // the fused kernels' forward, their createGraph rules
        reference.hvp.forEach((e, i) =>
          expect(Math.abs(byBackward[i]! - e), `hvp by backward, element ${i}`).toBeLessThanOrEqual(
            2e-4 * Math.abs(e) + 2e-4 * scale,
          ),
        );
      } finally {
        setBackend("cpu");
      }
    });
    if (!backend.resident) {
      it(`has no device-resident tensors in ${mode} mode (gpu.js pipeline textures need GL): every op reads back`, () => {
        expect(["webasm", "cpu"]).toContain(mode);
        setBackend(backend);
        try {
          expect(ag.tensor([1, 2]).exp().storage.onDevice).toBe(false);
        } finally {
          setBackend("cpu");
        }
      });
    } else {
      it("tensors stay on the GPU between ops (textures), and come back only when read", () => {
        const local = new ag.Random(8);
        const x = ag.randn([50, 30], { random: local }),
          w = ag.randn([30, 20], { random: local });
        const expected = x.matmul(w).tanh().mul(x.matmul(w)).sum(1).data;
        setBackend(backend);
        try {
          const before = backend.liveTextures();
          const h = x.matmul(w);
          const y = h.tanh().mul(h).sum(1);
          expect(h.storage.onDevice && y.storage.onDevice).toBe(true);
          expect(backend.liveTextures() - before).toBe(4); // matmul, tanh, mul, sum
          expectFloat32Close(y.toHost().data, expected, 30);
          expect(y.storage.onDevice).toBe(false);
          expect(backend.liveTextures() - before).toBe(3);
        } finally {
          setBackend("cpu");
        }
      });
      it("gathers and their scatter-add adjoint on textures match the CPU backend", () => {
        const r = backend.resident!;
        const rows = Float32Array.from(rand(3 * 7 * 4)),
          idx = Int32Array.from([6, 0, 6, 2, 5]);
        const picked = new Float32Array(3 * 5 * 4),
          back = new Float32Array(3 * 7 * 4);
        cpuBackend.host.gather(rows, 3, 7, 4, idx, picked);
        cpuBackend.host.scatterAdd(picked, 3, 7, 4, idx, back);
        const g = r.gather!(rows, 3, 7, 4, idx)!,
          s = r.scatterAdd!(g, 3, 7, 4, idx)!; // the second takes the first's texture
        expect(Array.from(g.read())).toEqual(Array.from(picked));
        expectFloat32Close(s.read(), back);
        g.release();
        s.release();
      });
      it("the planar constraint and its backward on textures match the CPU backend (w = 0, wᵀu ≪ −1 and ≫ 1 included)", () => {
        for (const [rows, d] of [
          [1, 2],
          [40, 3],
          [300, 5],
        ] as const) {
          const { u, w } = constraintCases(rand, Math.max(rows, 3), d);
          const n = Math.max(rows, 3);
          const gUHat = Float32Array.from(rand(n * d)),
            gSlack = Float32Array.from(rand(n));
          const args = { rows: n, d };
          const [uHat, slack] = runToHost(cpuBackend, planarConstraintKernel, [u, w], args);
          const [gu, gw] = runToHost(cpuBackend, planarConstraintBackwardKernel, [u, w, gUHat, gSlack], args);
          const [du, ds] = onDevice(backend, planarConstraintKernel, [u, w], args);
          expectFloat32Close(du!.read(), uHat!, 40);
          expectFloat32Close(ds!.read(), slack!, 10);
          const [dgu, dgw] = onDevice(backend, planarConstraintBackwardKernel, [u, w, gUHat, gSlack], args);
          expectFloat32Close(dgu!.read(), gu!, 40);
          expectFloat32Close(dgw!.read(), gw!, 40);
          for (const x of [du, ds, dgu, dgw]) x.release();
        }
      });
      it("the fused layers' backward on textures: a shared parameter's gradient summed over n points in its kernel (n above gpu.js's 1000-iteration cap on argument-bound loops)", () => {
        for (const [n, d] of [
          [7000, 1],
          [300, 3],
        ] as const) {
          const f = (m: number, lo = -1.5, hi = 1.5) => Float32Array.from(rand(m, lo, hi));
          const z = f(n * d),
            u = f(d),
            w = f(d),
            bb = f(1),
            sp = f(1, 0.1, 3),
            z0 = f(d),
            al = f(1, 0.1, 2),
            ab = f(1, 0.1, 2),
            gOut = f(n * d),
            gLd = f(n);
          for (const layer of ["planar", "radial"] as const) {
            const args = { n, d, perSample: false };
            const [kernel, inputs] =
              layer === "planar"
                ? [planarBackwardKernel, [z, u, w, bb, sp, gOut, gLd]]
                : [radialBackwardKernel, [z, z0, al, ab, gOut, gLd]];
            const cg = runToHost(cpuBackend, kernel, inputs, args);
            const grads = onDevice(backend, kernel, inputs, args);
            // A sum of n float32 shares: error up to n·2⁻²⁴ of their sizes.
            grads.forEach((t, k) => expectFloat32Close(t.read(), cg[k]!, k === 0 ? 20 : 20 * n));
            for (const t of grads) t.release();
          }
        }
      });
      it("planar and radial inverses on textures solve f(z) = y as the CPU's do", () => {
        for (const c of inverseCases()) {
          const back = inverseOnDevice(c, backend);
          expectInverseSolves(c, back, back.toHost().data);
        }
      });
      it("a kernel's several outputs are views of one texture, read right alone and as inputs to other kernels", async () => {
        await expectViewsAsInputs(
          backend,
          (x) => x.readAsync(),
          (a, e) => expectFloat32Close(a, e, 10),
        );
      });
      it("optimizer updates (SGD with momentum, Adam, RMSprop) on textures: two steps match the CPU backend's, one kernel each, nothing left behind", async () => {
        const launches = backend.kernelLaunches();
        await expectDeviceUpdatesMatch(
          backend.resident!,
          (x) => x.readAsync(),
          (a, e) => expectFloat32Close(a, e, 10),
        );
        expect(backend.kernelLaunches() - launches).toBe(2 * UPDATE_RULES.length);
      });
      it("a planar layer costs 9 launches per training step on textures (a regression guard for the step's launch count)", () => {
        // Per layer: the constraint, the layer, adding its log|det|; backward: the layer's (dL/dz and
        // the shared gradients), the constraint's, w's two terms added; Adam: one per parameter (u, w, b).
        const launchesPerStep = (K: number): number => {
          setBackend(backend);
          try {
            const random = new ag.Random(4);
            const f32 = (n: number) => ag.randn([n], { random, dtype: "float32" }).requireGrad();
            const layers = Array.from({ length: K }, () => ({ u: f32(2), w: f32(2), b: f32(1) }));
            const opt = new ag.Adam(
              layers.flatMap((p) => [p.u, p.w, p.b]),
              { lr: 1e-3 },
            );
            const z0 = ag.randn([200, 2], { random, dtype: "float32" }).mul(1); // on the device
            const step = () =>
              ag.tidy(() => {
                opt.zeroGrad();
                let z = z0,
                  sumLogDet: ag.Tensor | null = null;
                for (const p of layers) {
                  const o = planar(z, p);
                  z = o.z;
                  sumLogDet = sumLogDet ? sumLogDet.add(o.logAbsDet) : o.logAbsDet;
                }
                const loss = sumLogDet!.sub(ag.sum(z.square(), 1).mul(0.5)).neg().mean();
                loss.backward();
                return loss;
              });
            step().item();
            opt.step(); // parameters and state on the device from here
            const before = backend.kernelLaunches();
            step().item();
            opt.step();
            return backend.kernelLaunches() - before;
          } finally {
            setBackend("cpu");
          }
        };
        expect(launchesPerStep(8) - launchesPerStep(4)).toBe(4 * 9);
      });
      it("a planar/radial flow density step (flow kernels, copies, where, logsumexp) keeps outputs and gradients in textures and matches the CPU", () => {
        const cpu = flowDensityStep();
        setBackend(backend);
        try {
          const gpu = flowDensityStep();
          expect(gpu.loss.storage.onDevice && gpu.params.every((p) => p.grad!.storage.onDevice)).toBe(true);
          expectFloat32Close(gpu.loss.toHost().data, cpu.loss.toHost().data, 100);
          gpu.params.forEach((p, i) => expectFloat32Close(p.grad!.toHost().data, cpu.params[i]!.grad!.data, 100));
        } finally {
          setBackend("cpu");
        }
      });
      it("300 training steps in tidy(), updates on the GPU: live textures stay flat, kernels bounded, losses follow the CPU's", () => {
        const train = (b: GpuBackend | "cpu") => {
          setBackend(b);
          try {
            const { opt, step } = tinyRegression();
            const losses: number[] = [],
              live: number[] = [];
            for (let t = 0; t < 300; t++) {
              losses.push(step().item());
              opt.step();
              if (b !== "cpu") live.push(b.liveTextures());
            }
            return { losses, live };
          } finally {
            setBackend("cpu");
          }
        };
        const baseline = backend.liveTextures(); // tensors earlier tests made and never read or freed
        const gpu = train(backend),
          cpu = train("cpu");
        expect(new Set(gpu.live).size, `live textures per step: ${[...new Set(gpu.live)].join(", ")}`).toBe(1);
        // The target (kept by the scope that returned it) and per parameter (4): its gradient, and one
        // texture holding the parameter and Adam's 2 moments (an update writes them together).
        expect(gpu.live[0]! - baseline).toBe(1 + 4 * 2);
        expect(backend.liveKernels()).toBeLessThanOrEqual(KERNEL_CACHE_SIZE);
        expect(gpu.losses[299]!).toBeLessThan(gpu.losses[0]! / 5);
        for (let i = 0; i < 20; i++)
          expect(Math.abs(gpu.losses[i]! - cpu.losses[i]!)).toBeLessThan(1e-4 * cpu.losses[i]!);
      }, 120_000);
      it("a VAE step with a 40-layer planar posterior compiles nothing after its first steps (the kernel cache holds its working set)", async () => {
        // Views compile per offset, so the step needs kernels per layer: more than 128 here.
        const { compiles } = await vaeSteps(backend, 40);
        expect(compiles).toEqual([0, 0]);
        expect(backend.liveKernels()).toBeGreaterThan(128);
        expect(backend.liveKernels()).toBeLessThanOrEqual(KERNEL_CACHE_SIZE);
      }, 120_000);
      it("a kernel cache smaller than a step's kernels says so once, and the steps still compute the CPU's losses", async () => {
        await expectSmallKernelCacheSteps(mode);
      }, 120_000);
    }
    it("keeps a bounded number of compiled kernels however many shapes it sees", async () => {
      const small = await createGpuBackend(mode, { kernelCacheSize: 16 });
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      try {
        for (let n = 1; n <= 40; n++) {
          const x = rand(n),
            out = new Float64Array(n);
          small.host.unary("exp", x, out);
          expect(out[n - 1]).toBeCloseTo(Math.exp(x[n - 1]!), 4);
        }
        expect(small.liveKernels()).toBe(16);
      } finally {
        warn.mockRestore();
        small.dispose();
      }
      expect(backend.liveKernels()).toBeLessThanOrEqual(KERNEL_CACHE_SIZE);
    });
    it("refuses a kernel cache of no kernels", async () => {
      await expect(createGpuBackend(mode, { kernelCacheSize: 0 })).rejects.toThrow(
        /kernelCacheSize must be a whole number of kernels, at least 1, not 0/,
      );
    });
  });
}

describe("arrays too large for gpu.js's float32 indices", () => {
  it("run on the CPU backend, correctly, with one notice", () => {
    const b = loaded.get("cpu");
    if (typeof b === "string" || !b) throw new Error(`gpu.js cpu mode always loads; got: ${String(b)}`);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const n = (1 << 24) + 4,
        x = new Float32Array(n).fill(0.5),
        out = new Float64Array(1);
      b.host.reduce("sum", x, 1, n, 1, out);
      expect(out[0]).toBe(n / 2); // exact: the CPU backend sums float32 inputs in float64
      b.host.reduce("max", x, 1, n, 1, out);
      expect(out[0]).toBe(0.5);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/arrays above 2\^24 elements run on the CPU backend/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("choosing a mode", () => {
  it("a forced mode that cannot run is an error that says why", async () => {
    // webgpu runs where Dawn loads and finds an adapter (test/webgpu.test.ts); elsewhere it says which of the two failed.
    const webgpu = await createGpuBackend("webgpu").then(
      (b) => {
        b.dispose();
        return b.info.gpuMode;
      },
      (e: Error) => e.message,
    );
    expect(webgpu).toMatch(
      /^webgpu$|gpu.js mode "webgpu" was requested but is not available: (Dawn \(the webgpu package gpu.js uses in Node\) does not load here: \S.*|Dawn loads here but finds no adapter)/,
    );
    await expect(createGpuBackend("nonsense" as GpuMode)).rejects.toThrow(/unknown gpu.js mode "nonsense"/);
  });
  it('initBackend("auto") takes its thresholds from the option, else FLOWGRAD_AUTO_THRESHOLD, else the mode\'s default, and says which', async () => {
    try {
      await initBackend("auto", {
        gpuMode: "webasm",
        quiet: true,
        threshold: { elements: 4096, multiplyAdds: Infinity },
      });
      expect(backendInfo()).toMatchObject({
        backend: "auto",
        gpuMode: "webasm",
        autoThresholds: { elements: 4096, multiplyAdds: Infinity },
      });
      vi.stubEnv("FLOWGRAD_AUTO_THRESHOLD", "1000,5e5");
      await initBackend("auto", { gpuMode: "webasm", quiet: true });
      expect(backendInfo().autoThresholds).toEqual({ elements: 1000, multiplyAdds: 5e5 });
      const x = ag.randn([1000], { random: 1, dtype: "float32" }); // at the threshold: gpu.js (webasm has no device arrays, so the values come back)
      expect(x.exp().toHost().data[0]).toBeCloseTo(Math.exp(x.toHost().data[0]!), 5);
      vi.stubEnv("FLOWGRAD_AUTO_THRESHOLD", "lots");
      await expect(initBackend("auto", { gpuMode: "webasm", quiet: true })).rejects.toThrow(
        /FLOWGRAD_AUTO_THRESHOLD="lots": expected ELEMENTS or ELEMENTS,MULTIPLY_ADDS/,
      );
      vi.unstubAllEnvs();
      await initBackend("auto", { gpuMode: "webasm", quiet: true });
      expect(backendInfo().autoThresholds).toEqual({
        elements: DEFAULT_GPU_THRESHOLDS.webasm,
        multiplyAdds: DEFAULT_GPU_THRESHOLDS.webasm * 64,
      });
      await initBackend("gpu", { gpuMode: "webasm", quiet: true });
      expect(backendInfo().autoThresholds).toBeNull(); // not "auto"
    } finally {
      vi.unstubAllEnvs();
      await initBackend("cpu");
      loadedGpuBackend()?.dispose();
    }
  });
  it('initBackend("auto") uses the thresholds "flowgrad calibrate --save" saved for this machine and mode, under the option and FLOWGRAD_AUTO_THRESHOLD', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "flowgrad-calibration-"));
    const file = path.join(dir, "calibration.json");
    try {
      const here = await machineKey({ gpuMode: "webasm" });
      const elsewhere = {
        ...here,
        cpu: "another CPU",
        elements: "64",
        multiplyAdds: "64",
        measured: "2026-01-02T00:00:00.000Z",
      };
      const store = withCalibration(withCalibration(null, elsewhere), {
        ...here,
        elements: "2048",
        multiplyAdds: "inf",
        measured: "2026-11-03T10:00:00.000Z",
      });
      writeFileSync(file, JSON.stringify(store));
      vi.stubEnv("FLOWGRAD_CALIBRATION", file);
      await initBackend("auto", { gpuMode: "webasm", quiet: true });
      expect(backendInfo().autoThresholds).toEqual({ elements: 2048, multiplyAdds: Infinity });
      expect(backendInfo().autoThresholdSource).toBe(`measured by flowgrad calibrate on 2026-11-03 (${file})`);
      await initBackend("auto", { gpuMode: "webasm", quiet: true, threshold: 100 });
      expect(backendInfo()).toMatchObject({
        autoThresholds: { elements: 100 },
        autoThresholdSource: "initBackend's threshold option",
      });
      vi.stubEnv("FLOWGRAD_AUTO_THRESHOLD", "300");
      await initBackend("auto", { gpuMode: "webasm", quiet: true });
      expect(backendInfo()).toMatchObject({
        autoThresholds: { elements: 300 },
        autoThresholdSource: "FLOWGRAD_AUTO_THRESHOLD",
      });
      vi.stubEnv("FLOWGRAD_AUTO_THRESHOLD", "");
      // Another machine's entry only: the mode's default, which says why it is what it is.
      writeFileSync(file, JSON.stringify(withCalibration(null, elsewhere)));
      await initBackend("auto", { gpuMode: "webasm", quiet: true });
      expect(backendInfo().autoThresholds).toEqual({ elements: Infinity, multiplyAdds: Infinity });
      expect(backendInfo().autoThresholdSource).toMatch(
        /^default for webasm \(gpu.js never beat the CPU backend in npm run bench:gpu/,
      );
      writeFileSync(file, '{"format": "flowgrad-auto-thresholds", "version": 1, "machines": [{"gpuMode": "webasm"}]}');
      await expect(initBackend("auto", { gpuMode: "webasm", quiet: true })).rejects.toThrow(
        `calibration file ${file}: machines[0] needs gpuMode, adapter, cpu, cores and measured; run "flowgrad calibrate --save" again, or delete the file`,
      );
      writeFileSync(file, "{ half-written");
      await expect(initBackend("auto", { gpuMode: "webasm", quiet: true })).rejects.toThrow(
        `calibration file ${file}: not JSON`,
      );
      vi.stubEnv("FLOWGRAD_CALIBRATION", "off"); // no file at all
      await initBackend("auto", { gpuMode: "webasm", quiet: true });
      expect(backendInfo().autoThresholdSource).toMatch(/^default for webasm/);
    } finally {
      vi.unstubAllEnvs();
      rmSync(dir, { recursive: true, force: true });
      await initBackend("cpu");
      loadedGpuBackend()?.dispose();
    }
  });
  it("auto prefers a real GPU and says which modes it passed over", async () => {
    const b = await createGpuBackend("auto");
    try {
      // webgpu is never chosen by "auto" (its reads are asynchronous), and the notice says so.
      expect(
        b.info.notices.some((n) =>
          n.startsWith("gpu.js webgpu: not chosen automatically: its values come back only asynchronously"),
        ),
      ).toBe(true);
      expect(["headlessgl", "webasm", "cpu"]).toContain(b.info.gpuMode);
      if (b.info.gpuMode !== "headlessgl")
        expect(b.info.notices.some((n) => n.startsWith("gpu.js headlessgl:"))).toBe(true);
    } finally {
      b.dispose();
    }
  });
});
