import { type AutoThresholds, autoThresholds } from "./auto.js";
import { cpuBackend } from "./cpu/index.js";
import type { GpuInfo } from "./gpu/load.js";
import type { Backend, DeviceArray, UnaryOp } from "./types.js";

/**
 * Measure where gpu.js starts to beat the CPU backend on this machine, for the "auto" backend's
 * thresholds. Each case runs what "auto" would run once an op crosses the threshold: host inputs
 * uploaded, a chain of ops kept on the device (where the mode allows), one read at the end; the CPU
 * runs the same chain. Times are medians of repeated runs, after a warm-up run that compiles.
 */

/** One measured size: median milliseconds of the chain on each backend. */
export interface CalibrationRow {
  kind: "elementwise" | "matmul";
  /** elements (elementwise), or the side n of n×n matrices (matmul) */
  size: number;
  /** what the threshold compares: elements, or multiply-adds (n³) */
  work: number;
  cpuMs: number;
  gpuMs: number;
}

export interface Calibration {
  gpu: Pick<GpuInfo, "gpuMode" | "kernelClass" | "adapter">;
  /** ops per measured chain (elementwise: tanh, square, neg, exp, twice; matmul: products of the running result with a fixed matrix) */
  chain: { elementwise: number; matmul: number };
  rows: CalibrationRow[];
  thresholds: AutoThresholds;
}

export interface CalibrateOptions {
  /** elementwise sizes to try, ascending (default 2¹⁰ … 2²², by 4×) */
  elementSizes?: number[];
  /** matrix sides to try, ascending (default 16 … 512, by 2×) */
  matmulSizes?: number[];
  /** time to spend on each backend at each size, after the warm-up (default 300 ms; at least 3 runs) */
  msPerCase?: number;
  /** called after every measured case, for a progress bar */
  onProgress?: (done: number, total: number, label: string) => void;
}

// Cheap and costly ops alike, as in a flow layer; values stay in (0, 1] whatever the input.
const ELEMENTWISE_OPS: UnaryOp[] = ["tanh", "square", "neg", "exp", "tanh", "square", "neg", "exp"];
const ELEMENTWISE_CHAIN = ELEMENTWISE_OPS.length;
const MATMUL_CHAIN = 2;

/** A backend with gpu.js underneath: its kernels, and device-resident kernels where the mode has them. */
/** A gpu.js backend as calibration sees it: the kernels and what runs them. */
export type GpuLike = Backend & { info: Pick<GpuInfo, "gpuMode" | "kernelClass" | "adapter"> };

/**
 * The threshold a set of rows of one kind supports: the least work from which gpu.js won at every
 * larger size measured (a win followed by a loss is noise, not a crossover). Infinity when it did
 * not win at the largest size.
 */
export function crossover(rows: CalibrationRow[], kind: CalibrationRow["kind"]): number {
  const ofKind = rows.filter((r) => r.kind === kind).sort((a, b) => a.work - b.work);
  let threshold = Infinity;
  for (let i = ofKind.length - 1; i >= 0 && ofKind[i]!.gpuMs < ofKind[i]!.cpuMs; i--) threshold = ofKind[i]!.work;
  return threshold;
}

async function median(run: () => Promise<void>, msPerCase: number): Promise<number> {
  await run(); // warm-up: compiles kernels, allocates
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < msPerCase && times.length < 200)) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
}

function validSizes(name: string, sizes: number[]): number[] {
  if (sizes.length === 0 || sizes.some((s) => !Number.isSafeInteger(s) || s < 1))
    throw new Error(`calibrateAuto: ${name} must be positive integers, got [${sizes.join(", ")}]`);
  return [...sizes].sort((a, b) => a - b);
}

function random(n: number, seed: number): Float32Array {
  // A fixed, cheap sequence in [-1, 1): the values only need to be ordinary floats.
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Time the CPU backend against `gpu` across sizes and return the rows and the thresholds they
 * support. Larger sizes are skipped once gpu.js has won at two sizes in a row (its lead grows with size).
 */
export async function calibrateAuto(gpu: GpuLike, options: CalibrateOptions = {}): Promise<Calibration> {
  const elementSizes = validSizes(
    "elementSizes",
    options.elementSizes ?? [1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22],
  );
  const matmulSizes = validSizes("matmulSizes", options.matmulSizes ?? [16, 32, 64, 128, 256, 512]);
  const msPerCase = options.msPerCase ?? 300;
  if (!(msPerCase >= 0)) throw new Error(`calibrateAuto: msPerCase must be ≥ 0, got ${msPerCase}`);
  const r = gpu.resident;
  const total = elementSizes.length + matmulSizes.length;
  let done = 0;
  const rows: CalibrationRow[] = [];

  // One release for every device array a chain made (intermediates are freed as the chain goes).
  const finish = async (t: DeviceArray): Promise<void> => {
    try {
      await t.readAsync();
    } finally {
      t.release();
    }
  };

  const measure = async (
    kind: CalibrationRow["kind"],
    sizes: number[],
    work: (s: number) => number,
    cpuRun: (s: number) => () => Promise<void>,
    gpuRun: (s: number) => () => Promise<void>,
  ): Promise<void> => {
    let wins = 0;
    for (const size of sizes) {
      if (wins >= 2) {
        options.onProgress?.(++done, total, `${kind} ${size}: skipped (gpu.js already ahead)`);
        continue;
      }
      const cpuMs = await median(cpuRun(size), msPerCase);
      const gpuMs = await median(gpuRun(size), msPerCase);
      rows.push({ kind, size, work: work(size), cpuMs, gpuMs });
      wins = gpuMs < cpuMs ? wins + 1 : 0;
      options.onProgress?.(++done, total, `${kind} ${size}: cpu ${cpuMs.toFixed(3)} ms, gpu.js ${gpuMs.toFixed(3)} ms`);
    }
  };

  await measure(
    "elementwise",
    elementSizes,
    (n) => n,
    (n) => {
      const x = random(n, 1),
        out = new Float32Array(n);
      return async () => {
        cpuBackend.host.unary(ELEMENTWISE_OPS[0]!, x, out);
        for (let i = 1; i < ELEMENTWISE_CHAIN; i++) cpuBackend.host.unary(ELEMENTWISE_OPS[i]!, out, out);
      };
    },
    (n) => {
      const x = random(n, 1),
        out = new Float32Array(n);
      if (!r) {
        return async () => {
          gpu.host.unary(ELEMENTWISE_OPS[0]!, x, out);
          for (let i = 1; i < ELEMENTWISE_CHAIN; i++) gpu.host.unary(ELEMENTWISE_OPS[i]!, out, out);
        };
      }
      return async () => {
        let t = r.unary(ELEMENTWISE_OPS[0]!, x, n)!;
        for (let i = 1; i < ELEMENTWISE_CHAIN; i++) {
          const next = r.unary(ELEMENTWISE_OPS[i]!, t, n)!;
          t.release();
          t = next;
        }
        await finish(t);
      };
    },
  );

  const zero = new Int32Array([0]);
  await measure(
    "matmul",
    matmulSizes,
    (n) => n ** 3,
    (n) => {
      const a = random(n * n, 2),
        b = random(n * n, 3).map((v) => v / n),
        out = new Float32Array(n * n),
        tmp = new Float32Array(n * n);
      return async () => {
        cpuBackend.host.matmul(a, zero, b, zero, out, n, n, n, false, false);
        for (let i = 1; i < MATMUL_CHAIN; i++) {
          tmp.set(out);
          cpuBackend.host.matmul(tmp, zero, b, zero, out, n, n, n, false, false);
        }
      };
    },
    (n) => {
      const a = random(n * n, 2),
        b = random(n * n, 3).map((v) => v / n),
        out = new Float32Array(n * n),
        tmp = new Float32Array(n * n);
      if (!r) {
        return async () => {
          gpu.host.matmul(a, zero, b, zero, out, n, n, n, false, false);
          for (let i = 1; i < MATMUL_CHAIN; i++) {
            tmp.set(out);
            gpu.host.matmul(tmp, zero, b, zero, out, n, n, n, false, false);
          }
        };
      }
      return async () => {
        let t = r.matmul(a, zero, b, zero, n, n, n, false, false)!;
        for (let i = 1; i < MATMUL_CHAIN; i++) {
          const next = r.matmul(t, zero, b, zero, n, n, n, false, false)!;
          t.release();
          t = next;
        }
        await finish(t);
      };
    },
  );

  return {
    gpu: { gpuMode: gpu.info.gpuMode, kernelClass: gpu.info.kernelClass, adapter: gpu.info.adapter },
    chain: { elementwise: ELEMENTWISE_CHAIN, matmul: MATMUL_CHAIN },
    rows,
    thresholds: autoThresholds({ elements: crossover(rows, "elementwise"), multiplyAdds: crossover(rows, "matmul") }),
  };
}
