import { BINARY, UNARY } from "../elementwise.js";
import { broadcastStrides, collapseAxes, sizeOf } from "../strides.js";
import type { BinaryOp, Shape, TypedArray, UnaryOp } from "../types.js";

// The loops themselves are written out per op in kernels/elementwise.ts; here, broadcasting.

export function unary(op: UnaryOp, x: TypedArray, out: TypedArray): void {
  UNARY[op].cpu(x, out);
}

/**
 * Broadcast binary op. Adjacent axes that stay contiguous in a, b and out are merged first, so the
 * common cases ([N,D] with [N,D], [D], [N,1] or a scalar) become one call of the 2-D loop.
 */
export function binary(
  op: BinaryOp,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): void {
  const loop = BINARY[op].cpu;
  if (out.length === 0) return;
  const {
    shape,
    strides: [as, bs],
  } = collapseAxes(outShape, [broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)]) as {
    shape: number[];
    strides: [number[], number[]];
  };
  const r = shape.length;
  if (r <= 2) {
    const n0 = r === 2 ? shape[0]! : 1,
      n1 = r >= 1 ? shape[r - 1]! : 1;
    loop({
      n0,
      n1,
      a,
      ao: 0,
      as0: r === 2 ? as[0]! : 0,
      as1: r >= 1 ? as[r - 1]! : 0,
      b,
      bo: 0,
      bs0: r === 2 ? bs[0]! : 0,
      bs1: r >= 1 ? bs[r - 1]! : 0,
      out,
      oo: 0,
    });
    return;
  }
  // More than two irreducible axes: walk the outer ones with an odometer.
  const outerShape = shape.slice(0, r - 2);
  const n0 = shape[r - 2]!,
    n1 = shape[r - 1]!;
  const idx = new Array<number>(r - 2).fill(0);
  const blocks = sizeOf(outerShape);
  let ao = 0,
    bo = 0;
  for (let t = 0; t < blocks; t++) {
    loop({
      n0,
      n1,
      a,
      ao,
      as0: as[r - 2]!,
      as1: as[r - 1]!,
      b,
      bo,
      bs0: bs[r - 2]!,
      bs1: bs[r - 1]!,
      out,
      oo: t * n0 * n1,
    });
    for (let d = r - 3; d >= 0; d--) {
      idx[d]!++;
      ao += as[d]!;
      bo += bs[d]!;
      if (idx[d]! < outerShape[d]!) break;
      ao -= as[d]! * outerShape[d]!;
      bo -= bs[d]! * outerShape[d]!;
      idx[d] = 0;
    }
  }
}

export function where(cond: TypedArray, a: TypedArray, b: TypedArray, out: TypedArray): void {
  for (let i = 0; i < out.length; i++) out[i] = cond[i] !== 0 ? a[i]! : b[i]!;
}
