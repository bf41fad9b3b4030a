import type { GpuMode } from "./gpu/load.js";
import { backendFrom } from "./one-call.js";
import { sizeOf } from "./strides.js";
import { type Backend, type HostKernels, isDeviceArray, type KernelInput, type ResidentKernels } from "./types.js";

/**
 * Small arrays on the CPU, large ones on the GPU backend: per-call overhead (conversion, upload,
 * read-back, launch) swamps the GPU's speed on small inputs. The threshold (elements) per gpu.js
 * mode comes from `npm run bench:gpu` (results/gpu-bench.json), which times both backends across
 * sizes: on the 2-core development machine headlessgl (software GL), webasm and gpu.js's cpu mode
 * were slower than the CPU backend at every size up to 10⁷ elements and n = 1,024 matmuls, so
 * "auto" keeps everything on the CPU there. The real-GPU modes have not been measured yet (no GPU
 * machine was available; webgpu ran only on software Vulkan, `npm run bench:webgpu`); 65,536
 * elements is their provisional default until they are, and "auto" says so when it uses it. On any
 * machine, `flowgrad calibrate --save` measures the thresholds there and saves them where
 * initBackend("auto") finds them (calibration-store.ts); FLOWGRAD_AUTO_THRESHOLD or initBackend's
 * `threshold` override them.
 */
export const DEFAULT_GPU_THRESHOLDS: Record<GpuMode, number> = {
  webgpu: 1 << 16,
  webgl2: 1 << 16,
  webgl: 1 << 16,
  headlessgl: Infinity,
  webasm: Infinity,
  cpu: Infinity,
};
export const DEFAULT_GPU_THRESHOLD = 1 << 16;

/** Modes whose default threshold nobody has measured: "auto" says so when it falls back on one. */
export const PROVISIONAL_THRESHOLD_MODES: ReadonlySet<GpuMode> = new Set(["webgpu", "webgl2", "webgl"]);

/** Why a mode's default threshold is what it is, as backendInfo() reports it. */
export function defaultThresholdSource(mode: GpuMode): string {
  return PROVISIONAL_THRESHOLD_MODES.has(mode)
    ? `provisional default for ${mode} (not measured on a GPU yet; "flowgrad calibrate --save" measures this machine)`
    : `default for ${mode} (gpu.js never beat the CPU backend in npm run bench:gpu on the 2-core development machine)`;
}

/**
 * Where "auto" hands work to gpu.js: elementwise ops, reductions, copies and fused layers from
 * `elements` (output or input size), products from `multiplyAdds` (batch·m·k·n). Infinity: never.
 * `flowgrad calibrate` (calibrateAuto in calibrate.ts) measures both on the machine at hand.
 */
export interface AutoThresholds {
  elements: number;
  multiplyAdds: number;
}

/** One number is an element count; products then go by m·k·n/64, a guess that calibration replaces. */
export function autoThresholds(threshold: number | AutoThresholds): AutoThresholds {
  const t = typeof threshold === "number" ? { elements: threshold, multiplyAdds: threshold * 64 } : threshold;
  for (const [key, value] of Object.entries(t)) {
    if (typeof value !== "number" || Number.isNaN(value) || value < 0)
      throw new Error(
        `auto backend: threshold ${key} must be a number ≥ 0 (Infinity: never use gpu.js), got ${String(value)}`,
      );
  }
  return { elements: t.elements, multiplyAdds: t.multiplyAdds };
}

/**
 * FLOWGRAD_AUTO_THRESHOLD: "ELEMENTS" or "ELEMENTS,MULTIPLY_ADDS", each a count or "inf" (what
 * `flowgrad calibrate` prints).
 */
export function parseAutoThreshold(text: string): AutoThresholds {
  const parts = text.split(",").map((p) => p.trim());
  const value = (p: string): number => {
    if (/^(inf|infinity|never)$/i.test(p)) return Infinity;
    if (!/^\d+(\.\d+)?(e\d+)?$/i.test(p))
      throw new Error(
        `FLOWGRAD_AUTO_THRESHOLD="${text}": expected ELEMENTS or ELEMENTS,MULTIPLY_ADDS (counts, or "inf"), e.g. 65536,4194304`,
      );
    return Number(p);
  };
  if (parts.length < 1 || parts.length > 2)
    throw new Error(
      `FLOWGRAD_AUTO_THRESHOLD="${text}": expected ELEMENTS or ELEMENTS,MULTIPLY_ADDS, e.g. 65536,4194304`,
    );
  return parts.length === 1
    ? autoThresholds(value(parts[0]!))
    : autoThresholds({ elements: value(parts[0]!), multiplyAdds: value(parts[1]!) });
}

export function autoBackend(
  cpu: Backend,
  gpu: Backend,
  threshold: number | AutoThresholds = DEFAULT_GPU_THRESHOLD,
): Backend {
  const { elements: elementThreshold, multiplyAdds } = autoThresholds(threshold);
  const pickAt =
    (threshold: number) =>
    (work: number): Backend =>
      work >= threshold ? gpu : cpu;
  const pick = pickAt(elementThreshold),
    pickProduct = pickAt(multiplyAdds);
  const matmulCost = (batch: number, m: number, k: number, n: number): number => batch * m * k * n;
  const r = gpu.resident;
  // Outputs that stay on the device: large work goes there, and so does any op with an input already
  // there (reading it back would cost more than the op, and webgpu cannot read back synchronously).
  // Small work on host inputs runs on the host kernels.
  const goAt =
    (threshold: number) =>
    (work: number, ...inputs: Array<KernelInput | null>): boolean =>
      work >= threshold || inputs.some((x) => x !== null && isDeviceArray(x));
  const go = goAt(elementThreshold),
    goProduct = goAt(multiplyAdds);
  const resident: ResidentKernels | undefined = r && {
    unary: (op, x, n) => (go(n, x) ? r.unary(op, x, n) : null),
    binary: (op, a, as, b, bs, os) => (go(sizeOf(os), a, b) ? r.binary(op, a, as, b, bs, os) : null),
    reduce: (op, x, outer, size, inner) => (go(x.length, x) ? r.reduce(op, x, outer, size, inner) : null),
    matmul: (a, ao, b, bo, m, k, n, ta, tb) =>
      goProduct(matmulCost(ao.length, m, k, n), a, b) ? r.matmul(a, ao, b, bo, m, k, n, ta, tb) : null,
    liveArrays: () => r.liveArrays(),
    ...(r.update && {
      update: (rule, x, g, state) => (go(x.length, x, g, ...state) ? r.update!(rule, x, g, state) : null),
    }),
    ...(r.where && { where: (c, a, b, n) => (go(n, c, a, b) ? r.where!(c, a, b, n) : null) }),
    ...(r.stridedCopy && {
      stridedCopy: (src, o, sh, st) => (go(sizeOf(sh), src) ? r.stridedCopy!(src, o, sh, st) : null),
    }),
    ...(r.gather && { gather: (x, o, s, i, idx) => (go(o * idx.length * i, x) ? r.gather!(x, o, s, i, idx) : null) }),
    ...(r.scatterAdd && {
      scatterAdd: (g, o, s, i, idx) => (go(o * s * i, g) ? r.scatterAdd!(g, o, s, i, idx) : null),
    }),
    ...(r.pad && { pad: (src, sh, st, os) => (go(sizeOf(os), src) ? r.pad!(src, sh, st, os) : null) }),
    ...(r.logAbsDet && { logAbsDet: (a, n, d) => (go(n * d * d, a) ? r.logAbsDet!(a, n, d) : null) }),
  };
  // Host arrays: gpu.js's host kernels from the thresholds on, the CPU's below them.
  const host: HostKernels = {
    ...cpu.host,
    unary: (op, x, out) => pick(out.length).host.unary(op, x, out),
    binary: (op, a, as, b, bs, out, os) => pick(out.length).host.binary(op, a, as, b, bs, out, os),
    reduce: (op, x, outer, size, inner, out) => pick(x.length).host.reduce(op, x, outer, size, inner, out),
    // A product costs m·k·n multiply-adds per matrix: that, not the output size, decides.
    matmul: (a, ao, b, bo, out, m, k, n, ta, tb) =>
      pickProduct(matmulCost(ao.length, m, k, n)).host.matmul(a, ao, b, bo, out, m, k, n, ta, tb),
  };
  return backendFrom({
    name: "auto",
    host,
    ...(resident ? { resident } : {}),
    // A custom kernel (a flow layer's) by its work, or to the device when an input is already there.
    run: (kernel, inputs, args, dtype) =>
      (r && go(kernel.work(args), ...inputs) ? gpu : cpu).run(kernel, inputs, args, dtype),
  });
}
