import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  cpuKernelInfo,
  cpuKernels,
  setCpuKernels,
  startCpuThreads,
  THREADS_FROM,
  typescriptKernels,
  WASM_FROM,
} from "../src/kernels/index.js";
import { poolStartsAsync, rowRange, runShare } from "../src/kernels/wasm/threads.js";
import { stubRuntimeWithoutSimd } from "./helpers.js";

// The WebAssembly SIMD products (src/kernels/wasm) against arithmetic, not against themselves.
// Each element of C is summed in k order, one rounded multiply and one rounded add per term, so:
// float64 equals the plain loop `s += a·b` bit for bit, float32 equals the same loop with every
// step rounded to float32 (Math.fround), and the TypeScript kernels (which add four terms before
// adding them to s) agree to the summation-order bound k·ε·Σ|a||b|.

type Dtype = "float64" | "float32";
const ctor = (d: Dtype) => (d === "float64" ? Float64Array : Float32Array);

/** Seeded values in [-1, 1), so a failure is reproducible. */
function values(n: number, seed: number, d: Dtype): Float64Array | Float32Array {
  let s = seed >>> 0;
  const out = new (ctor(d))(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** op(X)[r, c] where X is stored row-major with `cols` columns, transposed or not. */
const at = (x: ArrayLike<number>, cols: number, trans: boolean) => (r: number, c: number) =>
  trans ? x[c * cols + r]! : x[r * cols + c]!;

/** Sequential k-order sums, in float64 or (every step rounded) float32; and Σ|a||b| per element. */
function sequential(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
  tA: boolean,
  tB: boolean,
  d: Dtype,
) {
  const A = at(a, tA ? m : k, tA);
  const B = at(b, tB ? k : n, tB);
  const round = d === "float32" ? Math.fround : (v: number) => v;
  const sum = new Float64Array(m * n),
    abs = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0,
        t = 0;
      for (let p = 0; p < k; p++) {
        s = round(s + round(A(i, p) * B(p, j)));
        t += Math.abs(A(i, p) * B(p, j));
      }
      sum[i * n + j] = s;
      abs[i * n + j] = t;
    }
  return { sum, abs };
}

function product(
  kernels: typeof cpuKernels,
  a: Float64Array | Float32Array,
  b: Float64Array | Float32Array,
  m: number,
  k: number,
  n: number,
  tA: boolean,
  tB: boolean,
) {
  const out = new (a.constructor as Float64ArrayConstructor)(m * n);
  kernels.matmul(a, Int32Array.of(0), b, Int32Array.of(0), out, m, k, n, tA, tB);
  return out;
}

// Ones, odd sizes, the 4-row tile's edges, and depths and widths across the packed blocks (256).
const SHAPES: Array<[number, number, number]> = [
  [1, 4096, 1],
  [17, 17, 17],
  [3, 17, 513],
  [63, 513, 3],
  [513, 3, 63],
  [17, 257, 63],
  [5, 300, 300],
  [64, 64, 64],
];
const TRANSPOSES: Array<[boolean, boolean]> = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

afterEach(() => setCpuKernels({ kernels: "wasm", threads: 2 }));

describe("WebAssembly SIMD matmul", () => {
  it("runs here (Node 20 has WebAssembly SIMD) and says so", () => {
    setCpuKernels({ kernels: "wasm", threads: 1 });
    expect(cpuKernelInfo()).toMatchObject({ matmul: "wasm-simd", reason: null });
  });

  for (const d of ["float64", "float32"] as const)
    for (const [m, k, n] of SHAPES)
      for (const [tA, tB] of TRANSPOSES)
        it(`${d} ${m}×${k}·${k}×${n}${tA ? " Aᵀ" : ""}${tB ? " Bᵀ" : ""}: the k-order sum exactly, on 1 thread and on 2, 3`, () => {
          const a = values(m * k, m + 7 * k, d),
            b = values(k * n, n + 11 * k, d);
          const { sum, abs } = sequential(a, b, m, k, n, tA, tB, d);
          setCpuKernels({ kernels: "wasm", threads: 1 });
          const before = cpuKernelInfo().calls.wasm;
          const one = product(cpuKernels, a, b, m, k, n, tA, tB);
          expect(cpuKernelInfo().calls.wasm).toBe(before + 1);
          expect(Array.from(one)).toEqual(Array.from(sum));
          for (const threads of [2, 3]) {
            setCpuKernels({ threads });
            const shared = product(cpuKernels, a, b, m, k, n, tA, tB);
            expect(Array.from(shared)).toEqual(Array.from(one));
          }
          // The TypeScript reference sums in another order: equal within k·ε·Σ|a||b| (ε of the dtype).
          const ts = product(typescriptKernels, a, b, m, k, n, tA, tB);
          const eps = d === "float64" ? 2 ** -52 : 2 ** -23;
          let worst = 0;
          for (let i = 0; i < ts.length; i++)
            worst = Math.max(worst, Math.abs(ts[i]! - one[i]!) / (2 * k * eps * abs[i]! || 1));
          expect(worst).toBeLessThanOrEqual(1);
        });

  it("large products go to the threads, and give the single-thread result bit for bit", () => {
    const [m, k, n] = [130, 128, 128]; // 2.1M multiply-adds: past THREADS_FROM
    const a = values(m * k, 1, "float64"),
      b = values(k * n, 2, "float64");
    setCpuKernels({ threads: 1 });
    const one = product(cpuKernels, a, b, m, k, n, false, true);
    setCpuKernels({ threads: 2 });
    const before = cpuKernelInfo().calls.threaded;
    const two = product(cpuKernels, a, b, m, k, n, false, true);
    expect(cpuKernelInfo().calls.threaded).toBe(before + 1);
    expect(cpuKernelInfo().threads).toBe(2);
    expect(Array.from(two)).toEqual(Array.from(one));
  });

  it("startCpuThreads starts the pool ahead of the first large product and says what products will run on", async () => {
    setCpuKernels({ threads: 3 });
    expect(poolStartsAsync()).toBe(false); // Node: workers start synchronously; a page's start only while it is free
    const info = await startCpuThreads();
    expect(info).toMatchObject({ matmul: "wasm-simd", threads: 3, reason: null });
    const [m, k, n] = [130, 128, 128]; // past THREADS_FROM
    const a = values(m * k, 3, "float64"),
      b = values(k * n, 4, "float64");
    const before = cpuKernelInfo().calls.threaded;
    const three = product(cpuKernels, a, b, m, k, n, false, false);
    expect(cpuKernelInfo().calls.threaded).toBe(before + 1);
    setCpuKernels({ threads: 1 });
    expect(Array.from(product(cpuKernels, a, b, m, k, n, false, false))).toEqual(Array.from(three));
    setCpuKernels({ threads: 2 });
  });
  it("the workers' code is self-contained: rowRange and runShare rebuilt from their source (as a bundler's renaming leaves it) agree", () => {
    // The workers get these two functions as source text; nothing they use may come from outside them.
    const rebuiltRange = new Function(`return ${rowRange.toString()}`)() as typeof rowRange;
    const rebuiltShare = new Function(`return ${runShare.toString()}`)() as typeof runShare;
    for (const [m, threads, index] of [
      [130, 3, 2],
      [17, 2, 1],
      [4, 5, 4],
    ] as const)
      expect(rebuiltRange(m, threads, index)).toEqual(rowRange(m, threads, index));
    const calls: number[][] = [];
    const record = (...args: number[]) => void calls.push(args);
    const job = {
      float32: false,
      a: 1,
      ais: 2,
      aps: 3,
      b: 4,
      bps: 5,
      bjs: 6,
      c: 7,
      m: 10,
      k: 8,
      n: 9,
      threads: 2,
      scratch: 100,
      scratchBytes: 50,
    };
    rebuiltShare({ gemmF32: record, gemmF64: record } as never, job, 1, rebuiltRange);
    expect(calls).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 10, 150]]); // rows 8–10 of 10, its own scratch
  });
  it("row ranges cover every row once, in 4-row tiles, whatever the thread count", () => {
    for (const m of [1, 3, 4, 5, 17, 130])
      for (const threads of [1, 2, 3, 8]) {
        const covered: number[] = [];
        for (let t = 0; t < threads; t++) {
          const [r0, r1] = rowRange(m, threads, t);
          if (r0 < r1) expect(r0 % 4).toBe(0);
          for (let r = r0; r < r1; r++) covered.push(r);
        }
        expect(covered).toEqual(Array.from({ length: m }, (_, i) => i));
      }
  });

  it("batched products with broadcast offsets, and an empty sum (k = 0) is zero", () => {
    const [m, k, n] = [9, 33, 21];
    const a = values(2 * m * k, 3, "float64"),
      b = values(k * n, 4, "float64");
    const out = new Float64Array(3 * m * n).fill(7);
    // Three products: A0·B, A1·B, A0·B (B broadcast, A0 reused).
    cpuKernels.matmul(a, Int32Array.of(0, m * k, 0), b, Int32Array.of(0, 0, 0), out, m, k, n, false, false);
    const first = sequential(a.subarray(0, m * k), b, m, k, n, false, false, "float64").sum;
    const second = sequential(a.subarray(m * k), b, m, k, n, false, false, "float64").sum;
    expect(Array.from(out.subarray(0, m * n))).toEqual(Array.from(first));
    expect(Array.from(out.subarray(m * n, 2 * m * n))).toEqual(Array.from(second));
    expect(Array.from(out.subarray(2 * m * n))).toEqual(Array.from(first));
    const empty = new Float64Array(64 * 64).fill(5);
    // An empty sum (k = 0): zeros, whatever was in the output before.
    cpuKernels.matmul(
      new Float64Array(0),
      Int32Array.of(0),
      new Float64Array(0),
      Int32Array.of(0),
      empty,
      64,
      0,
      64,
      false,
      false,
    );
    expect(empty.every((v) => v === 0)).toBe(true);
  });

  it("forced off, the TypeScript loops run and backendInfo says why", () => {
    setCpuKernels({ kernels: "plain" });
    const info = cpuKernelInfo();
    expect(info.matmul).toBe("typescript");
    expect(info.reason).toMatch(/FLOWGRAD_CPU_KERNELS=plain/);
    const before = info.calls.typescript;
    const a = values(64 * 64, 5, "float64");
    product(cpuKernels, a, a, 64, 64, 64, false, false);
    expect(cpuKernelInfo().calls.typescript).toBe(before + 1);
  });

  it("the thresholds are the crossovers npm run bench:matmul measured (results/matmul-bench.json)", () => {
    const file = path.resolve(import.meta.dirname, "../results/matmul-bench.json");
    const { crossovers } = JSON.parse(readFileSync(file, "utf8")) as {
      crossovers: Record<"wasmOverTypescript" | "threadsOverOne", { float64: number; float32: number }>;
    };
    // The later of the two dtypes' crossovers, so neither is sent where it measured slower.
    expect(WASM_FROM).toBe(Math.max(crossovers.wasmOverTypescript.float64, crossovers.wasmOverTypescript.float32));
    expect(THREADS_FROM).toBe(Math.max(crossovers.threadsOverOne.float64, crossovers.threadsOverOne.float32));
  });

  it("bad settings are named", () => {
    expect(() => setCpuKernels({ threads: 0 })).toThrow(/thread count must be a whole number from 1 to 256/);
    expect(() => setCpuKernels({ threads: 1.5 })).toThrow(/thread count/);
    expect(() => setCpuKernels({ kernels: "fast" as "wasm" })).toThrow(/kernels must be "wasm" or "plain"/);
  });
});

describe("WebAssembly SIMD matmul: settings from the environment and runtimes without SIMD", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it("FLOWGRAD_CPU_KERNELS and FLOWGRAD_THREADS are read, and a bad value is named", async () => {
    vi.resetModules();
    vi.stubEnv("FLOWGRAD_CPU_KERNELS", "plain");
    vi.stubEnv("FLOWGRAD_THREADS", "3");
    const fresh = await import("../src/kernels/wasm/matmul.js");
    expect(fresh.cpuKernelInfo()).toMatchObject({ matmul: "typescript" });
    fresh.setCpuKernels({ kernels: "wasm" });
    expect(fresh.cpuKernelInfo()).toMatchObject({ matmul: "wasm-simd", threads: 3 });
    vi.resetModules();
    vi.stubEnv("FLOWGRAD_CPU_KERNELS", "turbo");
    const bad = await import("../src/kernels/wasm/matmul.js");
    expect(() => bad.cpuKernelInfo()).toThrow(/FLOWGRAD_CPU_KERNELS="turbo": choose wasm \(the default\) or plain/);
    vi.resetModules();
    vi.stubEnv("FLOWGRAD_CPU_KERNELS", "wasm");
    vi.stubEnv("FLOWGRAD_THREADS", "many");
    const badThreads = await import("../src/kernels/wasm/matmul.js");
    expect(() => badThreads.cpuKernelInfo()).toThrow(/FLOWGRAD_THREADS=many: the thread count/);
  });

  it("a runtime that cannot compile SIMD gets the TypeScript loops, a one-line notice and right answers", async () => {
    vi.resetModules();
    stubRuntimeWithoutSimd();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const fresh = await import("../src/kernels/wasm/matmul.js");
    const a = values(32 * 32, 9, "float64");
    const out = new Float64Array(32 * 32);
    fresh.matmul(a, Int32Array.of(0), a, Int32Array.of(0), out, 32, 32, 32, false, false);
    fresh.matmul(a, Int32Array.of(0), a, Int32Array.of(0), out, 32, 32, 32, false, false);
    const { sum, abs } = sequential(a, a, 32, 32, 32, false, false, "float64");
    for (let i = 0; i < out.length; i++)
      expect(Math.abs(out[i]! - sum[i]!)).toBeLessThanOrEqual(64 * 2 ** -52 * abs[i]!);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/cannot compile the WebAssembly SIMD kernels.*TypeScript loops/);
    expect(fresh.cpuKernelInfo()).toMatchObject({ matmul: "typescript", calls: { typescript: 2, wasm: 0 } });
    expect(fresh.cpuKernelInfo().reason).toMatch(/invalid simd opcode/);
    warn.mockRestore();
  });
});
