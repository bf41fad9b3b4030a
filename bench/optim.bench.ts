// The optimizer updates two ways, side by side in one process: the TypeScript loops and the
// WebAssembly SIMD kernels (copies through the kernels' memory included), Adam and RMSprop in both
// dtypes, from 16 values to the 2.0 M of the K = 40 MNIST model's parameters. Finds the size from
// which the kernels win (the crossover src/kernels/wasm/optim.ts takes as UPDATE_FROM), and sets
// them beside a plain stream over the same arrays (three reads, three writes, one multiply-add per
// array): what the memory alone costs, so the table says whether a loop is compute- or memory-bound.
// Medians of timed calls. Run: npm run bench:optim  (--quick: fewer sizes and reps)
import { typescriptKernels } from "../src/kernels/index.js";
import type { TypedArray, UpdateRule } from "../src/kernels/types.js";
import { unsharedKernels } from "../src/kernels/wasm/load.js";
import { updateWasm } from "../src/kernels/wasm/optim.js";
import { environment, medianTime, randomArray, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
// The unshared instance: what the CPU backend updates on (faster copies than a shared memory).
const kernels = unsharedKernels();
if (!kernels) throw new Error("bench:optim: the WebAssembly kernels cannot run here");

type Dtype = "float64" | "float32";
type Rule = "adam" | "rmsprop";
type Way = "typescript" | "wasm" | "stream";
const SIZES = quick ? [64, 256, 4096, 1 << 20] : [16, 64, 128, 256, 512, 1024, 4096, 65536, 1 << 20, 2_000_000];

/** Median milliseconds of calls, after warm-up, over about `budgetMs` (at least 7 calls). */
const median = (fn: () => void, budgetMs: number): number => medianTime(fn, budgetMs, 7, 5000);

/** The memory traffic of an update without its arithmetic: x, m, v read and written, g read. */
function stream(x: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray): void {
  for (let i = 0; i < x.length; i++) {
    const gi = g[i]!;
    m[i] = m[i]! + gi;
    v[i] = v[i]! + gi;
    x[i] = x[i]! + gi;
  }
}

interface Row {
  rule: Rule;
  dtype: Dtype;
  size: number;
  medianMs: Record<Way, number>;
  /** TypeScript time / WebAssembly time. */
  speedup: number;
  /** The two ways gave the same bits (after the timed calls, from the same start). */
  identical: boolean;
}
const rows: Row[] = [];
for (const rule of ["adam", "rmsprop"] as Rule[])
  for (const dtype of ["float64", "float32"] as Dtype[])
    for (const size of SIZES) {
      let t = 1;
      const make = (): UpdateRule =>
        rule === "adam"
          ? { kind: "adam", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, t: t++ }
          : { kind: "rmsprop", lr: 1e-3, alpha: 0.99, eps: 1e-8, momentum: 0.9 };
      const g = randomArray(dtype, size);
      const start = [randomArray(dtype, size), randomArray(dtype, size, 0.1), randomArray(dtype, size, 0.01)];
      start[2] = start[2]!.map(Math.abs);
      const [a, b] = [start.map((s) => s.slice()), start.map((s) => s.slice())];
      const budget = quick ? 150 : Math.min(1500, 60 + size / 2000);
      const [sx, sm, sv] = start.map((s) => s.slice()) as [TypedArray, TypedArray, TypedArray];
      const medianMs: Record<Way, number> = {
        typescript: median(() => typescriptKernels.update(make(), a[0]!, g, [a[1]!, a[2]!]), budget),
        wasm: median(() => {
          if (!updateWasm(kernels, make() as Exclude<UpdateRule, { kind: "sgd" }>, b[0]!, g, [b[1]!, b[2]!]))
            throw new Error("bench:optim: the update did not fit the kernels' memory");
        }, budget),
        stream: median(() => stream(sx, g, sm, sv), budget),
      };
      // Same bits: both ways again from one start, with the same step numbers.
      const [c, d] = [start.map((s) => s.slice()), start.map((s) => s.slice())];
      for (let step = 1; step <= 3; step++) {
        t = step;
        typescriptKernels.update(make(), c[0]!, g, [c[1]!, c[2]!]);
        t = step;
        updateWasm(kernels, make() as Exclude<UpdateRule, { kind: "sgd" }>, d[0]!, g, [d[1]!, d[2]!]);
      }
      const identical = c.every((arr, j) => arr.every((x, i) => Object.is(x, d[j]![i])));
      const row = { rule, dtype, size, medianMs, speedup: medianMs.typescript / medianMs.wasm, identical };
      rows.push(row);
      process.stderr.write(
        `  ${rule} ${dtype} ${size}: TypeScript ${medianMs.typescript.toFixed(4)} ms, wasm ${medianMs.wasm.toFixed(4)} ms (${row.speedup.toFixed(2)}×), stream ${medianMs.stream.toFixed(4)} ms, identical ${identical}\n`,
      );
    }

/** The smallest size from which the kernels beat the loop at every larger size measured. */
function crossover(rule: Rule, dtype: Dtype): number | null {
  let from: number | null = null;
  for (const r of rows.filter((r) => r.rule === rule && r.dtype === dtype)) {
    if (r.medianMs.wasm < r.medianMs.typescript) from ??= r.size;
    else from = null;
  }
  return from;
}
const crossovers = {
  adam: { float64: crossover("adam", "float64"), float32: crossover("adam", "float32") },
  rmsprop: { float64: crossover("rmsprop", "float64"), float32: crossover("rmsprop", "float32") },
};
const all = Object.values(crossovers).flatMap((c) => Object.values(c));
// The latest of them, so no rule or dtype is sent where it measured slower.
const crossover_ = all.some((c) => c === null) ? null : Math.max(...(all as number[]));
process.stderr.write(`  crossovers: ${JSON.stringify(crossovers)}; UPDATE_FROM should be ${crossover_}\n`);

const file = quick ? "results/optim-bench-quick.json" : "results/optim-bench.json";
writeResult(file, {
  suite: "optim",
  quick,
  command: `npm run bench:optim${quick ? " -- --quick" : ""}`,
  environment: environment(),
  rows,
  crossovers,
  crossover: crossover_,
});
console.log("| rule | dtype | values | TypeScript | WebAssembly | speed-up | memory stream | identical |");
console.log("|---|---|---:|---:|---:|---:|---:|---|");
for (const r of rows)
  console.log(
    `| ${r.rule} | ${r.dtype} | ${r.size} | ${r.medianMs.typescript.toFixed(4)} ms | ${r.medianMs.wasm.toFixed(4)} ms | ${r.speedup.toFixed(2)}× | ${r.medianMs.stream.toFixed(4)} ms | ${r.identical} |`,
  );
console.log(`wrote ${file}`);
