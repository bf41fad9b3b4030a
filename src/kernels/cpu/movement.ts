import { collapseAxes, contiguousStrides, sizeOf } from "../strides.js";
import type { Shape, TypedArray } from "../types.js";

/**
 * Visit every element of the strided view (offset, shape, strides) in row-major order, calling
 * visitRow once per run along the last axis with the run's start, stride and length.
 */
function forEachRow(
  offset: number,
  fullShape: Shape,
  fullStrides: Shape,
  visitRow: (start: number, step: number, len: number, outStart: number) => void,
): void {
  // Contiguous runs (also of a broadcast, stride 0) become one long row: fewer calls.
  const {
    shape,
    strides: [strides],
  } = collapseAxes(fullShape, [fullStrides, contiguousStrides(fullShape)]) as { shape: number[]; strides: [number[]] };
  const r = shape.length;
  if (r === 0) return visitRow(offset, 1, 1, 0);
  const len = shape[r - 1]!,
    step = strides[r - 1]!;
  const rows = sizeOf(shape) / (len || 1);
  if (len === 0 || rows === 0) return;
  const idx = new Array<number>(r - 1).fill(0);
  let start = offset;
  for (let t = 0; t < rows; t++) {
    visitRow(start, step, len, t * len);
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      start += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      start -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

export function stridedCopy(src: TypedArray, offset: number, shape: Shape, strides: Shape, out: TypedArray): void {
  forEachRow(offset, shape, strides, (start, step, len, o) => {
    for (let j = 0; j < len; j++) out[o + j] = src[start + j * step]!;
  });
}

export function stridedScatter(
  src: TypedArray,
  dst: TypedArray,
  offset: number,
  shape: Shape,
  strides: Shape,
  accumulate: boolean,
): void {
  forEachRow(offset, shape, strides, (start, step, len, o) => {
    if (accumulate) for (let j = 0; j < len; j++) dst[start + j * step] += src[o + j]!;
    else for (let j = 0; j < len; j++) dst[start + j * step] = src[o + j]!;
  });
}

export function gather(
  x: TypedArray,
  outer: number,
  size: number,
  inner: number,
  indices: Int32Array,
  out: TypedArray,
): void {
  const m = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const from = (o * size + indices[j]!) * inner,
        to = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] = x[from + i]!;
    }
  }
}

export function scatterAdd(
  g: TypedArray,
  outer: number,
  size: number,
  inner: number,
  indices: Int32Array,
  out: TypedArray,
): void {
  const m = indices.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const to = (o * size + indices[j]!) * inner,
        from = (o * m + j) * inner;
      for (let i = 0; i < inner; i++) out[to + i] += g[from + i]!;
    }
  }
}
