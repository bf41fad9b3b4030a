import { afterAll, describe, expect, it, vi } from "vitest";
import * as ag from "../src/autograd/index.js";
import {
  logAbsDetJacobian,
  planarBackwardKernel,
  planarConstraintBackwardKernel,
  planarConstraintKernel,
  planarForwardKernel,
  radialBackwardKernel,
  radialForwardKernel,
} from "../src/flows/index.js";
import { createGpuBackend, type GpuBackend } from "../src/kernels/gpu/backend.js";
import type { BufferArray } from "../src/kernels/gpu/device-arrays.js";
import {
  autoBackend,
  BINARY,
  type BinaryOp,
  backendInfo,
  cpuBackend,
  type DeviceArray,
  initBackend,
  setBackend,
  UNARY,
  type UnaryOp,
} from "../src/kernels/index.js";
import {
  estimateKL,
  estimateKLAsync,
  evaluateVAE,
  evaluateVAEAsync,
  FlowVAE,
  fit2D,
  fit2DAsync,
  type TrainingCheckpoint,
  trainVAE,
  trainVAEAsync,
} from "../src/models/index.js";
import {
  COMPARISONS,
  constraintCases,
  exactlySummable,
  expectComparison,
  expectDeviceUpdatesMatch,
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
  vaeSteps,
  withTies,
} from "./helpers.js";

// gpu.js's webgpu mode, where Dawn loads and a Vulkan driver answers: on a GPU machine, or here on
// Mesa's software Vulkan (lavapipe) with Node run by newer C runtimes (scripts/webgpu-node.sh).
// Elsewhere the tests are listed as skipped with the reason. WebGPU reads only asynchronously, so
// these tests read device arrays with readAsync() and tensors with `await t.read()`.
let backend: GpuBackend | string;
try {
  backend = await createGpuBackend("webgpu");
} catch (error) {
  backend = (error as Error).message;
}
afterAll(() => {
  setBackend("cpu");
  if (typeof backend !== "string") backend.dispose();
});

if (process.env.FLOWGRAD_EXPECT_WEBGPU === "1") {
  it("CI asked for gpu.js webgpu: it loads and runs", () => {
    expect(typeof backend === "string" ? backend : backend.info.gpuMode).toBe("webgpu");
  });
}

const rng = new ag.Random(91);
const rand = (n: number, lo = -2, hi = 2) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
/** float32 tolerance: relative 1e-5 plus an absolute floor scaled by the terms' size */
function expectFloat32Close(actual: ArrayLike<number>, expected: ArrayLike<number>, scale = 1): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (Number.isNaN(e)) expect(a, `element ${i}`).toBeNaN();
    else if (!(Math.abs(a - e) <= 1e-5 * Math.abs(e) + 1e-6 * scale))
      throw new Error(`element ${i}: webgpu ${a}, CPU ${e}`);
  }
}

if (typeof backend === "string") {
  describe("gpu.js webgpu mode", () => {
    it.skip(`not available on this machine: ${backend}`, () => {});
  });
} else {
  const b = backend;
  const r = b.resident!;
  const read = (x: DeviceArray | null) => x!.readAsync();

  describe(`gpu.js webgpu mode (${b.info.kernelClass} on ${b.info.adapter}) against the CPU backend`, () => {
    it("reports the mode, the kernel class and the adapter", () => {
      expect(b.info.gpuMode).toBe("webgpu");
      expect(b.info.kernelClass).toBe("WebGPUKernel");
      expect(b.info.adapter!.length).toBeGreaterThan(0);
    });

    it("every unary op, over more than one output row (W = 4096)", async () => {
      const x = rand(9000, 0.05, 3); // in every op's domain (log, sqrt, reciprocal)
      for (const op of Object.keys(UNARY) as UnaryOp[]) {
        const c = new Float32Array(x.length);
        cpuBackend.host.unary(op, x, c);
        expectFloat32Close(await read(r.unary(op, x, x.length)), c);
      }
    });

    it("every binary op, with broadcasting", async () => {
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
          const x = rand(sizeOf(as), 0.5, 2),
            y = rand(sizeOf(bs), 0.5, 2);
          const c = new Float32Array(sizeOf(shape));
          cpuBackend.host.binary(op, x, as, y, bs, c, shape);
          expectFloat32Close(await read(r.binary(op, x, as, y, bs, shape)), c, 4);
        }
      }
    });

    it("reductions: exact on integer inputs (every element counted once), and within n·2⁻²⁴·Σ|x| on random floats", async () => {
      for (const [outer, size, inner] of [
        [1, 5000, 1],
        [30, 17, 40],
        [7, 300, 3],
      ] as const) {
        for (const exact of [true, false]) {
          const x = exact
            ? Float32Array.from(exactlySummable(new ag.Random(outer + size), outer * size * inner))
            : rand(outer * size * inner);
          for (const op of ["sum", "max", "min"] as const) {
            const c = new Float64Array(outer * inner);
            cpuBackend.host.reduce(op, Float64Array.from(x), outer, size, inner, c);
            const g = await read(r.reduce(op, x, outer, size, inner));
            expectReduced(op, x, outer, size, inner, g, c, exact);
          }
        }
      }
    });

    it("comparisons on inputs with ties match their definitions (eq, ne, gt, ge, lt, le), with broadcasting", async () => {
      const random = new ag.Random(5);
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
        const shape = ag.broadcastShapes("test", as, bs);
        const a = Float32Array.from(withTies(random, sizeOf(as))),
          b = Float32Array.from(withTies(random, sizeOf(bs)));
        for (const op of Object.keys(COMPARISONS) as Array<keyof typeof COMPARISONS>)
          expectComparison(op, a, as, b, bs, await read(r.binary(op, a, as, b, bs, shape)), shape);
      }
    });

    it("matmul: plain, transposed and batched (error bound k·2⁻²⁴·Σ|a||b|)", async () => {
      for (const [m, k, n, batch] of [
        [17, 33, 9, 1],
        [64, 64, 64, 2],
        [5, 1200, 3, 1],
      ] as const) {
        for (const [ta, tb] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ] as const) {
          const x = rand(batch * m * k),
            y = rand(batch * k * n);
          const ao = Int32Array.from({ length: batch }, (_, t) => t * m * k),
            bo = Int32Array.from({ length: batch }, (_, t) => t * k * n);
          const c = new Float32Array(batch * m * n);
          cpuBackend.host.matmul(x, ao, y, bo, c, m, k, n, ta, tb);
          const g = await read(r.matmul(x, ao, y, bo, m, k, n, ta, tb));
          for (let i = 0; i < c.length; i++) expect(Math.abs(g[i]! - c[i]!)).toBeLessThanOrEqual(k * 2 ** -24 * 4 * k);
        }
      }
    });

    it("where, strided copies, gathers and their adjoint, pads", async () => {
      const c = Float32Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? 1 : 0)),
        x = rand(5000),
        y = rand(5000);
      const cw = new Float32Array(5000);
      cpuBackend.host.where(c, x, y, cw);
      expect(Array.from(await read(r.where!(c, x, y, 5000)))).toEqual(Array.from(cw));
      const src = rand(4 * 5 * 6); // a [4, 5, 6] tensor: its permute(2, 0, 1), a slice and a broadcast
      for (const [offset, shape, strides] of [
        [0, [6, 4, 5], [1, 30, 6]],
        [37, [2, 3, 4], [30, 6, 1]],
        [5, [3, 7, 4], [0, 0, 1]],
      ] as const) {
        const out = new Float32Array(sizeOf(shape));
        cpuBackend.host.stridedCopy(src, offset, shape, strides, out);
        expect(Array.from(await read(r.stridedCopy!(src, offset, shape, strides)))).toEqual(Array.from(out));
      }
      const rows = rand(3 * 7 * 4),
        idx = Int32Array.from([6, 0, 6, 2, 5]); // [3, 7, 4] gathered along the middle axis, with a repeat
      const picked = new Float32Array(3 * 5 * 4),
        back = new Float32Array(3 * 7 * 4);
      cpuBackend.host.gather(rows, 3, 7, 4, idx, picked);
      expect(Array.from(await read(r.gather!(rows, 3, 7, 4, idx)))).toEqual(Array.from(picked));
      cpuBackend.host.scatterAdd(picked, 3, 7, 4, idx, back);
      expectFloat32Close(await read(r.scatterAdd!(picked, 3, 7, 4, idx)), back);
      const piece = rand(2 * 3),
        padded = new Float32Array(4 * 5);
      cpuBackend.host.stridedScatter(piece, padded, 1 * 5 + 2, [2, 3], [5, 1], false);
      expect(Array.from(await read(r.pad!(piece, [2, 3], [1, 2], [4, 5])))).toEqual(Array.from(padded));
    });

    it("the fused planar and radial layers, forward and backward, shared and per-sample parameters, on the device", async () => {
      for (const [n, d, perSample] of [
        [300, 2, false],
        [50, 5, true],
        [7000, 1, false],
      ] as const) {
        const pn = perSample ? n : 1;
        const z = rand(n * d, -1.5, 1.5),
          u = rand(pn * d, -1.5, 1.5),
          w = rand(pn * d, -1.5, 1.5),
          bb = rand(pn, -1.5, 1.5),
          sp = rand(pn, 0.1, 3);
        const z0 = rand(pn * d, -1.5, 1.5),
          al = rand(pn, 0.1, 2),
          ab = rand(pn, 0.1, 2);
        const gOut = rand(n * d),
          gLd = rand(n);
        for (const layer of ["planar", "radial"] as const) {
          const args = { n, d, perSample };
          const [fwd, bwd, params] =
            layer === "planar"
              ? [planarForwardKernel, planarBackwardKernel, [z, u, w, bb, sp]]
              : [radialForwardKernel, radialBackwardKernel, [z, z0, al, ab]];
          const [out, ld] = runToHost(cpuBackend, fwd, params, args) as [Float64Array, Float64Array];
          const cg = runToHost(cpuBackend, bwd, [...params, gOut, gLd], args);
          const device = onDevice(b, fwd, params, args) as [DeviceArray, DeviceArray];
          const grads = onDevice(b, bwd, [...params, gOut, gLd], args);
          expectFloat32Close(await device[0].readAsync(), out, 4);
          expectFloat32Close(await device[1].readAsync(), ld, 10);
          // A shared parameter's gradient sums n per-point shares: error up to n·2⁻²⁴ of their sizes.
          for (let k = 0; k < grads.length; k++)
            expectFloat32Close(await grads[k]!.readAsync(), cg[k]!, perSample || k === 0 ? 20 : 20 * n);
          for (const t of [...device, ...grads]) t.release();
        }
      }
    });

    it("the planar constraint and its backward match the CPU backend (w = 0, wᵀu ≪ −1 and ≫ 1 included)", async () => {
      for (const [n, d] of [
        [3, 2],
        [40, 3],
        [300, 5],
      ] as const) {
        const { u, w } = constraintCases(rand, n, d);
        const gUHat = rand(n * d),
          gSlack = rand(n);
        const args = { rows: n, d };
        const [uHat, slack] = runToHost(cpuBackend, planarConstraintKernel, [u, w], args) as [
          Float64Array,
          Float64Array,
        ];
        const [gu, gw] = runToHost(cpuBackend, planarConstraintBackwardKernel, [u, w, gUHat, gSlack], args) as [
          Float64Array,
          Float64Array,
        ];
        const outs = [
          ...onDevice(b, planarConstraintKernel, [u, w], args),
          ...onDevice(b, planarConstraintBackwardKernel, [u, w, gUHat, gSlack], args),
        ];
        const [du, ds, dgu, dgw] = await Promise.all(outs.map((o) => o.readAsync()));
        expectFloat32Close(du!, uHat, 40);
        expectFloat32Close(ds!, slack, 10);
        expectFloat32Close(dgu!, gu, 40);
        expectFloat32Close(dgw!, gw, 40);
        outs.forEach((o) => o.release());
      }
    });

    it("a kernel's several outputs are views of one buffer, read right alone and as inputs to other kernels", async () => {
      await expectViewsAsInputs(
        b,
        (x) => x.readAsync(),
        (a, e) => expectFloat32Close(a, e, 10),
      );
    });

    it("optimizer updates (SGD with momentum, Adam, RMSprop): two steps match the CPU backend's, and their buffers go", async () => {
      const fresh = await createGpuBackend("webgpu"); // its own count of live buffers
      try {
        await expectDeviceUpdatesMatch(
          fresh.resident!,
          (x) => x.readAsync(),
          (a, e) => expectFloat32Close(a, e, 10),
        );
      } finally {
        fresh.dispose();
      }
    });

    it("a released device array given to a kernel is an error that leaves no buffer behind", async () => {
      const fresh = await createGpuBackend("webgpu"); // its own count of live buffers
      try {
        const rf = fresh.resident!;
        const x = rf.unary("neg", Float32Array.from([1, 2]), 2) as BufferArray,
          y = rf.unary("neg", Float32Array.from([3, 4]), 2) as BufferArray;
        y.release();
        expect(() => rf.binary("add", x, [2], y, [2], [2])).toThrow(/a device array was used after it was released/);
        x.release();
        await Promise.all([x.ready, y.ready]);
        expect(fresh.liveTextures()).toBe(0);
      } finally {
        fresh.dispose();
      }
    });

    it("a host input is copied when the op is called: changing it afterwards does not change the result", async () => {
      const x = Float32Array.from([1, 2, 3]);
      const y = r.unary("neg", x, 3);
      x.fill(100);
      expect(Array.from(await read(y))).toEqual([-1, -2, -3]);
    });
  });

  describe("webgpu tensors through the autograd", () => {
    it("a chain stays in device buffers without waiting; a synchronous read is a clear error; await t.read() gives the values", async () => {
      const local = new ag.Random(8);
      const x = ag.randn([50, 30], { random: local, dtype: "float32" }),
        w = ag.randn([30, 20], { random: local, dtype: "float32" });
      const expected = x.matmul(w).tanh().mul(x.matmul(w)).sum(1).data;
      setBackend(b);
      try {
        const before = b.liveTextures();
        const h = x.matmul(w);
        const y = h.tanh().mul(h).sum(1);
        expect(h.storage.onDevice && y.storage.onDevice).toBe(true);
        expect(b.liveTextures() - before).toBe(4); // matmul, tanh, mul, sum
        expect(() => y.toHost().data).toThrow(
          /its values are in a WebGPU buffer, and WebGPU reads only asynchronously: use `await tensor.read\(\)`/,
        );
        expect(() => y.sum().item()).toThrow(/await tensor.read\(\)/);
        expectFloat32Close(await y.read(), expected, 30);
        expect(y.storage.onDevice).toBe(false);
        expect(y.toHost().data).toBe(await y.read()); // read once; from then on the host copy
      } finally {
        setBackend("cpu");
      }
    });

    it("gradients of a small network (matmul, broadcast add, tanh, softplus, sum, mean) match the CPU's", async () => {
      const make = () => ({
        x: ag.randn([40, 6], { random: new ag.Random(1), dtype: "float32" }),
        w: ag.randn([6, 5], { random: new ag.Random(2), dtype: "float32" }).requireGrad(),
        c: ag.randn([5], { random: new ag.Random(3), dtype: "float32" }).requireGrad(),
      });
      const f = (p: ReturnType<typeof make>) => p.x.matmul(p.w).add(p.c).tanh().softplus().sum(1).mean();
      const cpu = make();
      const cpuLoss = f(cpu);
      cpuLoss.backward();
      setBackend(b);
      try {
        const gpu = make();
        const loss = f(gpu);
        loss.backward();
        expect(gpu.w.grad!.storage.onDevice && gpu.c.grad!.storage.onDevice).toBe(true);
        expectFloat32Close(await loss.read(), cpuLoss.toHost().data, 10);
        expectFloat32Close(await gpu.w.grad!.read(), cpu.w.grad!.toHost().data, 10);
        expectFloat32Close(await gpu.c.grad!.read(), cpu.c.grad!.toHost().data, 10);
      } finally {
        setBackend("cpu");
      }
    });

    it("second derivatives on the device (hvp and jvp through fused flow layers, matmul, logsumexp, slice, indexSelect, split) match the CPU's float64", async () => {
      const reference = secondOrderReference();
      const fresh = await createGpuBackend("webgpu"); // its own count of live buffers
      setBackend(fresh);
      try {
        const { f, x, v } = secondOrderCase("float32");
        // In tidy(): the graphs' buffers go when it ends (once the queued kernels that read them have run).
        const [hv, jv, byBackwardTensor] = ag.tidy(() => [ag.hvp(f, x, v), ag.jvp(f, x, v), hvpByBackward(f, x, v)]);
        expect(hv.storage.onDevice && jv.storage.onDevice).toBe(true);
        const scale = Math.max(...Array.from(reference.hvp, Math.abs));
        const values = await hv.read();
        reference.hvp.forEach((e, i) =>
          expect(Math.abs(values[i]! - e), `hvp element ${i}: ${values[i]} vs ${e}`).toBeLessThanOrEqual(
            2e-4 * Math.abs(e) + 2e-4 * scale,
          ),
        );
        const [j] = await jv.read();
        expect(Math.abs(j! - reference.jvp)).toBeLessThanOrEqual(2e-4 * (1 + Math.abs(reference.jvp)));
        const byBackward = await byBackwardTensor.read(); // the fused kernels' forward, their createGraph rules
        reference.hvp.forEach((e, i) =>
          expect(Math.abs(byBackward[i]! - e), `hvp by backward, element ${i}`).toBeLessThanOrEqual(
            2e-4 * Math.abs(e) + 2e-4 * scale,
          ),
        );
        expect(fresh.liveTextures()).toBe(0); // nothing of the second-order graphs left behind; the results went when read
      } finally {
        setBackend("cpu");
        fresh.dispose();
      }
    });

    it("200 Adam steps in tidy() with stepAsync(), updates on the device: live buffers stay flat, losses follow the CPU's", async () => {
      const train = async (on: GpuBackend | "cpu") => {
        setBackend(on);
        try {
          const { opt, step } = tinyRegression();
          const losses: number[] = [],
            live: number[] = [];
          for (let t = 0; t < 200; t++) {
            losses.push((await step().read())[0]!);
            await opt.stepAsync();
            if (on !== "cpu") live.push(on.liveTextures());
          }
          return { losses, live };
        } finally {
          setBackend("cpu");
        }
      };
      const cpu = await train("cpu");
      const fresh = await createGpuBackend("webgpu"); // its own count of live buffers
      const gpu = await train(fresh).finally(() => fresh.dispose());
      expect(gpu.live[199]).toBeLessThanOrEqual(gpu.live[10]!);
      // The target, and per parameter (4): its gradient and one buffer holding it and Adam's 2 moments (the
      // loss was read); and at most the last step's old such buffers, which its queued update kernels still read.
      expect(gpu.live[199]).toBeGreaterThanOrEqual(1 + 4 * 2);
      expect(gpu.live[199]).toBeLessThanOrEqual(1 + 4 * 2 + 4);
      for (const i of [0, 50, 199])
        expect(Math.abs(gpu.losses[i]! - cpu.losses[i]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, cpu.losses[i]!));
      expect(gpu.losses[199]).toBeLessThan(gpu.losses[0]! / 5);
    });

    it("a training step of a planar/radial flow density fit runs on the device (no synchronous read could happen) and matches the CPU", async () => {
      const cpu = flowDensityStep();
      const fresh = await createGpuBackend("webgpu"); // its own count of live buffers
      setBackend(fresh);
      try {
        const gpu = flowDensityStep(); // a synchronous read of a webgpu tensor would throw
        expect(gpu.loss.storage.onDevice && gpu.params.every((p) => p.grad!.storage.onDevice)).toBe(true);
        expectFloat32Close(await gpu.loss.read(), cpu.loss.toHost().data, 100);
        for (let i = 0; i < gpu.params.length; i++)
          expectFloat32Close(await gpu.params[i]!.grad!.read(), cpu.params[i]!.grad!.data, 100);
        // Alive: only the parameters made on the device (the planar u = randn · 0.5); everything else the
        // step made was freed by its tidy().
        expect(gpu.params.filter((p) => p.storage.onDevice).length).toBe(2);
        expect(fresh.liveTextures()).toBe(2);
      } finally {
        setBackend("cpu");
        fresh.dispose();
      }
    });

    it("fit2DAsync fits a 2-D density on webgpu with the losses of fit2D on the CPU (float32 against float64)", async () => {
      const options = { target: "U2", flow: "planar", K: 4, steps: 30, batchSize: 100, seed: 3 } as const;
      const cpu = fit2D(options);
      setBackend(b);
      try {
        const gpu = await fit2DAsync(options);
        expect(gpu.losses.length).toBe(30);
        for (let t = 0; t < 30; t++)
          expect(Math.abs(gpu.losses[t]! - cpu.losses[t]!), `step ${t}`).toBeLessThan(
            1e-3 * Math.max(1, Math.abs(cpu.losses[t]!)),
          );
      } finally {
        setBackend("cpu");
      }
    });

    it("trainVAEAsync trains a DLGM with a planar flow posterior on webgpu with the losses of trainVAE on the CPU", async () => {
      const rng = new ag.Random(1);
      const images = Float64Array.from({ length: 120 * 16 }, () => (rng.uniform() < 0.3 ? 1 : 0));
      const config = { inputs: 16, latent: 2, hidden: 8, K: 2, seed: 3 };
      const options = { epochs: 2, batchSize: 40, validation: images.subarray(0, 40 * 16), seed: 2 };
      const cpu = trainVAE(new FlowVAE(config), images, options);
      setBackend(b);
      try {
        const gpu = await trainVAEAsync(new FlowVAE(config), images, options);
        for (let t = 0; t < cpu.losses.length; t++)
          expect(Math.abs(gpu.losses[t]! - cpu.losses[t]!), `step ${t}`).toBeLessThan(1e-4 * cpu.losses[t]!);
        for (let e = 0; e < 2; e++)
          expect(Math.abs(gpu.validationLosses[e]! - cpu.validationLosses[e]!)).toBeLessThan(
            1e-4 * cpu.validationLosses[e]!,
          );
      } finally {
        setBackend("cpu");
      }
    });

    it("trainVAEAsync with clipNorm on webgpu: the norms read on the device and the clipped updates are the CPU's", async () => {
      const rng = new ag.Random(1);
      const images = Float64Array.from({ length: 120 * 16 }, () => (rng.uniform() < 0.3 ? 1 : 0));
      const config = { inputs: 16, latent: 2, hidden: 8, K: 2, seed: 3 };
      // 0.5 is below every update's gradient norm here (the CPU run checks it): all six are clipped.
      const options = { epochs: 2, batchSize: 40, seed: 2, clipNorm: 0.5 };
      const cpu = trainVAE(new FlowVAE(config), images, options);
      expect(cpu.clippedSteps).toEqual([3, 3]);
      setBackend(b);
      try {
        const gpu = await trainVAEAsync(new FlowVAE(config), images, options);
        expect(gpu.clippedSteps).toEqual([3, 3]);
        cpu.losses.forEach((l, t) => expect(Math.abs(gpu.losses[t]! - l), `step ${t}`).toBeLessThan(1e-4 * l));
        cpu.gradNorms.forEach((n, e) => expect(Math.abs(gpu.gradNorms[e]!.max - n.max)).toBeLessThan(1e-4 * n.max));
      } finally {
        setBackend("cpu");
      }
    });

    it("trainVAEAsync on webgpu saves checkpoints (parameters and optimizer state read back) that are the CPU's, and trains on after each", async () => {
      const rng = new ag.Random(1);
      const images = Float64Array.from({ length: 120 * 16 }, () => (rng.uniform() < 0.3 ? 1 : 0));
      const config = { inputs: 16, latent: 2, hidden: 8, K: 2, seed: 3 };
      const run = (saved: TrainingCheckpoint[]) => ({
        epochs: 3,
        batchSize: 40,
        seed: 2,
        checkpoint: (state: TrainingCheckpoint) => saved.push(structuredClone(state)),
      });
      const onCpu: TrainingCheckpoint[] = [],
        onGpu: TrainingCheckpoint[] = [];
      const cpu = trainVAE(new FlowVAE(config), images, run(onCpu));
      setBackend(b);
      try {
        const gpu = await trainVAEAsync(new FlowVAE(config), images, run(onGpu));
        expect(onGpu).toHaveLength(3);
        cpu.losses.forEach((l, t) => expect(Math.abs(gpu.losses[t]! - l), `step ${t}`).toBeLessThan(1e-4 * l));
        onCpu.forEach((c, e) => {
          const g = onGpu[e]!;
          expect(g.step).toBe(c.step);
          expect(g.optimizer.steps).toBe(c.optimizer.steps);
          for (const [name, want] of Object.entries(c.parameters.parameters))
            expectFloat32Close(g.parameters.parameters[name]!.data, want.data, 10);
          for (const [i, buffers] of Object.entries(c.optimizer.buffers))
            buffers.forEach((want, j) => expectFloat32Close(g.optimizer.buffers[i]![j]!, want, 10));
        });
      } finally {
        setBackend("cpu");
      }
    });

    it("a kernel evicted while its call waits (on its inputs, or on webgpu's asynchronous build) runs that call first", async () => {
      const small = await createGpuBackend("webgpu", { kernelCacheSize: 1 });
      try {
        const x = rand(1000, -2, 2);
        const ce = new Float32Array(x.length),
          ct = new Float32Array(x.length);
        cpuBackend.host.unary("exp", x, ce);
        cpuBackend.host.unary("tanh", ce, ct);
        for (const wait of [false, true]) {
          const e = small.resident!.unary("exp", x, x.length)!; // a new kernel, its call queued
          // After a few microtasks, exp's call has begun and waits on its build (Dawn answers from
          // the event loop) when it is evicted; without them it is evicted before its call.
          if (wait) for (let i = 0; i < 5; i++) await null;
          const t = small.resident!.unary("tanh", e, x.length)!; // a second kernel evicts the first
          expectFloat32Close(await read(t), ct);
          expectFloat32Close(await read(e), ce, 10);
          expect(small.liveKernels()).toBe(1);
        }
      } finally {
        small.dispose();
      }
    });

    it("a VAE step with a 40-layer planar posterior compiles nothing after its first steps; with a cache of 8 kernels it still computes the CPU's losses", async () => {
      const { compiles } = await vaeSteps(b, 40);
      expect(compiles).toEqual([0, 0]);
      expect(b.liveKernels()).toBeGreaterThan(128); // above the cache size that recompiled every step
      await expectSmallKernelCacheSteps("webgpu");
    }, 120_000);

    it("evaluateVAEAsync and estimateKLAsync score on webgpu what evaluateVAE and estimateKL score on the CPU", async () => {
      const rng = new ag.Random(4);
      const images = Float64Array.from({ length: 30 * 16 }, () => (rng.uniform() < 0.3 ? 1 : 0));
      const model = new FlowVAE({ inputs: 16, latent: 2, hidden: 8, K: 2, seed: 3 });
      const q = fit2D({ target: "U1", flow: "planar", K: 3, steps: 5, batchSize: 50, seed: 1 }).q;
      const cpu = evaluateVAE(model, images, 20, 5),
        cpuKL = estimateKL(q, "U1", 1.8, 2000, 7);
      setBackend(b);
      try {
        const gpu = await evaluateVAEAsync(model, images, 20, 5);
        expect(Math.abs(gpu.negLogLikelihood - cpu.negLogLikelihood)).toBeLessThan(1e-4 * cpu.negLogLikelihood);
        expect(Math.abs(gpu.negativeElbo - cpu.negativeElbo)).toBeLessThan(1e-4 * cpu.negativeElbo);
        for (let i = 0; i < 30; i++)
          expect(Math.abs(gpu.perExample[i]! - cpu.perExample[i]!), `example ${i}`).toBeLessThan(
            1e-4 * cpu.perExample[i]!,
          );
        const gpuKL = await estimateKLAsync(q, "U1", 1.8, 2000, 7);
        expect(Math.abs(gpuKL.freeEnergy - cpuKL.freeEnergy)).toBeLessThan(
          1e-4 * Math.max(1, Math.abs(cpuKL.freeEnergy)),
        );
      } finally {
        setBackend("cpu");
      }
    });

    it("auto with webgpu: large work goes to the device and small ops on its results follow (no synchronous read)", async () => {
      const big = ag.randn([40, 40], { random: 2, dtype: "float32" });
      const expected = big.matmul(big).sum().add(1).mul(2).data;
      setBackend(autoBackend(cpuBackend, b, 1000));
      try {
        const y = big.matmul(big).sum().add(1).mul(2);
        expect(y.storage.onDevice).toBe(true);
        expectFloat32Close(await y.read(), expected, 1000);
        expect(ag.tensor([1, 2], { dtype: "float32" }).exp().storage.onDevice).toBe(false); // small, on the host
      } finally {
        setBackend("cpu");
      }
    });

    it("planar and radial inverses run on the device and solve f(z) = y as the CPU's do", async () => {
      for (const c of inverseCases()) {
        const back = inverseOnDevice(c, b);
        expectInverseSolves(c, back, await back.read());
      }
    });

    it("the baseline's LU log-det on the device: matrices of known determinant (pivoting, a zero first pivot, a singular one)", async () => {
      const local = new ag.Random(21);
      for (const d of [1, 2, 3, 8, 33]) {
        const { a, logAbsDet: exact } = knownDeterminants(local, 4, d);
        const out = b.resident!.logAbsDet!(a, exact.length, d)!;
        expectLogAbsDets(await out.readAsync(), exact, d);
        out.release();
      }
    });

    it("the general-Jacobian baseline runs on the device (no synchronous read could happen): log|det J| of planar layers is their analytic log-det", async () => {
      const { f, z, analytic } = jacobianCase();
      // A backend of its own: buffers earlier tests released are freed only when their queued kernels
      // have run, which could happen during this test and change a shared backend's count.
      const fresh = await createGpuBackend("webgpu");
      setBackend(fresh);
      try {
        const ld = ag.tidy(() => logAbsDetJacobian(f, z));
        expect(ld.storage.onDevice).toBe(true);
        expectFloat32Close(await ld.read(), analytic, 10);
        expect(fresh.liveTextures()).toBe(0);
      } finally {
        setBackend("cpu");
        fresh.dispose();
      }
    });

    it("initBackend('gpu', { gpuMode: 'webgpu' }) selects it and backendInfo() names the adapter", async () => {
      await initBackend("gpu", { gpuMode: "webgpu", quiet: true });
      try {
        const info = backendInfo();
        expect(info).toMatchObject({ backend: "gpu", gpuMode: "webgpu", kernelClass: "WebGPUKernel" });
        expect(info.adapter).toBe(b.info.adapter);
      } finally {
        setBackend("cpu");
      }
    });

    it('initBackend("auto") on webgpu with nothing measured says its threshold is a provisional default, once per call', async () => {
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      try {
        await initBackend("auto", { gpuMode: "webgpu" }); // FLOWGRAD_CALIBRATION is "off" in tests
        const provisional = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes("provisional default"));
        expect(provisional).toEqual([
          `flowgrad: "auto" sends work to gpu.js webgpu from 65536 elements, a provisional default; "flowgrad --gpu-mode webgpu calibrate --save" measures this machine's thresholds`,
        ]);
        expect(backendInfo().autoThresholdSource).toMatch(
          /^provisional default for webgpu \(not measured on a GPU yet/,
        );
      } finally {
        warn.mockRestore();
        setBackend("cpu");
      }
    });
  });
}
