import type { TypedArray } from "../types.js";

/** Batched matmul; see Backend.matmul. Two loop orders cover the four transpose cases. */
export function matmul(
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
  // Element (i, p) of op(A) sits at a[ao + i*ais + p*aps].
  const ais = transA ? 1 : k,
    aps = transA ? m : 1;
  for (let t = 0; t < aOffsets.length; t++) {
    const ao = aOffsets[t]!,
      bo = bOffsets[t]!,
      oo = t * m * n;
    if (transB) rowDots(a, ao, ais, aps, b, bo, out, oo, m, k, n);
    else rowAxpys(a, ao, ais, aps, b, bo, out, oo, m, k, n);
  }
}

/** i-k-j order: each output row is a sum of B's rows, four at a time so the row is loaded once per four. */
function rowAxpys(
  a: TypedArray,
  ao: number,
  ais: number,
  aps: number,
  b: TypedArray,
  bo: number,
  out: TypedArray,
  oo: number,
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++) {
    const row = oo + i * n,
      ai = ao + i * ais;
    for (let j = 0; j < n; j++) out[row + j] = 0;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const a0 = a[ai + p * aps]!,
        a1 = a[ai + (p + 1) * aps]!,
        a2 = a[ai + (p + 2) * aps]!,
        a3 = a[ai + (p + 3) * aps]!;
      const b0 = bo + p * n,
        b1 = b0 + n,
        b2 = b1 + n,
        b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        out[row + j] += a0 * b[b0 + j]! + a1 * b[b1 + j]! + a2 * b[b2 + j]! + a3 * b[b3 + j]!;
      }
    }
    for (; p < k; p++) {
      const ap = a[ai + p * aps]!,
        bp = bo + p * n;
      for (let j = 0; j < n; j++) out[row + j] += ap * b[bp + j]!;
    }
  }
}

/** i-j-k order for B transposed (n×k): each output is a dot product of two contiguous rows. */
function rowDots(
  a: TypedArray,
  ao: number,
  ais: number,
  aps: number,
  b: TypedArray,
  bo: number,
  out: TypedArray,
  oo: number,
  m: number,
  k: number,
  n: number,
): void {
  for (let i = 0; i < m; i++) {
    const ai = ao + i * ais;
    for (let j = 0; j < n; j++) {
      const bj = bo + j * k;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0,
        p = 0;
      for (; p + 3 < k; p += 4) {
        s0 += a[ai + p * aps]! * b[bj + p]!;
        s1 += a[ai + (p + 1) * aps]! * b[bj + p + 1]!;
        s2 += a[ai + (p + 2) * aps]! * b[bj + p + 2]!;
        s3 += a[ai + (p + 3) * aps]! * b[bj + p + 3]!;
      }
      for (; p < k; p++) s0 += a[ai + p * aps]! * b[bj + p]!;
      out[oo + i * n + j] = s0 + s1 + s2 + s3;
    }
  }
}
