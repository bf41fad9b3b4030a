import { allocate, isGradEnabled, kernelOutput, stack, Tensor, vjpFunction } from "../autograd/index.js";
import { getBackend } from "../kernels/index.js";

// The general-Jacobian baseline: what log|det ∂f/∂z| costs when nothing is known about f.
// D reverse-mode passes build the D×D Jacobian (O(D) passes of the whole graph), then an LU
// factorisation gives the log-determinant in O(D³) per point.

/**
 * The Jacobian J[n, i, j] = ∂f(z)_i / ∂z_j of a map f: [N, D] → [N, D'] that acts on each point
 * separately (as flows do), by D' vector-Jacobian products with the unit vectors e_i, each batched
 * over all N points. The rows are stacked where they were computed: on a device backend the
 * Jacobian never leaves the device.
 */
export function jacobian(f: (z: Tensor) => Tensor, z: Tensor): Tensor {
  if (z.rank !== 2) throw new Error(`jacobian: expected points of shape [N, D], got [${z.shape.join(", ")}]`);
  const n = z.shape[0]!;
  const { value, pullback } = vjpFunction(f, z);
  if (value.rank !== 2 || value.shape[0] !== n)
    throw new Error(`jacobian: f must map [N, D] to [N, D'], got [${value.shape.join(", ")}] for N = ${n}`);
  const dOut = value.shape[1]!;
  const seed = new Tensor(allocate(z.dtype, n * dOut), [n, dOut]);
  const rows: Tensor[] = [];
  for (let i = 0; i < dOut; i++) {
    for (let p = 0; p < n; p++) seed.data[p * dOut + i] = 1;
    rows.push(pullback(seed)); // [N, D]: row i of every point's Jacobian (the seed is copied when used)
    for (let p = 0; p < n; p++) seed.data[p * dOut + i] = 0;
  }
  const J = stack(rows, 1);
  for (const row of rows) if (row.storage !== J.storage) row.storage.free(); // one row: J is a view of it
  return J;
}

/**
 * log|det A| for each of a batch of square matrices [N, D, D], by LU factorisation with partial
 * pivoting (Backend.logAbsDet: kernels/cpu/linalg.ts, or one gpu.js launch per column on the
 * device): log|det| = Σ log|U_kk|. −Infinity for a singular matrix. It has no backward: the
 * baseline is for measuring what the analytic log-dets save.
 */
export function logAbsDet(matrices: Tensor): Tensor {
  if (matrices.rank !== 3 || matrices.shape[1] !== matrices.shape[2]) {
    throw new Error(`logAbsDet: expected square matrices [N, D, D], got [${matrices.shape.join(", ")}]`);
  }
  if (matrices.requiresGrad && isGradEnabled())
    throw new Error(
      "logAbsDet: has no backward (it is the O(D³) baseline, for measuring); call it on matrices.detach() or inside noGrad()",
    );
  const [n, d] = matrices.shape as [number, number];
  const out = getBackend().logAbsDet(matrices.storage.kernelInput, n, d, matrices.dtype);
  return new Tensor(kernelOutput(out, matrices.dtype), [n]);
}

/** log|det ∂f/∂z| per point, the O(D³) way: the full Jacobian by autograd, then LU. */
export function logAbsDetJacobian(f: (z: Tensor) => Tensor, z: Tensor): Tensor {
  return logAbsDet(jacobian(f, z));
}
