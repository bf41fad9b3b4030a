// The gpu.js backend's resident kernels (ResidentKernels): each op as one launch whose output stays
// on the device, declining (null) what is empty or past what gpu.js indexes exactly (2²⁴ elements),
// so that the caller runs it on the host instead. Kernel sources are in sources.ts, their cache
// keys and constants in specs.ts.
import { sizeOf } from "../strides.js";
import type { DeviceArray, KernelInput, ResidentKernels } from "../types.js";
import { type BufferArray, type TextureArray, ViewArray } from "./device-arrays.js";
import { luLaunches } from "./lu.js";
import { updateOutputs } from "./sources.js";
import {
  binarySpec,
  gatherSpec,
  type KernelSpec,
  matmulSpec,
  padSpec,
  reduceSpec,
  scatterAddSpec,
  stridedCopySpec,
  unarySpec,
  updateScalars,
  updateSpec,
  whereSpec,
} from "./specs.js";

/** Larger arrays go to the CPU backend: gpu.js indexes in float32, exact only below 2²⁴. */
export const MAX_ELEMENTS = 1 << 24;

/** What the resident kernels launch with: one kernel, its output left on the device. */
export interface DeviceLauncher {
  launch(spec: KernelSpec, n: number, inputs: KernelInput[], extra?: Float32Array[]): TextureArray | BufferArray;
  liveArrays(): number;
}

export function residentKernels(device: DeviceLauncher): ResidentKernels {
  const tooLarge = (...sizes: number[]) => sizes.some((s) => s > MAX_ELEMENTS);
  return {
    unary: (op, x, n) => {
      if (n === 0 || tooLarge(n)) return null;
      return device.launch(unarySpec(op, n), n, [x]);
    },
    binary: (op, a, aShape, b, bShape, outShape) => {
      const n = sizeOf(outShape);
      if (n === 0 || tooLarge(n, a.length, b.length)) return null;
      return device.launch(binarySpec(op, aShape, bShape, outShape), n, [a, b]);
    },
    reduce: (op, x, outer, size, inner) => {
      const n = outer * inner;
      if (n === 0 || size === 0 || tooLarge(x.length)) return null;
      return device.launch(reduceSpec(op, outer, size, inner), n, [x]);
    },
    matmul: (a, aOffsets, b, bOffsets, m, k, n, transA, transB) => {
      const total = aOffsets.length * m * n;
      if (total === 0 || k === 0 || tooLarge(total, a.length, b.length)) return null;
      return device.launch(
        matmulSpec(aOffsets.length, m, k, n, transA, transB),
        total,
        [a, b],
        [Float32Array.from(aOffsets), Float32Array.from(bOffsets)],
      );
    },
    liveArrays: device.liveArrays,
    update: (rule, x, g, state) => {
      // One kernel writes the new parameter and state into one array, [x′, s₀′, s₁′…]; the
      // parameter's tensor gets a handle on its first n values, the optimizer the whole array,
      // which the next step reads its state from.
      const n = x.length,
        size = updateOutputs(rule.kind) * n;
      if (n === 0 || tooLarge(size)) return null;
      const packed = state.length === 1 && state[0]!.length === size;
      const all = device.launch(updateSpec(rule.kind, packed, n), size, [x, g, ...state], [updateScalars(rule)]);
      return [new ViewArray(all, 0, n), all];
    },
    where: (cond, a, b, n) => (n === 0 || tooLarge(n) ? null : device.launch(whereSpec(n), n, [cond, a, b])),
    stridedCopy: (src, offset, shape, strides) => {
      const n = sizeOf(shape);
      if (n === 0 || tooLarge(n, src.length)) return null;
      return device.launch(stridedCopySpec(offset, shape, strides), n, [src]);
    },
    gather: (x, outer, size, inner, indices) => {
      const n = outer * indices.length * inner;
      if (n === 0 || tooLarge(n, x.length)) return null;
      return device.launch(gatherSpec(outer, size, inner, indices.length), n, [x], [Float32Array.from(indices)]);
    },
    scatterAdd: (g, outer, size, inner, indices) => {
      const n = outer * size * inner;
      if (n === 0 || indices.length === 0 || tooLarge(n, g.length)) return null;
      return device.launch(scatterAddSpec(outer, size, inner, indices.length), n, [g], [Float32Array.from(indices)]);
    },
    pad: (src, shape, starts, outShape) => {
      const n = sizeOf(outShape);
      if (n === 0 || sizeOf(shape) === 0 || tooLarge(n)) return null;
      return device.launch(padSpec(shape, starts, outShape), n, [src]);
    },
    logAbsDet: (a, mats, d) => {
      if (mats * d === 0 || tooLarge(mats * d * d + 2 * mats)) return null;
      // Each step's array is freed once the next is queued.
      return luLaunches<DeviceArray>(
        a,
        mats,
        d,
        (spec, size, input, extra) => device.launch(spec, size, [input], extra),
        (x) => x.release(),
      );
    },
  };
}
