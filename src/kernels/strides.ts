import type { Shape } from "./types.js";

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous array of this shape. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Strides that read an array of `shape` as if broadcast to `outShape` (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = contiguousStrides(shape);
  const lead = outShape.length - shape.length;
  const strides = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < shape.length; i++) strides[lead + i] = shape[i] === 1 ? 0 : own[i]!;
  return strides;
}

/**
 * Merge adjacent axes that stay contiguous in every stride list (stride[i] = stride[i+1]·shape[i+1])
 * and drop size-1 axes, so a kernel loops over as few, as long, runs as possible.
 */
export function collapseAxes(
  shape: Shape,
  strideLists: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const s: number[] = [];
  const out = strideLists.map(() => [] as number[]);
  for (let i = 0; i < shape.length; i++) {
    const n = shape[i]!;
    if (n === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && strideLists.every((st, k) => out[k]![last] === st[i]! * n)) {
      s[last]! *= n;
      strideLists.forEach((st, k) => (out[k]![last] = st[i]!));
    } else {
      s.push(n);
      strideLists.forEach((st, k) => out[k]!.push(st[i]!));
    }
  }
  return { shape: s, strides: out };
}
