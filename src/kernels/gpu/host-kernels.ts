// The gpu.js backend's kernels on host arrays (HostKernels): elementwise ops, reductions, products
// and the LU run as gpu.js kernels whose results are read back into the caller's arrays — the path
// of gpu.js modes without device memory (webasm, cpu), and of host inputs "auto" sends to gpu.js.
// Data movement and optimizer updates stay on the CPU backend's loops; so does everything in webgpu
// mode (results there come back only asynchronously) and arrays gpu.js cannot index exactly.
import type {
  BinaryOp,
  HostKernels,
  KernelInput,
  ReduceOp,
  ResidentKernels,
  Shape,
  TypedArray,
  UnaryOp,
} from "../types.js";
import type { GpuTexture } from "./load.js";
import { luLaunches } from "./lu.js";
import { MAX_ELEMENTS } from "./resident.js";
import { binarySpec, type KernelSpec, matmulSpec, reduceSpec, unarySpec } from "./specs.js";

/** The values as float32, what gpu.js computes in (float32 arrays as they are). */
export function toFloat32(a: TypedArray): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/** What the host kernels need of their backend. */
export interface HostKernelContext {
  asyncReads(): boolean;
  /** The CPU backend's loops. */
  fallback(): HostKernels;
  /** The loops for arrays past what gpu.js indexes (says so once). */
  tooLarge(): HostKernels;
  /** Run a kernel and copy its result into out. */
  runSpec(spec: KernelSpec, n: number, args: unknown[], out: TypedArray): void;
  /** A kernel argument: a texture of the backend as it is, anything else as float32 host memory. */
  argument(x: KernelInput): Float32Array | GpuTexture;
  resident(): ResidentKernels | undefined;
}

export function gpuHostKernels(ctx: HostKernelContext): HostKernels {
  const cpu = () => ctx.fallback();
  return {
    unary(op: UnaryOp, x: TypedArray, out: TypedArray): void {
      if (ctx.asyncReads()) return ctx.fallback().unary(op, x, out);
      const n = out.length;
      if (n === 0) return;
      if (n > MAX_ELEMENTS) return ctx.tooLarge().unary(op, x, out);
      ctx.runSpec(unarySpec(op, n), n, [toFloat32(x)], out);
    },

    binary(
      op: BinaryOp,
      a: TypedArray,
      aShape: Shape,
      b: TypedArray,
      bShape: Shape,
      out: TypedArray,
      outShape: Shape,
    ): void {
      if (ctx.asyncReads()) return ctx.fallback().binary(op, a, aShape, b, bShape, out, outShape);
      const n = out.length;
      if (n === 0) return;
      if (n > MAX_ELEMENTS || a.length > MAX_ELEMENTS || b.length > MAX_ELEMENTS)
        return ctx.tooLarge().binary(op, a, aShape, b, bShape, out, outShape);
      ctx.runSpec(binarySpec(op, aShape, bShape, outShape), n, [toFloat32(a), toFloat32(b)], out);
    },

    reduce(op: ReduceOp, x: TypedArray, outer: number, size: number, inner: number, out: TypedArray): void {
      if (ctx.asyncReads()) return ctx.fallback().reduce(op, x, outer, size, inner, out);
      const n = outer * inner;
      if (n === 0) return;
      if (x.length > MAX_ELEMENTS) return ctx.tooLarge().reduce(op, x, outer, size, inner, out);
      if (size === 0) return ctx.fallback().reduce(op, x, outer, size, inner, out);
      ctx.runSpec(reduceSpec(op, outer, size, inner), n, [toFloat32(x)], out);
    },

    matmul(
      a: TypedArray,
      aOffsets: Int32Array,
      b: TypedArray,
      bOffsets: Int32Array,
      out: TypedArray,
      m: number,
      k: number,
      n: number,
      transA: boolean,
      transB: boolean,
    ): void {
      if (ctx.asyncReads()) return ctx.fallback().matmul(a, aOffsets, b, bOffsets, out, m, k, n, transA, transB);
      const total = out.length;
      if (total === 0) return;
      if (total > MAX_ELEMENTS || a.length > MAX_ELEMENTS || b.length > MAX_ELEMENTS)
        return ctx.tooLarge().matmul(a, aOffsets, b, bOffsets, out, m, k, n, transA, transB);
      if (k === 0) return ctx.fallback().matmul(a, aOffsets, b, bOffsets, out, m, k, n, transA, transB);
      ctx.runSpec(
        matmulSpec(aOffsets.length, m, k, n, transA, transB),
        total,
        [toFloat32(a), toFloat32(b), Float32Array.from(aOffsets), Float32Array.from(bOffsets)],
        out,
      );
    },

    logAbsDet(a: TypedArray, n: number, d: number, out: TypedArray): void {
      if (ctx.asyncReads()) return ctx.fallback().logAbsDet(a, n, d, out);
      if (n * d === 0) return;
      if (n * d * d + 2 * n > MAX_ELEMENTS) return ctx.tooLarge().logAbsDet(a, n, d, out);
      const onDevice = ctx.resident()?.logAbsDet?.(a, n, d);
      if (onDevice) {
        try {
          out.set(onDevice.read());
        } finally {
          onDevice.release();
        }
        return;
      }
      // Modes without device arrays (webasm, cpu): the same launches, each step's array passed to the next.
      const run = (spec: KernelSpec, size: number, input: KernelInput, extra: Float32Array[]): Float32Array => {
        const result = new Float32Array(size);
        ctx.runSpec(spec, size, [ctx.argument(input), ...extra], result);
        return result;
      };
      out.set(luLaunches<Float32Array>(a, n, d, run, () => {}));
    },
    stridedCopy: (...args) => cpu().stridedCopy(...args),
    stridedScatter: (...args) => cpu().stridedScatter(...args),
    gather: (...args) => cpu().gather(...args),
    scatterAdd: (...args) => cpu().scatterAdd(...args),
    where: (...args) => cpu().where(...args),
    update: (...args) => cpu().update(...args),
  };
}
