import { getBackend } from "../../kernels/index.js";
import { broadcastShapes, broadcastStrides, shapeString, sizeOf } from "../shape.js";
import { expectTensor, fromOp, kernelOutput, type Tensor } from "../tensor.js";
import { asTensor } from "./elementwise.js";
import { reshape } from "./movement.js";

/**
 * Matrix product with NumPy semantics: [..., m, k] · [..., k, n] → [..., m, n], batch axes
 * broadcast; a 1-D operand is a row (left) or column (right) vector and its axis is dropped.
 */
export function matmul(aIn: Tensor, bIn: Tensor): Tensor {
  expectTensor("matmul", aIn, "the left operand");
  expectTensor("matmul", bIn, "the right operand");
  const a = asTensor("matmul", aIn, aIn),
    b = asTensor("matmul", bIn, aIn);
  if (a.rank === 0 || b.rank === 0)
    throw new Error(
      `matmul: operands must have at least 1 dimension, got ${shapeString(a.shape)} and ${shapeString(b.shape)}; use mul for scalars`,
    );
  if (a.rank === 1) {
    const r = matmul(reshape(a, [1, a.size]), b);
    const shape = [...r.shape];
    shape.splice(b.rank === 1 ? shape.length - 1 : shape.length - 2, 1); // drop the row axis we added
    return reshape(r, shape);
  }
  if (b.rank === 1) return reshape(matmul(a, reshape(b, [b.size, 1])), a.shape.slice(0, -1));
  const k = a.shape[a.rank - 1]!;
  if (b.shape[b.rank - 2] !== k) {
    throw new Error(
      `matmul: inner dimensions differ, ${shapeString(a.shape)} · ${shapeString(b.shape)} (${k} vs ${b.shape[b.rank - 2]})`,
    );
  }
  return product(a, b, false, false);
}

/**
 * op(A)·op(B), op = transpose where asked, as one recorded op: the backward products are this op
 * again with other flags (no transpose is ever copied), so gradients of gradients come for free.
 * With C = op(A) op(B): d op(A) = G op(B)ᵀ and d op(B) = op(A)ᵀ G, then undo each op; batch axes
 * are summed back by the backward pass.
 */
function product(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  return fromOp("matmul", matmulData(a, b, transA, transB), productShape(a, b, transA, transB), [a, b], (g) => [
    // dA = G op(B)ᵀ, or (G op(B)ᵀ)ᵀ = op(B) Gᵀ when A was transposed
    a.requiresGrad ? (transA ? product(b, g, transB, true) : product(g, b, false, !transB)) : null,
    // dB = op(A)ᵀ G, or (op(A)ᵀ G)ᵀ = Gᵀ op(A) when B was transposed
    b.requiresGrad ? (transB ? product(g, a, true, transA) : product(a, g, !transA, false)) : null,
  ]);
}

function productShape(a: Tensor, b: Tensor, transA: boolean, transB: boolean): number[] {
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const m = a.shape[a.rank - (transA ? 1 : 2)]!,
    n = b.shape[b.rank - (transB ? 2 : 1)]!;
  return [...batch, m, n];
}

function matmulData(a: Tensor, b: Tensor, transA: boolean, transB: boolean) {
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const [am, ak] = a.shape.slice(-2) as [number, number];
  const [bk, bn] = b.shape.slice(-2) as [number, number];
  const m = transA ? ak : am,
    k = transA ? am : ak,
    n = transB ? bk : bn;
  // Offsets of each matrix of the broadcast batch, in elements.
  const aOffsets = batchOffsets(a.shape.slice(0, -2), batch, am * ak);
  const bOffsets = batchOffsets(b.shape.slice(0, -2), batch, bk * bn);
  const out = getBackend().matmul(
    a.storage.kernelInput,
    aOffsets,
    b.storage.kernelInput,
    bOffsets,
    m,
    k,
    n,
    transA,
    transB,
    a.dtype,
  );
  return kernelOutput(out, a.dtype);
}

function batchOffsets(own: number[], batch: number[], matrixSize: number): Int32Array {
  const strides = broadcastStrides(own, batch);
  const count = sizeOf(batch),
    offsets = new Int32Array(count);
  for (let t = 0; t < count; t++) {
    let rest = t,
      off = 0;
    for (let d = batch.length - 1; d >= 0; d--) {
      off += (rest % batch[d]!) * strides[d]!;
      rest = Math.floor(rest / batch[d]!);
    }
    offsets[t] = off * matrixSize;
  }
  return offsets;
}
