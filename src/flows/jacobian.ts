import { allocate, Tensor, vjpFunction } from "../autograd/index.js";

// The general-Jacobian baseline: what log|det ∂f/∂z| costs when nothing is known about f.
// D reverse-mode passes build the D×D Jacobian (O(D) passes of the whole graph), then an LU
// factorisation gives the log-determinant in O(D³) per point.

/**
 * The Jacobian J[n, i, j] = ∂f(z)_i / ∂z_j of a map f: [N, D] → [N, D'] that acts on each point
 * separately (as flows do), by D' vector-Jacobian products with the unit vectors e_i, each batched
 * over all N points.
 */
export function jacobian(f: (z: Tensor) => Tensor, z: Tensor): Tensor {
  if (z.rank !== 2) throw new Error(`jacobian: expected points of shape [N, D], got [${z.shape.join(", ")}]`);
  const [n, d] = z.shape as [number, number];
  const { value, pullback } = vjpFunction(f, z);
  if (value.rank !== 2 || value.shape[0] !== n) throw new Error(`jacobian: f must map [N, D] to [N, D'], got [${value.shape.join(", ")}] for N = ${n}`);
  const dOut = value.shape[1]!;
  const J = allocate(z.dtype, n * dOut * d);
  const seed = new Tensor(allocate(z.dtype, n * dOut), [n, dOut]);
  for (let i = 0; i < dOut; i++) {
    for (let p = 0; p < n; p++) seed.data[p * dOut + i] = 1;
    const row = pullback(seed).data; // [N, D]: row i of every point's Jacobian
    for (let p = 0; p < n; p++) seed.data[p * dOut + i] = 0;
    for (let p = 0; p < n; p++) {
      const to = (p * dOut + i) * d, from = p * d;
      for (let j = 0; j < d; j++) J[to + j] = row[from + j]!;
    }
  }
  return new Tensor(J, [n, dOut, d]);
}

/**
 * log|det A| for each of a batch of square matrices [N, D, D], by LU factorisation with partial
 * pivoting (Doolittle, in place on a copy): log|det| = Σ log|U_kk|. −Infinity for a singular matrix.
 */
export function logAbsDet(matrices: Tensor): Tensor {
  if (matrices.rank !== 3 || matrices.shape[1] !== matrices.shape[2]) {
    throw new Error(`logAbsDet: expected square matrices [N, D, D], got [${matrices.shape.join(", ")}]`);
  }
  const [n, d] = matrices.shape as [number, number];
  const a = Float64Array.from(matrices.data);
  const out = allocate(matrices.dtype, n);
  for (let p = 0; p < n; p++) out[p] = luLogAbsDet(a, p * d * d, d);
  return new Tensor(out, [n]);
}

function luLogAbsDet(a: Float64Array, o: number, d: number): number {
  let total = 0;
  for (let k = 0; k < d; k++) {
    // Pivot: the largest |entry| in column k at or below the diagonal.
    let pivotRow = k, best = Math.abs(a[o + k * d + k]!);
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
      const ri = o + i * d, rk = o + k * d;
      for (let j = k + 1; j < d; j++) a[ri + j] -= factor * a[rk + j]!;
    }
  }
  return total;
}

/** log|det ∂f/∂z| per point, the O(D³) way: the full Jacobian by autograd, then LU. */
export function logAbsDetJacobian(f: (z: Tensor) => Tensor, z: Tensor): Tensor {
  return logAbsDet(jacobian(f, z));
}
