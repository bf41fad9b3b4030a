import { BINARY_EXPRESSIONS, UNARY_EXPRESSIONS } from "../elementwise.js";
import { broadcastStrides, collapseAxes, sizeOf } from "../strides.js";
import type { BinaryOp, Shape, TypedArray, UnaryOp } from "../types.js";

type UnaryLoop = (x: TypedArray, out: TypedArray) => void;
/** A 2-D strided loop: out[i*n1 + j] = op(a[ao + i*as0 + j*as1], b[bo + i*bs0 + j*bs1]). */
type BinaryLoop = (
  n0: number,
  n1: number,
  a: TypedArray,
  ao: number,
  as0: number,
  as1: number,
  b: TypedArray,
  bo: number,
  bs0: number,
  bs1: number,
  out: TypedArray,
  oo: number,
) => void;

// One compiled loop per (op, array type): each stays monomorphic, so V8 inlines the math.
const unaryLoops = new Map<string, UnaryLoop>();
const binaryLoops = new Map<string, BinaryLoop>();

function unaryLoop(op: UnaryOp, arrayType: string): UnaryLoop {
  const key = op + arrayType;
  let loop = unaryLoops.get(key);
  if (!loop) {
    const body = `const n = out.length; for (let i = 0; i < n; i++) { const x = X[i]; out[i] = ${UNARY_EXPRESSIONS[op]}; }`;
    loop = new Function("X", "out", body) as UnaryLoop;
    unaryLoops.set(key, loop);
  }
  return loop;
}

function binaryLoop(op: BinaryOp, arrayType: string): BinaryLoop {
  const key = op + arrayType;
  let loop = binaryLoops.get(key);
  if (!loop) {
    const body = `
      let o = oo;
      for (let i = 0; i < n0; i++) {
        let ia = ao + i * as0, ib = bo + i * bs0;
        for (let j = 0; j < n1; j++) {
          const a = A[ia], b = B[ib];
          out[o++] = ${BINARY_EXPRESSIONS[op]};
          ia += as1; ib += bs1;
        }
      }`;
    loop = new Function("n0", "n1", "A", "ao", "as0", "as1", "B", "bo", "bs0", "bs1", "out", "oo", body) as BinaryLoop;
    binaryLoops.set(key, loop);
  }
  return loop;
}

export function unary(op: UnaryOp, x: TypedArray, out: TypedArray): void {
  unaryLoop(op, x.constructor.name)(x, out);
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
  const loop = binaryLoop(op, out.constructor.name);
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
    loop(
      n0,
      n1,
      a,
      0,
      r === 2 ? as[0]! : 0,
      r >= 1 ? as[r - 1]! : 0,
      b,
      0,
      r === 2 ? bs[0]! : 0,
      r >= 1 ? bs[r - 1]! : 0,
      out,
      0,
    );
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
    loop(n0, n1, a, ao, as[r - 2]!, as[r - 1]!, b, bo, bs[r - 2]!, bs[r - 1]!, out, t * n0 * n1);
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
