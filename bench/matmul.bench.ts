// The CPU backend's products three ways, side by side in one process: the TypeScript loops, the
// WebAssembly SIMD kernels on one thread, and on every core. Square sizes from 4 to 512 find where
// each starts to win (the crossovers src/kernels/wasm/matmul.ts takes as WASM_FROM and THREADS_FROM);
// the MNIST model's shapes (batch 100, 784 → 400) show forward and both backward products.
// Medians of timed calls, copies in and out included. Run: npm run bench:matmul  (--quick: fewer reps;
// --scaling 1,2,4,8: thread scaling of the large products, on a machine with that many cores)
import os from "node:os";
import { setCpuKernels, typescriptKernels } from "../src/kernels/index.js";
import type { TypedArray } from "../src/kernels/types.js";
import { unsharedKernels, wasmKernels } from "../src/kernels/wasm/load.js";
import { matmulWasm } from "../src/kernels/wasm/matmul.js";
import { environment, medianTime, randomArray, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const kernels = wasmKernels();
if (!kernels) throw new Error("bench:matmul: the WebAssembly kernels cannot run here");
// One thread copies through an unshared memory, as the CPU backend does (see src/kernels/wasm/load.ts).
const oneThread = unsharedKernels()!;
const cores = os.availableParallelism();
setCpuKernels({ threads: cores });

type Way = "typescript" | "wasm-1" | "wasm-all";
const WAYS: Way[] = ["typescript", "wasm-1", "wasm-all"];

function run(
  way: Way,
  a: TypedArray,
  b: TypedArray,
  out: TypedArray,
  m: number,
  k: number,
  n: number,
  tA: boolean,
  tB: boolean,
) {
  const one = Int32Array.of(0);
  if (way === "typescript") typescriptKernels.matmul(a, one, b, one, out, m, k, n, tA, tB);
  else if (
    !matmulWasm(
      way === "wasm-1" ? oneThread : kernels!,
      way === "wasm-1" ? 1 : cores,
      a,
      one,
      b,
      one,
      out,
      m,
      k,
      n,
      tA,
      tB,
    )
  )
    throw new Error("bench:matmul: operands too large for the kernels' memory");
}

/** Median milliseconds of calls, after warm-up, over about `budgetMs` (at least 5 calls). */
const median = (fn: () => void, budgetMs: number): number => medianTime(fn, budgetMs, 5, 2000);

interface Row {
  dtype: "float64" | "float32";
  shape: string;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  multiplyAdds: number;
  medianMs: Record<Way, number>;
  gflops: Record<Way, number>;
}

const rows: Row[] = [];
const budget = quick ? 60 : 300;
function measure(dtype: Row["dtype"], shape: string, m: number, k: number, n: number, tA = false, tB = false): Row {
  const a = randomArray(dtype, m * k),
    b = randomArray(dtype, k * n),
    out = dtype === "float64" ? new Float64Array(m * n) : new Float32Array(m * n);
  const medianMs = {} as Record<Way, number>,
    gflops = {} as Record<Way, number>;
  for (const way of WAYS) {
    medianMs[way] = median(() => run(way, a, b, out, m, k, n, tA, tB), budget);
    gflops[way] = (2 * m * k * n) / medianMs[way] / 1e6;
  }
  const row = { dtype, shape, m, k, n, transA: tA, transB: tB, multiplyAdds: m * k * n, medianMs, gflops };
  process.stderr.write(
    `  ${dtype} ${shape}: ${WAYS.map((w) => `${w} ${medianMs[w].toFixed(3)} ms (${gflops[w].toFixed(1)} GFLOP/s)`).join(", ")}\n`,
  );
  rows.push(row);
  return row;
}

const SIZES = quick ? [4, 8, 16, 32, 64, 128, 256, 512] : [4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];
for (const dtype of ["float64", "float32"] as const) {
  for (const s of SIZES) measure(dtype, `${s}×${s}·${s}×${s}`, s, s, s);
  // The MNIST VAE's first layer, batch 100: forward, and the two backward products (Aᵀ and Bᵀ forms).
  measure(dtype, "x·W 100×784·784×400", 100, 784, 400);
  measure(dtype, "g·Wᵀ 100×400·(784×400)ᵀ", 100, 400, 784, false, true);
  measure(dtype, "xᵀ·g (100×784)ᵀ·100×400", 784, 100, 400, true, false);
}

// --scaling 1,2,4,8: the large products on each thread count, and whether every count gives the
// one-thread result bit for bit (the kernels promise it; this checks it on the machine at hand).
const scalingAt = process.argv.indexOf("--scaling");
const scaling: Array<{
  dtype: Row["dtype"];
  shape: string;
  threads: number;
  medianMs: number;
  gflops: number;
  identical: boolean;
}> = [];
if (scalingAt >= 0) {
  const counts = (process.argv[scalingAt + 1] ?? "").split(",").map(Number);
  if (counts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error("--scaling needs thread counts, e.g. 1,2,4,8");
  for (const dtype of ["float64", "float32"] as const)
    for (const [shape, m, k, n] of [
      ["512×512·512×512", 512, 512, 512],
      ["x·W 100×784·784×400", 100, 784, 400],
    ] as const) {
      const a = randomArray(dtype, m * k),
        b = randomArray(dtype, k * n);
      let first: TypedArray | null = null;
      for (const threads of counts) {
        setCpuKernels({ threads });
        const out = randomArray(dtype, m * n);
        const ms = median(
          () =>
            matmulWasm(
              threads === 1 ? oneThread : kernels,
              threads,
              a,
              Int32Array.of(0),
              b,
              Int32Array.of(0),
              out,
              m,
              k,
              n,
              false,
              false,
            ),
          budget,
        );
        first ??= out.slice();
        const identical = out.every((v, i) => Object.is(v, first![i]));
        scaling.push({ dtype, shape, threads, medianMs: ms, gflops: (2 * m * k * n) / ms / 1e6, identical });
        process.stderr.write(
          `  ${dtype} ${shape} on ${threads} thread(s): ${ms.toFixed(3)} ms, identical to 1 thread: ${identical}\n`,
        );
      }
    }
}

/** The smallest square size from which `faster` beats `slower` at every larger size measured. */
function crossover(dtype: Row["dtype"], faster: Way, slower: Way): number | null {
  const square = rows.filter((r) => r.dtype === dtype && r.m === r.k && r.k === r.n && !r.transA && !r.transB);
  let from: number | null = null;
  for (const r of square) {
    if (r.medianMs[faster] < r.medianMs[slower]) from ??= r.multiplyAdds;
    else from = null;
  }
  return from;
}
const crossovers = {
  wasmOverTypescript: {
    float64: crossover("float64", "wasm-1", "typescript"),
    float32: crossover("float32", "wasm-1", "typescript"),
  },
  threadsOverOne: {
    float64: crossover("float64", "wasm-all", "wasm-1"),
    float32: crossover("float32", "wasm-all", "wasm-1"),
  },
};
process.stderr.write(`  crossovers (multiply-adds): ${JSON.stringify(crossovers)}\n`);

const file = quick ? "results/matmul-bench-quick.json" : "results/matmul-bench.json";
writeResult(file, {
  suite: "matmul",
  quick,
  command: `npm run bench:matmul${quick ? " -- --quick" : ""}`,
  environment: environment(),
  threads: cores,
  rows,
  crossovers,
  ...(scaling.length ? { scaling } : {}),
});
console.log(`| dtype | product | TypeScript | wasm, 1 thread | wasm, ${cores} threads |`);
console.log("|---|---|---:|---:|---:|");
for (const r of rows)
  console.log(`| ${r.dtype} | ${r.shape} | ${WAYS.map((w) => `${r.gflops[w].toFixed(1)} GFLOP/s`).join(" | ")} |`);
console.log(`wrote ${file}`);
process.exit(0); // the worker threads are unref'd, but say plainly that the run is over
