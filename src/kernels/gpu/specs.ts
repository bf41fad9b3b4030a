// What compiles each gpu.js kernel: a cache key (the shape signature), a source and constants. One
// spec per op, shared by the kernels that read back and those that leave outputs on the device.
import { broadcastStrides, collapseAxes } from "../strides.js";
import type { BinaryOp, KernelInput, ReduceOp, Shape, UnaryOp, UpdateRule } from "../types.js";
import {
  binarySource,
  gatherSource,
  luStartSource,
  luStepSource,
  matmulSource,
  padSource,
  reduceSource,
  scatterAddSource,
  stridedCopySource,
  unarySource,
  updateSource,
  whereSource,
} from "./sources.js";

/** What compiles a kernel: its cache key (the shape signature), its source and its constants. */
export interface KernelSpec {
  key: string;
  source: string;
  constants: Record<string, number>;
}

export const unarySpec = (op: UnaryOp, n: number): KernelSpec => ({
  key: `u:${op}:${n}`,
  source: unarySource(op),
  constants: {},
});

export function binarySpec(op: BinaryOp, aShape: Shape, bShape: Shape, outShape: Shape): KernelSpec {
  const { shape, strides } = collapseAxes(outShape, [
    broadcastStrides(aShape, outShape),
    broadcastStrides(bShape, outShape),
  ]);
  const [as, bs] = strides as [number[], number[]];
  return {
    key: `b:${op}:${shape.join(",")}:${as.join(",")}:${bs.join(",")}`,
    source: binarySource(op, shape, as, bs),
    constants: {},
  };
}

export const reduceSpec = (op: ReduceOp, outer: number, size: number, inner: number): KernelSpec => ({
  key: `r:${op}:${outer}:${size}:${inner}`,
  source: reduceSource(op),
  constants: { size, inner },
});

export const matmulSpec = (
  batch: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): KernelSpec => ({
  key: `m:${m}:${k}:${n}:${batch}:${transA ? 1 : 0}${transB ? 1 : 0}`,
  source: matmulSource(transA, transB),
  constants: { m, k, nn: n },
});

export const whereSpec = (n: number): KernelSpec => ({ key: `w:${n}`, source: whereSource(), constants: {} });

export function stridedCopySpec(offset: number, fullShape: Shape, fullStrides: Shape): KernelSpec {
  const {
    shape,
    strides: [strides],
  } = collapseAxes(fullShape, [fullStrides]) as { shape: number[]; strides: [number[]] };
  return {
    key: `s:${offset}:${shape.join(",")}:${strides.join(",")}`,
    source: stridedCopySource(offset, shape, strides),
    constants: {},
  };
}

export const padSpec = (shape: Shape, starts: Shape, outShape: Shape): KernelSpec => ({
  key: `pad:${shape.join(",")}:${starts.join(",")}:${outShape.join(",")}`,
  source: padSource(shape, starts, outShape),
  constants: {},
});

export const gatherSpec = (outer: number, size: number, inner: number, m: number): KernelSpec => ({
  key: `g:${outer}:${size}:${inner}:${m}`,
  source: gatherSource(),
  constants: { size, inner, m },
});

export const scatterAddSpec = (outer: number, size: number, inner: number, m: number): KernelSpec => ({
  key: `sa:${outer}:${size}:${inner}:${m}`,
  source: scatterAddSource(),
  constants: { size, inner, m },
});

/** An update rule's step on n elements, its state packed after the parameter or in separate arrays (updateSource). */
/** A kernel over n points of dimension d (pointPrelude in sources.ts): its tag's key and constants. */
export const pointsSpec = (tag: string, source: string, n: number, d: number, perSample: boolean): KernelSpec => ({
  key: `${tag}:${n}:${d}:${perSample}`,
  source,
  constants: { d, perSample: perSample ? 1 : 0, points: n },
});

/** Zeros standing in for an absent input of a gpu.js program (a missing output gradient). */
export const orZeros = (x: KernelInput | null, n: number): KernelInput => x ?? new Float32Array(n);

export const updateSpec = (kind: UpdateRule["kind"], packed: boolean, n: number): KernelSpec => ({
  key: `opt:${kind}:${packed ? "p" : "s"}:${n}`,
  source: updateSource(kind, packed),
  constants: { len: n },
});

/** An update rule's hyperparameters for this step, in the order its kernel reads them (H). */
export function updateScalars(rule: UpdateRule): Float32Array {
  switch (rule.kind) {
    case "sgd":
      return Float32Array.of(rule.lr, rule.momentum);
    case "adam":
      return Float32Array.of(
        rule.lr / (1 - rule.beta1 ** rule.t),
        rule.beta1,
        1 - rule.beta1,
        rule.beta2,
        1 - rule.beta2,
        rule.eps,
        1 - rule.beta2 ** rule.t,
      );
    case "rmsprop":
      return Float32Array.of(rule.lr, rule.alpha, 1 - rule.alpha, rule.eps, rule.momentum);
  }
}

/** LU log-det of `mats` d×d matrices: the first launch (copy, column 0's pivots), a column's step, or the last (log-dets alone). */
export const luSpec = (stage: "start" | "step" | "last", mats: number, d: number): KernelSpec => ({
  key: `lu-${stage}:${mats}:${d}`,
  source: stage === "start" ? luStartSource() : luStepSource(stage === "last"),
  constants: { d, mats },
});
