import type { ReduceOp, TypedArray } from "../types.js";

/** Reduce x viewed as [outer, size, inner] over its middle axis into out, viewed as [outer, inner]. */
export function reduce(op: ReduceOp, x: TypedArray, outer: number, size: number, inner: number, out: TypedArray): void {
  if (op === "sum") sum(x, outer, size, inner, out);
  else extreme(op === "max", x, outer, size, inner, out);
}

function sum(x: TypedArray, outer: number, size: number, inner: number, out: TypedArray): void {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let s = 0;
      const base = o * size;
      for (let j = 0; j < size; j++) s += x[base + j]!;
      out[o] = s;
    }
    return;
  }
  out.fill(0);
  // j outside, i inside: both x and out are read contiguously.
  for (let o = 0; o < outer; o++) {
    const ob = o * inner;
    for (let j = 0; j < size; j++) {
      const xb = (o * size + j) * inner;
      for (let i = 0; i < inner; i++) out[ob + i] += x[xb + i]!;
    }
  }
}

function extreme(isMax: boolean, x: TypedArray, outer: number, size: number, inner: number, out: TypedArray): void {
  const sign = isMax ? 1 : -1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      let base = o * size * inner + i;
      for (let j = 0; j < size; j++, base += inner) {
        const v = sign * x[base]!;
        if (v > best || Number.isNaN(v)) best = v; // NaN wins, as in NumPy
        if (Number.isNaN(best)) break;
      }
      out[o * inner + i] = sign * best;
    }
  }
}
