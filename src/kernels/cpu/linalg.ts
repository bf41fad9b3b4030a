import type { TypedArray } from "../types.js";

/**
 * log|det A| for each of n square d×d matrices stored one after another in `a`, by LU factorisation
 * with partial pivoting (Doolittle, on a float64 copy): log|det| = Σ log|U_kk|, −Infinity for a
 * singular matrix. O(d³) per matrix: the cost the analytic flow log-dets avoid.
 */
export function logAbsDet(a: TypedArray, n: number, d: number, out: TypedArray): void {
  const work = Float64Array.from(a.subarray(0, n * d * d));
  for (let p = 0; p < n; p++) out[p] = luLogAbsDet(work, p * d * d, d);
}

function luLogAbsDet(a: Float64Array, o: number, d: number): number {
  let total = 0;
  for (let k = 0; k < d; k++) {
    // Pivot: the largest |entry| in column k at or below the diagonal (the first, in a tie).
    let pivotRow = k,
      best = Math.abs(a[o + k * d + k]!);
    for (let i = k + 1; i < d; i++) {
      const v = Math.abs(a[o + i * d + k]!);
      if (v > best) [best, pivotRow] = [v, i];
    }
    if (best === 0) return -Infinity;
    if (pivotRow !== k) {
      for (let j = k; j < d; j++) {
        const t = a[o + k * d + j]!;
        a[o + k * d + j] = a[o + pivotRow * d + j]!;
        a[o + pivotRow * d + j] = t;
      }
    }
    const pivot = a[o + k * d + k]!;
    total += Math.log(Math.abs(pivot));
    for (let i = k + 1; i < d; i++) {
      const factor = a[o + i * d + k]! / pivot;
      if (factor === 0) continue;
      const ri = o + i * d,
        rk = o + k * d;
      for (let j = k + 1; j < d; j++) a[ri + j] -= factor * a[rk + j]!;
    }
  }
  return total;
}
