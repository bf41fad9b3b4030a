// The gpu.js kernels split flat indices into (point, coordinate), (row, column), … by float division,
// and WGSL lets f32 division be 2.5 ULP off: a GPU may compute x / y as x times an approximate 1/y,
// so 80 / 40 can come out 1.9999999 and floor to 1 (lavapipe and the CPU divide exactly, so no run
// here would show it). These tests run each kernel's source as JavaScript with every index division
// made one ulp off, toward −∞ and toward +∞, and ask for exactly the outputs of exact division.
import { describe, expect, it } from "vitest";
import { Random } from "../src/autograd/index.js";
import {
  type PointsArgs,
  planarBackwardKernel,
  planarConstraintBackwardKernel,
  planarConstraintKernel,
  planarForwardKernel,
  planarInverseKernel,
  type RowsArgs,
  radialBackwardKernel,
  radialForwardKernel,
  radialInverseKernel,
} from "../src/flows/index.js";
import { floorDiv, MAX_WIDTH } from "../src/kernels/gpu/sources.js";
import {
  binarySpec,
  gatherSpec,
  type KernelSpec,
  luSpec,
  matmulSpec,
  padSpec,
  reduceSpec,
  scatterAddSpec,
  stridedCopySpec,
  updateSpec,
} from "../src/kernels/gpu/specs.js";
import type { CustomKernel, KernelInput, TypedArray } from "../src/kernels/index.js";

type Divide = (a: number, b: number) => number;

const f32 = new Float32Array(1);
const bits = new Int32Array(f32.buffer);
/** a / b rounded to float32, then moved one ulp toward −∞ (lean −1) or +∞ (+1); 0 stays 0 (0 · 1/b is 0). */
const offByOneUlp =
  (lean: -1 | 1): Divide =>
  (a, b) => {
    f32[0] = a / b;
    if (f32[0] === 0) return 0;
    bits[0] += f32[0] > 0 ? lean : -lean;
    return f32[0];
  };
const exact: Divide = (a, b) => a / b;

/** The index divisions a source makes (every one goes through floorDiv: Math.floor(x / y)). */
const INDEX_DIVISION = /Math\.floor\(([\w.]+) \/ ([\w.]+|\([^()]*\))\)/g;

/**
 * The kernel's source run as JavaScript over its n outputs, written W wide as the kernel cache
 * lays them out, with its index divisions made by `divide`.
 */
function run(spec: KernelSpec, n: number, inputs: ReadonlyArray<ArrayLike<number>>, divide: Divide): Float64Array {
  const divisions = spec.source.match(INDEX_DIVISION)?.length ?? 0;
  // Every Math.floor of a kernel is an index division that the pattern sees, so none escapes `divide`.
  expect(divisions, spec.key).toBe(spec.source.split("Math.floor(").length - 1);
  const source = spec.source.replace(INDEX_DIVISION, "Math.floor(divide($1, $2))");
  const kernel = new Function("divide", `return ${source};`)(divide) as (...args: unknown[]) => number;
  const W = Math.min(Math.max(n, 1), MAX_WIDTH);
  const self = { thread: { x: 0, y: 0 }, constants: { ...spec.constants, W, n } };
  const out = new Float64Array(n);
  for (let tid = 0; tid < n; tid++) {
    self.thread.x = tid % W;
    self.thread.y = Math.floor(tid / W);
    out[tid] = kernel.apply(self, inputs as unknown[]);
  }
  return out;
}

/** Exact division, and division one ulp off either way, give the same outputs. */
function expectIndexSafe(spec: KernelSpec, n: number, inputs: ReadonlyArray<ArrayLike<number>>): Float64Array {
  const want = run(spec, n, inputs, exact);
  for (const lean of [-1, 1] as const) {
    const got = run(spec, n, inputs, offByOneUlp(lean));
    const wrong = want.reduce((count, v, i) => count + (Object.is(got[i], v) ? 0 : 1), 0);
    expect(wrong, `${spec.key}: outputs that change when division is a ulp off (lean ${lean})`).toBe(0);
  }
  return want;
}

const rng = new Random(11);
const normals = (n: number, scale = 1) => Float64Array.from({ length: n }, () => scale * rng.normal());
const positives = (n: number, lo: number) => Float64Array.from({ length: n }, () => lo + rng.uniform());

/** What a custom kernel's gpu.js program would launch: its spec, output sizes and inputs. */
function launched<A>(kernel: CustomKernel<A>, inputs: Array<TypedArray | null>, args: A) {
  let captured: { spec: KernelSpec; sizes: readonly number[]; inputs: ReadonlyArray<KernelInput> } | undefined;
  const launch = {
    packed(spec: KernelSpec, sizes: readonly number[], ins: ReadonlyArray<KernelInput>) {
      captured = { spec, sizes, inputs: ins };
      return [];
    },
  };
  kernel.gpu!(launch, inputs, args);
  return captured!;
}

/** The custom kernel's source, index-safe, and equal (exact division) to its CPU loop's outputs one after another. */
function expectCustomKernel<A>(kernel: CustomKernel<A>, inputs: Array<TypedArray | null>, args: A): void {
  const { spec, sizes, inputs: ins } = launched(kernel, inputs, args);
  const n = sizes.reduce((a, b) => a + b, 0);
  const got = expectIndexSafe(spec, n, ins as ReadonlyArray<ArrayLike<number>>);
  const outputs = kernel.outputs(args).map((size) => new Float64Array(size));
  kernel.cpu(inputs, args, outputs);
  const want = outputs.flatMap((o) => Array.from(o));
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 9);
}

/** 30 points of the paper's D = 40, with parameters per sample (rows = n) and shared (rows = 1). */
const LAYOUTS = [true, false].map((perSample) => ({
  args: { n: 30, d: 40, perSample } satisfies PointsArgs,
  rows: perSample ? 30 : 1,
}));

describe("index math in the gpu.js kernels, when the GPU's division is a ulp off", () => {
  it("floorDiv is ⌊x / y⌋ exactly, where Math.floor of the inexact quotient is not", () => {
    const viaFloorDiv = (divide: Divide) =>
      new Function(
        "divide",
        "x",
        "y",
        `${floorDiv("q", "x", "y").replace(INDEX_DIVISION, "Math.floor(divide($1, $2))")} return q;`,
      ).bind(null, divide) as (x: number, y: number) => number;
    const low = offByOneUlp(-1);
    let naiveWrong = 0;
    for (const y of [1, 2, 3, 7, 10, 40, 81, 100, 400, 784, 810, 4096, 6480]) {
      const xs = [
        ...Array.from({ length: 3000 }, (_, x) => x),
        ...Array.from({ length: 200 }, (_, k) => 2 ** 24 - 1 - 37 * k),
      ];
      for (const lean of [-1, 1] as const) {
        const q = viaFloorDiv(offByOneUlp(lean));
        for (const x of xs) expect(q(x, y), `⌊${x} / ${y}⌋, lean ${lean}`).toBe(Math.floor(x / y));
      }
      for (const x of xs) if (Math.floor(low(x, y)) !== Math.floor(x / y)) naiveWrong++;
    }
    // The emulated division does bite: flooring its quotient directly is wrong at every exact multiple.
    expect(naiveWrong).toBeGreaterThan(1000);
  });

  it("the fused planar layer: forward, backward (per sample and shared), constraint and its backward, inverse", () => {
    for (const { args, rows } of LAYOUTS) {
      const { n, d } = args;
      const [z, u, w, b] = [normals(n * d), normals(rows * d, 0.3), normals(rows * d, 0.3), normals(rows)];
      const sp = positives(rows, 0.05);
      expectCustomKernel(planarForwardKernel, [z, u, w, b, sp], args);
      expectCustomKernel(planarBackwardKernel, [z, u, w, b, sp, normals(n * d), normals(n)], args);
      expectCustomKernel(planarInverseKernel, [z, u, w, b, sp], args);
      const rowsArgs: RowsArgs = { rows, d };
      expectCustomKernel(planarConstraintKernel, [u, w], rowsArgs);
      expectCustomKernel(planarConstraintBackwardKernel, [u, w, normals(rows * d), normals(rows)], rowsArgs);
    }
  });

  it("the fused radial layer: forward, backward (per sample and shared), inverse", () => {
    for (const { args, rows } of LAYOUTS) {
      const { n, d } = args;
      const alpha = positives(rows, 0.1);
      const ab = alpha.map((a) => a + rng.uniform()); // α + β ≥ 0: the layer is invertible
      const [z, z0] = [normals(n * d), normals(rows * d)];
      expectCustomKernel(radialForwardKernel, [z, z0, alpha, ab], args);
      expectCustomKernel(radialBackwardKernel, [z, z0, alpha, ab, normals(n * d), normals(n)], args);
      expectCustomKernel(radialInverseKernel, [z, z0, alpha, ab], args);
    }
  });

  it("the core kernels: broadcasting, strided copies, padding, gathers, reductions, matmul, updates, LU", () => {
    const a = normals(3 * 40),
      b = normals(5 * 40);
    // [3, 1, 40] + [1, 5, 40]: each output index split into three coordinates
    const sum = expectIndexSafe(binarySpec("add", [3, 1, 40], [1, 5, 40], [3, 5, 40]), 600, [a, b]);
    expect(sum[(2 * 5 + 4) * 40 + 39]).toBe(a[2 * 40 + 39]! + b[4 * 40 + 39]!);
    // columns 81·k + 40 … of a [100, 810] head, as a flow's w is sliced from it
    const head = normals(100 * 810);
    const w = expectIndexSafe(stridedCopySpec(40, [100, 40], [810, 1]), 4000, [head]);
    expect(w[41]).toBe(head[810 + 40 + 1]);
    expectIndexSafe(padSpec([30, 40], [0, 40], [30, 81]), 30 * 81, [normals(30 * 40)]);
    const indices = Int32Array.of(3, 0, 7, 7);
    expectIndexSafe(gatherSpec(6, 8, 40, 4), 6 * 4 * 40, [normals(6 * 8 * 40), indices]);
    expectIndexSafe(scatterAddSpec(6, 8, 40, 4), 6 * 8 * 40, [normals(6 * 4 * 40), indices]);
    expectIndexSafe(reduceSpec("sum", 30, 40, 7), 30 * 7, [normals(30 * 40 * 7)]);
    expectIndexSafe(reduceSpec("max", 40, 80, 1), 40, [normals(40 * 80)]);
    const [m, k, nn] = [30, 40, 81];
    const [ma, mb] = [normals(2 * m * k), normals(2 * k * nn)];
    const c = expectIndexSafe(matmulSpec(2, m, k, nn, false, false), 2 * m * nn, [
      ma,
      mb,
      Int32Array.of(0, m * k),
      Int32Array.of(0, k * nn),
    ]);
    let c1 = 0; // batch 1, row 29, column 80
    for (let p = 0; p < k; p++) c1 += ma[m * k + 29 * k + p]! * mb[k * nn + p * nn + 80]!;
    expect(c[m * nn + 29 * nn + 80]).toBeCloseTo(c1, 12);
    const len = 400;
    const adam = Float32Array.of(1e-3, 0.9, 0.1, 0.999, 0.001, 1e-8, 0.001);
    expectIndexSafe(updateSpec("adam", false, len), 3 * len, [
      normals(len),
      normals(len),
      normals(len),
      positives(len, 0),
      adam,
    ]);
    const [mats, d] = [6, 40];
    const lu0 = expectIndexSafe(luSpec("start", mats, d), mats * d * d + 2 * mats, [normals(mats * d * d)]);
    expectIndexSafe(luSpec("step", mats, d), mats * d * d + 2 * mats, [lu0, Int32Array.of(0)]);
  });

  it("no kernel source splits an index with % (WGSL's % divides as / does)", () => {
    const sources = [
      binarySpec("add", [3, 1, 40], [1, 5, 40], [3, 5, 40]),
      stridedCopySpec(40, [100, 40], [810, 1]),
      padSpec([30, 40], [0, 40], [30, 81]),
      matmulSpec(2, 30, 40, 81, true, true),
      launched(planarBackwardKernel, [null, null, null, null, null, null, null], { n: 3, d: 40, perSample: true }).spec,
    ].map((spec) => spec.source);
    for (const source of sources) expect(source).not.toMatch(/ % /);
  });
});
