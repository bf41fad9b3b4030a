import { afterEach, describe, expect, it } from "vitest";
import * as ag from "../src/autograd/index.js";
import {
  autoBackend,
  type Backend,
  backendFrom,
  type CalibrationRow,
  type CustomKernel,
  calibrateAuto,
  cpuBackend,
  crossover,
  type DeviceArray,
  isDeviceArray,
  type KernelInput,
  parseAutoThreshold,
  type ResidentKernels,
  setBackend,
} from "../src/kernels/index.js";
import {
  expectClose,
  expectDeviceUpdatesMatch,
  flowDensityStep,
  hvpByBackward,
  secondOrderCase,
  secondOrderReference,
  tinyRegression,
} from "./helpers.js";

// Device-resident tensors and tidy(), checked on every machine with a stand-in device: a backend
// whose "device arrays" are float32 arrays it counts, computed by the CPU kernels. The gpu.js
// textures behind the same interface are checked in gpu.test.ts where GL runs.
class FakeArray implements DeviceArray {
  released = false;
  constructor(
    readonly values: Float32Array,
    private readonly device: FakeDevice,
  ) {
    device.live.add(this);
  }
  get length(): number {
    return this.values.length;
  }
  read(): Float32Array {
    if (this.released) throw new Error("read after release");
    this.device.reads++;
    return this.values.slice();
  }
  readAsync(): Promise<Float32Array> {
    return Promise.resolve().then(() => this.read());
  }
  release(): void {
    this.released = true;
    this.device.live.delete(this);
  }
}

class FakeDevice {
  live = new Set<FakeArray>();
  reads = 0;
  /** The device's own view of an input: no read back counted. */
  private on(x: KernelInput): KernelInput {
    if (!isDeviceArray(x)) return x;
    if (x.released) throw new Error("kernel given a released array");
    return (x as FakeArray).values;
  }
  readonly resident: ResidentKernels = {
    unary: (op, x, n) => this.make(n, (out) => cpuBackend.host.unary(op, this.on(x) as Float32Array, out)),
    binary: (op, a, as, b, bs, os) =>
      this.make(
        os.reduce((p, d) => p * d, 1),
        (out) => cpuBackend.host.binary(op, this.on(a) as Float32Array, as, this.on(b) as Float32Array, bs, out, os),
      ),
    reduce: (op, x, outer, size, inner) =>
      this.make(outer * inner, (out) =>
        cpuBackend.host.reduce(op, this.on(x) as Float32Array, outer, size, inner, out),
      ),
    matmul: (a, ao, b, bo, m, k, n, ta, tb) =>
      this.make(ao.length * m * n, (out) =>
        cpuBackend.host.matmul(this.on(a) as Float32Array, ao, this.on(b) as Float32Array, bo, out, m, k, n, ta, tb),
      ),
    liveArrays: () => this.live.size,
    update: (rule, x, g, state) => {
      const outs = [x, ...state].map((a) => Float32Array.from(this.on(a) as Float32Array)); // new arrays: the inputs stay as they were
      cpuBackend.host.update(rule, outs[0]!, this.on(g) as Float32Array, outs.slice(1));
      return outs.map((o) => new FakeArray(o, this));
    },
    where: (c, a, b, n) =>
      this.make(n, (out) =>
        cpuBackend.host.where(this.on(c) as Float32Array, this.on(a) as Float32Array, this.on(b) as Float32Array, out),
      ),
    stridedCopy: (src, o, shape, strides) =>
      this.make(
        shape.reduce((p, d) => p * d, 1),
        (out) => cpuBackend.host.stridedCopy(this.on(src) as Float32Array, o, shape, strides, out),
      ),
    gather: (x, outer, size, inner, idx) =>
      this.make(outer * idx.length * inner, (out) =>
        cpuBackend.host.gather(this.on(x) as Float32Array, outer, size, inner, idx, out),
      ),
    scatterAdd: (g, outer, size, inner, idx) =>
      this.make(outer * size * inner, (out) =>
        cpuBackend.host.scatterAdd(this.on(g) as Float32Array, outer, size, inner, idx, out),
      ),
    pad: (src, shape, starts, outShape) =>
      this.make(
        outShape.reduce((p, d) => p * d, 1),
        (out) => {
          const strides = outShape.map((_, i) => outShape.slice(i + 1).reduce((p, d) => p * d, 1));
          cpuBackend.host.stridedScatter(
            this.on(src) as Float32Array,
            out,
            starts.reduce((o, s, i) => o + s * strides[i]!, 0),
            shape,
            strides,
            false,
          );
        },
      ),
  };
  private make(n: number, fill: (out: Float32Array) => void): FakeArray {
    const out = new Float32Array(n);
    fill(out);
    return new FakeArray(out, this);
  }
  /** Custom kernels (the flow layers'): their CPU loops on the device's own arrays, outputs left there. */
  run<A>(kernel: CustomKernel<A>, inputs: ReadonlyArray<KernelInput | null>, args: A): KernelInput[] {
    const outputs = kernel.outputs(args).map((n) => new Float32Array(n));
    kernel.cpu(
      inputs.map((x) => (x === null ? null : (this.on(x) as Float32Array))),
      args,
      outputs,
    );
    return outputs.map((o) => new FakeArray(o, this));
  }
  backend(): Backend {
    return backendFrom({
      name: "fake-device",
      host: cpuBackend.host,
      resident: this.resident,
      run: (k, i, a) => this.run(k, i, a),
    });
  }
}

const f32 = (values: number[], shape: number[]) => new ag.Tensor(Float32Array.from(values), shape);

describe("device-resident tensors (stand-in device)", () => {
  afterEach(() => setBackend("cpu"));

  it("op outputs stay on the device; values come back once, when asked for, and free the device copy", () => {
    const device = new FakeDevice();
    setBackend(device.backend());
    const x = f32([0.5, -1, 2, 3, -0.25, 1.5], [2, 3]),
      w = f32([1, 2, 0.5, -1, 0, 3], [3, 2]);
    const h = x.matmul(w).tanh().mul(2);
    const y = h.sum(1);
    for (const t of [h, y]) expect(t.storage.onDevice).toBe(true);
    expect(device.reads).toBe(0);
    expect(device.live.size).toBe(4); // matmul, tanh, mul, sum outputs
    const r = h.reshape([4]);
    expect(r.storage).toBe(h.storage); // a reshape shares the storage: no copy, no read back
    setBackend("cpu");
    const expected = x.matmul(w).tanh().mul(2).sum(1).data;
    // Reading is a named transfer: .data refuses a tensor on the device, saying how to bring it back.
    expect(() => y.data).toThrow(/its values are on the device; bring them to the host by name first: t\.toHost\(\)/);
    expect(device.reads).toBe(0);
    expectClose(y.toHost().data, expected, 1e-6, 1e-6);
    expect(device.reads).toBe(1);
    expect(y.storage.onDevice).toBe(false);
    expect(device.live.size).toBe(3);
    y.toHost(); // nothing left to transfer
    expect(device.reads).toBe(1);
  });

  it("tidy frees what a scope made, except what it returns or keeps; a freed tensor says so when used", () => {
    const device = new FakeDevice();
    setBackend(device.backend());
    const x = f32([1, 2, 3, 4], [4]);
    let inner: ag.Tensor | null = null;
    const { a, list } = ag.tidy(() => {
      inner = x.exp();
      const kept = ag.keep(x.square());
      return { a: inner.add(1), list: [kept, x.neg()] };
    });
    expect(device.live.size).toBe(3); // a, kept, x.neg(); inner is freed
    expect(() => inner!.toHost().data).toThrow(
      /its device memory was freed when the tidy\(\) scope that made it ended; return it from the scope, or keep\(\) it/,
    );
    expectClose(
      a.toHost().data,
      [1, 2, 3, 4].map((v) => Math.fround(Math.exp(v)) + 1),
      1e-6,
    );
    expectClose(list[0]!.toHost().data, [1, 4, 9, 16]);
    // A nested scope's result belongs to the enclosing scope, and an error still frees the scope.
    const before = device.live.size;
    ag.tidy(() => {
      const fromInner = ag.tidy(() => x.mul(3));
      expect(fromInner.storage.onDevice).toBe(true);
      return null;
    });
    expect(device.live.size).toBe(before);
    expect(() =>
      ag.tidy(() => {
        x.mul(5);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(device.live.size).toBe(before);
  });

  it("training steps in tidy(): gradients, parameters and optimizer state stay on the device; only the loss is read; memory stays flat; results match the CPU", () => {
    const device = new FakeDevice();
    const run = (backend: Backend | "cpu") => {
      setBackend(backend);
      const { net, opt, step } = tinyRegression();
      const losses: number[] = [],
        live: number[] = [],
        reads: number[] = [];
      for (let t = 0; t < 200; t++) {
        const readsBefore = device.reads;
        const loss = step().item();
        if (backend !== "cpu") for (const p of net.parameters()) expect(p.grad!.storage.onDevice).toBe(true); // kept past the scope, on the device
        opt.step();
        if (backend !== "cpu")
          for (const p of net.parameters()) expect(p.storage.onDevice && p.grad!.storage.onDevice).toBe(true); // updated there
        reads.push(device.reads - readsBefore);
        losses.push(loss);
        live.push(device.live.size);
      }
      const weights = net.parameters().map((p) => Array.from(p.toHost().data));
      setBackend("cpu");
      return { losses, live, reads, weights };
    };
    const onDevice = run(device.backend()),
      onCpu = run("cpu");
    expect(onDevice.reads.every((n) => n === 1)).toBe(true); // the loss
    // After every step: the target, and per parameter (4) itself, its gradient and Adam's 2 moments.
    expect(onDevice.live.every((n) => n === 1 + 4 * 4)).toBe(true);
    expect(onDevice.losses[199]!).toBeLessThan(onDevice.losses[0]! / 5);
    expectClose(onDevice.losses, onCpu.losses, 1e-4, 1e-6); // the same math, in float32 on the device
    onDevice.weights.forEach((w, i) => expectClose(w, onCpu.weights[i]!, 1e-3, 1e-5));
  });

  it("optimizer steps on the device match the host's for SGD (with momentum), Adam and RMSprop, and move back to the host when gradients do", () => {
    const device = new FakeDevice();
    const run = (backend: Backend | "cpu", make: (ps: ag.Tensor[]) => ag.Optimizer) => {
      setBackend(backend);
      const x = ag.randn([5, 3], { random: 9, dtype: "float32" }).requireGrad(),
        y = ag.randn([3], { random: 10, dtype: "float32" }).requireGrad();
      const opt = make([x, y]);
      for (let t = 0; t < 5; t++) {
        opt.zeroGrad();
        ag.tidy(() =>
          x
            .mul(1)
            .matmul(y.mul(1).reshape([3, 1]))
            .tanh()
            .sum()
            .backward(),
        ); // on the device where there is one
        opt.step();
      }
      if (backend !== "cpu") {
        expect(x.storage.onDevice).toBe(true);
        // A step on host gradients (work kept on the host) reads the state back and goes on there.
        setBackend("cpu");
        opt.zeroGrad();
        x.matmul(y.reshape([3, 1]))
          .tanh()
          .sum()
          .backward();
        opt.step();
        expect(x.storage.onDevice).toBe(false);
      } else {
        opt.zeroGrad();
        x.matmul(y.reshape([3, 1]))
          .tanh()
          .sum()
          .backward();
        opt.step();
      }
      opt.dispose();
      return [Array.from(x.toHost().data), Array.from(y.toHost().data)];
    };
    const makers: Array<(ps: ag.Tensor[]) => ag.Optimizer> = [
      (ps) => new ag.SGD(ps, { lr: 0.1, momentum: 0.9 }),
      (ps) => new ag.Adam(ps, { lr: 0.05 }),
      (ps) => new ag.RMSprop(ps, { lr: 0.01, momentum: 0.5 }),
    ];
    for (const make of makers) {
      const onDevice = run(device.backend(), make),
        onCpu = run("cpu", make);
      onDevice.forEach((v, i) => expectClose(v, onCpu[i]!, 1e-4, 1e-6));
    }
    expect(device.live.size).toBe(0); // parameters read back, gradients dropped, state disposed
  });

  it("zeroGrad() frees a gradient's device memory; using it afterwards says so", () => {
    const device = new FakeDevice();
    setBackend(device.backend());
    const w = f32([1, 2, 3], [3]).requireGrad();
    w.mul(w).sum().backward();
    const g = w.grad!;
    expect(g.storage.onDevice).toBe(true);
    const before = device.live.size;
    w.zeroGrad();
    expect(device.live.size).toBe(before - 1);
    expect(() => g.toHost().data).toThrow(/freed when zeroGrad\(\) dropped the gradient/);
  });

  it("flow layers, copies, where and logsumexp keep a whole planar/radial density step on the device: only the loss and the gradients are read", () => {
    const device = new FakeDevice();
    const step = (backend: Backend | "cpu") => {
      setBackend(backend);
      const readsBefore = device.reads;
      const { loss, params } = flowDensityStep();
      const readsInStep = device.reads - readsBefore;
      const grads = params.map((t) => Array.from(t.grad!.toHost().data));
      setBackend("cpu");
      return { loss: loss.item(), grads, readsInStep };
    };
    const onDevice = step(device.backend()),
      onCpu = step("cpu");
    expect(onDevice.readsInStep).toBe(0);
    expect(onDevice.loss).toBeCloseTo(onCpu.loss, 4);
    onDevice.grads.forEach((g, i) => expectClose(g, onCpu.grads[i]!, 1e-4, 1e-5));
  });

  it("concat, split, slice, indexSelect and their gradients stay on the device; concat's placed copies are freed at once", () => {
    const device = new FakeDevice();
    setBackend(device.backend());
    const a = f32([1, 2, 3, 4], [2, 2]).requireGrad(),
      b = f32([5, 6], [2, 1]).requireGrad();
    const x = a.mul(1),
      y = b.mul(1); // on the device
    const before = device.live.size;
    const c = ag.concat([x, y], 1);
    expect(c.storage.onDevice).toBe(true);
    expect(device.live.size - before).toBe(1); // the result only
    const [p, q] = ag.split(c, [1, 2], 1);
    const picked = c.indexSelect(0, [1, 1, 0]); // rows 1, 1, 0: row 1's gradient adds up twice
    const loss = p!
      .sum()
      .add(q!.slice([0, 1], [2, 2]).mul(3).sum())
      .add(
        picked
          .sum(1)
          .mul(ag.tensor([1, 2, 4], { dtype: "float32" }))
          .sum(),
      );
    const reads = device.reads;
    loss.backward();
    expect(device.reads).toBe(reads);
    setBackend("cpu");
    expectClose(c.toHost().data, [1, 2, 5, 3, 4, 6]);
    // dL/dc = [[1, 0, 3], [1, 0, 3]] + the picks' row weights (row 0: 4, row 1: 1 + 2)
    expectClose(a.grad!.toHost().data, [5, 4, 4, 3]);
    expectClose(b.grad!.toHost().data, [7, 6]);
  });

  it("auto: small work on host inputs runs on the host; large work, and any op with an input on the device, runs there", () => {
    const device = new FakeDevice();
    setBackend(autoBackend(cpuBackend, device.backend(), 1000));
    const small = f32([1, 2, 3], [3]);
    expect(small.exp().storage.onDevice).toBe(false);
    const big = ag.randn([40, 40], { random: 1, dtype: "float32" });
    const h = big.matmul(big); // 40³/64 = 1000: at the threshold
    expect(h.storage.onDevice).toBe(true);
    const s = h.sum(); // one value out, but its input is on the device: no read-back
    const t = s.add(1).mul(small.sum());
    expect(s.storage.onDevice && t.storage.onDevice).toBe(true);
    expect(device.reads).toBe(0);
    setBackend("cpu");
    expectClose(t.toHost().data, [(big.matmul(big).sum().item() + 1) * 6], 1e-5);
  });

  it("auto: products go by multiply-adds and everything else by elements, each with its own threshold", () => {
    const device = new FakeDevice();
    setBackend(autoBackend(cpuBackend, device.backend(), { elements: Infinity, multiplyAdds: 8 ** 3 }));
    const a = ag.randn([8, 8], { random: 2, dtype: "float32" }),
      b = ag.randn([7, 7], { random: 3, dtype: "float32" });
    expect(a.matmul(a).storage.onDevice).toBe(true); // 512 multiply-adds: at the threshold
    expect(b.matmul(b).storage.onDevice).toBe(false); // 343: below it
    expect(ag.randn([1 << 20], { random: 4, dtype: "float32" }).exp().storage.onDevice).toBe(false); // elements: never
    setBackend(autoBackend(cpuBackend, device.backend(), 64)); // one number: elements, and 64× that in multiply-adds
    expect(ag.randn([64], { random: 5, dtype: "float32" }).exp().storage.onDevice).toBe(true);
    expect(ag.randn([63], { random: 5, dtype: "float32" }).exp().storage.onDevice).toBe(false);
    expect(b.matmul(b).storage.onDevice).toBe(false); // 343 < 4096
    expect(
      ag.randn([16, 16], { random: 6, dtype: "float32" }).matmul(ag.randn([16, 16], { random: 7, dtype: "float32" }))
        .storage.onDevice,
    ).toBe(true); // 4096
    expect(() => autoBackend(cpuBackend, device.backend(), { elements: -1, multiplyAdds: 1 })).toThrow(
      /threshold elements must be a number ≥ 0/,
    );
    expect(() => autoBackend(cpuBackend, device.backend(), Number.NaN)).toThrow(/threshold elements/);
  });

  it("FLOWGRAD_AUTO_THRESHOLD reads one or two counts (or inf) and names what it expected otherwise", () => {
    expect(parseAutoThreshold("65536")).toEqual({ elements: 65536, multiplyAdds: 65536 * 64 });
    expect(parseAutoThreshold("262144, 1e6")).toEqual({ elements: 262144, multiplyAdds: 1e6 });
    expect(parseAutoThreshold("inf,4096")).toEqual({ elements: Infinity, multiplyAdds: 4096 });
    for (const bad of ["", "fast", "-5", "1,2,3", "64k"])
      expect(() => parseAutoThreshold(bad)).toThrow(
        /FLOWGRAD_AUTO_THRESHOLD=.*expected ELEMENTS or ELEMENTS,MULTIPLY_ADDS/,
      );
  });

  it("crossover: the least work from which gpu.js won at every larger size; a lone early win is noise", () => {
    const row = (work: number, cpuMs: number, gpuMs: number): CalibrationRow => ({
      kind: "elementwise",
      size: work,
      work,
      cpuMs,
      gpuMs,
    });
    expect(crossover([row(1, 1, 5), row(4, 2, 6), row(16, 8, 7), row(64, 30, 9)], "elementwise")).toBe(16);
    expect(crossover([row(64, 30, 9), row(1, 1, 0.5), row(4, 2, 6), row(16, 8, 7)], "elementwise")).toBe(16); // unsorted input, early win ignored
    expect(crossover([row(1, 1, 5), row(4, 2, 1), row(16, 8, 9)], "elementwise")).toBe(Infinity); // lost at the largest
    expect(crossover([row(1, 2, 1), row(4, 3, 1)], "elementwise")).toBe(1);
    expect(crossover([row(1, 2, 1)], "matmul")).toBe(Infinity); // no rows of that kind
  });

  it("calibrateAuto times both backends at every size, frees what it put on the device, and reads its thresholds off the rows", async () => {
    const device = new FakeDevice();
    const gpu = {
      ...device.backend(),
      info: { gpuMode: "webgpu" as const, kernelClass: "FakeKernel", adapter: "stand-in" },
    };
    const progress: number[] = [];
    const c = await calibrateAuto(gpu, {
      elementSizes: [256, 16],
      matmulSizes: [4, 8],
      msPerCase: 0,
      onProgress: (done, total) => progress.push(done / total),
    });
    expect(device.live.size).toBe(0);
    expect(device.reads).toBeGreaterThan(0); // each chain ends with one read, as "auto" would
    expect(progress.at(-1)).toBe(1);
    const measured = c.rows.map((r) => `${r.kind} ${r.size}`);
    // Sizes run ascending; once gpu.js has won twice in a row the larger ones are skipped.
    expect(measured.slice(0, 1)).toEqual(["elementwise 16"]);
    expect(measured.filter((m) => m.startsWith("matmul"))[0]).toBe("matmul 4");
    for (const r of c.rows) {
      expect(r.cpuMs).toBeGreaterThanOrEqual(0);
      expect(r.gpuMs).toBeGreaterThanOrEqual(0);
      expect(r.work).toBe(r.kind === "matmul" ? r.size ** 3 : r.size);
    }
    expect(c.thresholds).toEqual({
      elements: crossover(c.rows, "elementwise"),
      multiplyAdds: crossover(c.rows, "matmul"),
    });
    expect(c.gpu).toEqual({ gpuMode: "webgpu", kernelClass: "FakeKernel", adapter: "stand-in" });
    await expect(calibrateAuto(gpu, { elementSizes: [0] })).rejects.toThrow(/elementSizes must be positive integers/);
  });

  it("a device whose optimizer state comes back one array per buffer (not packed) steps as the CPU does", async () => {
    await expectDeviceUpdatesMatch(
      new FakeDevice().resident,
      (x) => x.readAsync(),
      (a, e) => expectClose(a, e, 1e-5, 1e-6),
    ); // float32 arrays against float64
  });

  it("backward takes a parameter's gradient from the kernel that made it: no copy per parameter", () => {
    const device = new FakeDevice();
    const binary = device.resident.binary;
    let binaries = 0;
    device.resident.binary = (...args) => {
      binaries++;
      return binary(...args);
    };
    setBackend(device.backend());
    const x = f32([1, 2, 3], [3]).exp(),
      w = f32([4, 5, 6], [3]).exp().detach().requireGrad();
    const y = w.mul(x).sum();
    binaries = 0;
    y.backward();
    expect(binaries).toBe(1); // dy/dw = g·x, taken as w.grad (a copy would be a second launch)
    expect(w.grad!.storage.onDevice).toBe(true);
    setBackend("cpu");
    expectClose(w.grad!.toHost().data, [1, 2, 3].map(Math.exp), 1e-6);
  });

  it("astype on the device is a relabelled copy there, and its gradient comes back converted", () => {
    const device = new FakeDevice();
    setBackend(device.backend());
    const x = f32([1, 2, 3], [3]).requireGrad();
    const y = x.mul(2).astype("float64");
    expect(y.storage.onDevice).toBe(true);
    expect(y.dtype).toBe("float64");
    y.square().sum().backward();
    expect(device.reads).toBe(0);
    expect(x.grad!.dtype).toBe("float32");
    expect(y.toHost().data).toBeInstanceOf(Float64Array);
    expectClose(y.toHost().data, [2, 4, 6]);
    expectClose(x.grad!.toHost().data, [8, 16, 24]); // d/dx (2x)² = 8x
  });

  it("without tidy, a device tensor's memory goes when its values are read", () => {
    const device = new FakeDevice();
    setBackend(device.backend());
    const t = f32([1, 2], [2]).exp();
    expect(device.live.size).toBe(1);
    expect(t.item === undefined).toBe(false);
    t.toHost().data; // eslint-disable-line @typescript-eslint/no-unused-expressions
    expect(device.live.size).toBe(0);
  });

  it("second derivatives on the device (hvp, jvp through fused flow layers, matmul, logsumexp, slice, indexSelect, split) match the CPU's float64", () => {
    const reference = secondOrderReference();
    const device = new FakeDevice();
    setBackend(device.backend());
    const { f, x, v } = secondOrderCase("float32");
    const [hv, jv, byBackward] = ag.tidy(() => [ag.hvp(f, x, v), ag.jvp(f, x, v), hvpByBackward(f, x, v)]);
    expect(device.live.size).toBe(3); // the results alone: the graphs' arrays went with the scope
    expect(hv.storage.onDevice && jv.storage.onDevice).toBe(true); // computed there, not read back
    const scale = Math.max(...Array.from(reference.hvp, Math.abs));
    expectClose(hv.toHost().data, reference.hvp, 1e-4, 1e-4 * scale);
    expectClose(jv.toHost().data, [reference.jvp], 1e-4, 1e-4);
    expect(byBackward.storage.onDevice).toBe(true); // the fused kernels' forward, their createGraph rules
    expectClose(byBackward.toHost().data, reference.hvp, 1e-4, 1e-4 * scale);
  });

  it("a training loop that uses hvp every step keeps device memory flat over 10,000 steps (the second-order graph is released)", () => {
    const device = new FakeDevice();
    setBackend(device.backend());
    // Gradient descent on a curvature-damped step: p ← p − lr (g − ½ H g) for f(p) = Σ softplus(A p)² / n.
    const A = f32([1, -0.5, 0.3, 2, -1, 0.7], [3, 2]);
    const f = (p: ag.Tensor) => A.matmul(p).softplus().square().mean();
    let p = f32([0.5, -0.3], [2]);
    const live: number[] = [];
    for (let t = 0; t < 10_000; t++) {
      const previous = p;
      p = ag.tidy(() => {
        const [g] = ag.grad(f)(p);
        const hg = ag.hvp(f, p, g!);
        return p.sub(g!.sub(hg.mul(0.5)).mul(0.05));
      });
      previous.storage.free("the loop replaced it"); // the step's result is the new parameter
      live.push(device.live.size);
    }
    expect(p.storage.onDevice).toBe(true);
    expect(new Set(live.slice(10)).size, `live device arrays: ${live.slice(0, 12).join(", ")} … ${live.at(-1)}`).toBe(
      1,
    );
    expect(live.at(-1)!).toBe(1); // the parameter alone
  });
});
