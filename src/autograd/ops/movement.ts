import { getBackend } from "../../kernels/index.js";
import { isCreatingGraph } from "../graph.js";
import { broadcastStrides, contiguousStrides, normalizeAxis, sameShape, shapeString, sizeOf } from "../shape.js";
import type { Storage } from "../storage.js";
import { allocate, expectTensor, fromOp, fromOpMulti, kernelOutput, Tensor, type TypedArray } from "../tensor.js";
import { checkIntegerList, checkList, checkShape, describe } from "../validate.js";

// Ops that move values without arithmetic. Their backward rules move the gradient back.

/** Zeros of outShape with g placed at `starts` (the backend decides where: Backend.place). */
function place(g: Tensor, starts: readonly number[], outShape: readonly number[]): Tensor {
  const out = kernelOutput(
    getBackend().place([{ x: g.storage.kernelInput, shape: g.shape, starts }], outShape, g.dtype),
    g.dtype,
  );
  // d pad(g) = the slice of dg that g was placed at (recorded only when a backward pass creates a graph)
  return fromOp("pad", out, outShape, [g], (gg) => [
    slice(
      gg,
      starts,
      starts.map((s, i) => s + g.shape[i]!),
    ),
  ]);
}

/**
 * The strided view (offset, shape, strides) of x, made contiguous. A copy runs where its input is:
 * on the device (staying there) when x is and the backend can, else on the host.
 */
function copyView(
  x: Tensor,
  offset: number,
  shape: readonly number[],
  strides: readonly number[],
): TypedArray | Storage {
  return kernelOutput(getBackend().stridedCopy(x.storage.kernelInput, offset, shape, strides, x.dtype), x.dtype);
}

/** Same values, new shape (one axis may be −1). Shares the data buffer: no copy. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  expectTensor("reshape", x);
  const target = [...checkIntegerList("reshape", shape, "shape")];
  const unknown = target.indexOf(-1);
  if (unknown >= 0) {
    const known = sizeOf(target.filter((_, i) => i !== unknown));
    if (known === 0 || x.size % known !== 0)
      throw new Error(`reshape: cannot infer -1 in ${shapeString(shape)} for ${x.size} elements`);
    target[unknown] = x.size / known;
  }
  if (target.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(target) !== x.size) {
    throw new Error(`reshape: cannot reshape ${shapeString(x.shape)} (${x.size} elements) to ${shapeString(shape)}`);
  }
  if (sameShape(target, x.shape)) return x;
  // d reshape(x) = reshape⁻¹(dx)
  return fromOp("reshape", x.storage, target, [x], (g) => [reshape(g, x.shape)]);
}

/** Reorder axes: out.shape[i] = x.shape[axes[i]]. */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  expectTensor("permute", x);
  checkIntegerList("permute", axes, "axes");
  if (axes.length !== x.rank)
    throw new Error(`permute: got ${axes.length} axes for a tensor of rank ${x.rank} ${shapeString(x.shape)}`);
  const order = axes.map((a) => normalizeAxis("permute", a, x.rank));
  if (new Set(order).size !== order.length) throw new Error(`permute: [${axes.join(", ")}] repeats an axis`);
  const strides = contiguousStrides(x.shape);
  const shape = order.map((a) => x.shape[a]!);
  const out = copyView(
    x,
    0,
    shape,
    order.map((a) => strides[a]!),
  );
  const inverse = new Array<number>(order.length);
  order.forEach((a, i) => (inverse[a] = i));
  // d permute(x) = permute⁻¹(dx)
  return fromOp("permute", out, shape, [x], (g) => [permute(g, inverse)]);
}

/** Swap two axes (by default the last two, the matrix transpose). */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  if (x.rank < 2) throw new Error(`transpose: needs at least 2 dimensions, got ${shapeString(x.shape)}`);
  const order = Array.from({ length: x.rank }, (_, i) => i);
  const i = normalizeAxis("transpose", axis0, x.rank),
    j = normalizeAxis("transpose", axis1, x.rank);
  [order[i], order[j]] = [order[j]!, order[i]!];
  return permute(x, order);
}

/** Repeat x along size-1 (or missing leading) axes to `shape`. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  expectTensor("broadcastTo", x);
  checkShape("broadcastTo", shape);
  if (sameShape(x.shape, shape)) return x;
  const lead = shape.length - x.rank;
  if (lead < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[lead + i]))
    throw new Error(`broadcastTo: cannot broadcast ${shapeString(x.shape)} to ${shapeString(shape)}`);
  const out = copyView(x, 0, shape, broadcastStrides(x.shape, shape));
  // The gradient of the repeated copies is summed back to x's shape by the backward pass.
  return fromOp("broadcastTo", out, shape, [x], (g) => [g]);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  expectTensor("unsqueeze", x);
  const a = normalizeAxis("unsqueeze", axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Drop one size-1 axis, or all of them. */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const a = normalizeAxis("squeeze", axis, x.rank);
  if (x.shape[a] !== 1)
    throw new Error(`squeeze: axis ${axis} of ${shapeString(x.shape)} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

/** x[starts[0]:ends[0], starts[1]:ends[1], …]; missing axes are taken whole, negative indices count from the end. */
export function slice(x: Tensor, starts: readonly number[], ends?: readonly number[]): Tensor {
  expectTensor("slice", x);
  checkIntegerList("slice", starts, "starts");
  if (ends !== undefined) checkIntegerList("slice", ends, "ends");
  if (starts.length > x.rank || (ends && ends.length > x.rank))
    throw new Error(`slice: more indices than the ${x.rank} axes of ${shapeString(x.shape)}`);
  const begin: number[] = [],
    shape: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    const n = x.shape[i]!;
    const s0 = starts[i] ?? 0,
      e0 = ends?.[i] ?? n;
    const s = s0 < 0 ? s0 + n : s0,
      e = e0 < 0 ? e0 + n : e0;
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > n || s > e) {
      throw new Error(`slice: range ${s0}:${e0} is out of bounds for axis ${i} of ${shapeString(x.shape)}`);
    }
    begin.push(s);
    shape.push(e - s);
  }
  const strides = contiguousStrides(x.shape);
  const offset = begin.reduce((o, b, i) => o + b * strides[i]!, 0);
  const out = copyView(x, offset, shape, strides);
  // d slice(x) puts dx back in its place and zeros elsewhere
  return fromOp("slice", out, shape, [x], (g) => [place(g, begin, x.shape)]);
}

/** Join tensors of equal shape except along `axis`. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  checkList("concat", tensors, "tensors");
  if (tensors.length === 0) throw new Error("concat: needs at least one tensor");
  tensors.forEach((t, i) => expectTensor("concat", t, `tensor ${i}`));
  const first = tensors[0]!;
  const a = normalizeAxis("concat", axis, first.rank);
  for (const t of tensors) {
    if (t.dtype !== first.dtype) throw new Error(`concat: dtype mismatch, ${first.dtype} and ${t.dtype}`);
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(
        `concat: shapes ${tensors.map((u) => shapeString(u.shape)).join(", ")} differ outside axis ${axis}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[a] = tensors.reduce((n, t) => n + t.shape[a]!, 0);
  const starts: number[] = [];
  let along = 0;
  for (const t of tensors) {
    starts.push(along);
    along += t.shape[a]!;
  }
  if (tensors.length === 1) return first;
  const at = (start: number) => shape.map((_, k) => (k === a ? start : 0));
  const pieces = tensors.map((t, i) => ({ x: t.storage.kernelInput, shape: t.shape, starts: at(starts[i]!) }));
  const out = kernelOutput(getBackend().place(pieces, shape, first.dtype), first.dtype);
  // d concat(xs) = the slices of the gradient, one per input
  return fromOp("concat", out, shape, [...tensors], (g) =>
    tensors.map((t, i) => {
      if (!t.requiresGrad) return null;
      const s = new Array<number>(shape.length).fill(0),
        e = [...shape];
      s[a] = starts[i]!;
      e[a] = starts[i]! + t.shape[a]!;
      return slice(g, s, e);
    }),
  );
}

/**
 * Cut x along `axis` into consecutive pieces of the given sizes: the inverse of concat, as one op
 * with one output per piece, so backward writes every piece's gradient into a single buffer.
 */
export function split(x: Tensor, sizes: readonly number[], axis = 0): Tensor[] {
  expectTensor("split", x);
  checkIntegerList("split", sizes, "sizes");
  const a = normalizeAxis("split", axis, x.rank);
  const total = sizes.reduce((s, n) => s + n, 0);
  if (sizes.some((n) => !Number.isInteger(n) || n < 0) || total !== x.shape[a]) {
    throw new Error(
      `split: sizes [${sizes.join(", ")}] must be non-negative integers adding up to ${x.shape[a]}, axis ${axis} of ${shapeString(x.shape)}`,
    );
  }
  const strides = contiguousStrides(x.shape);
  const pieces: Array<{ offset: number; shape: number[] }> = [];
  let at = 0;
  for (const n of sizes) {
    const shape = [...x.shape];
    shape[a] = n;
    pieces.push({ offset: at * strides[a]!, shape });
    at += n;
  }
  const results = pieces.map(
    ({ offset, shape }) => [copyView(x, offset, shape, strides), shape] as [TypedArray | Storage, number[]],
  );
  // d split(x) = concat of the pieces' gradients (zero where a piece got none)
  return fromOpMulti("split", results, [x], (grads) => {
    if (isCreatingGraph()) {
      // Recorded: the pieces' gradients joined by concat (whose own rule slices them apart again).
      return [
        concat(
          grads.map((g, i) => g ?? zerosOf(x.dtype, pieces[i]!.shape)),
          a,
        ),
      ];
    }
    // Each piece's gradient in its place, zeros where a piece got none.
    const placed = grads.flatMap((g, i) =>
      g
        ? [
            {
              x: g.storage.kernelInput,
              shape: g.shape,
              starts: x.shape.map((_, k) => (k === a ? pieces[i]!.offset / strides[a]! : 0)),
            },
          ]
        : [],
    );
    return [new Tensor(kernelOutput(getBackend().place(placed, x.shape, x.dtype), x.dtype), x.shape)];
  });
}

/** Join tensors of one shape along a new axis. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  checkList("stack", tensors, "tensors");
  if (tensors.length === 0) throw new Error("stack: needs at least one tensor");
  tensors.forEach((t, i) => expectTensor("stack", t, `tensor ${i}`));
  const shape = tensors[0]!.shape;
  for (const t of tensors)
    if (!sameShape(t.shape, shape))
      throw new Error(`stack: shapes differ, ${tensors.map((u) => shapeString(u.shape)).join(", ")}`);
  const a = normalizeAxis("stack", axis, shape.length + 1);
  return concat(
    tensors.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** Pick entries along `axis` by index (repeats allowed): out.shape[axis] = indices.length. */
export function indexSelect(x: Tensor, axis: number, indices: ArrayLike<number>): Tensor {
  expectTensor("indexSelect", x);
  if (!Array.isArray(indices) && !(ArrayBuffer.isView(indices) && !(indices instanceof DataView))) {
    throw new Error(`indexSelect: indices must be a list or a typed array of integers, got ${describe(indices)}`);
  }
  const a = normalizeAxis("indexSelect", axis, x.rank);
  const n = x.shape[a]!;
  const idx = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    if (!Number.isInteger(i) || i < -n || i >= n)
      throw new Error(`indexSelect: index ${i} is out of range for axis ${axis} of size ${n}`);
    idx[j] = i < 0 ? i + n : i;
  }
  const outer = sizeOf(x.shape.slice(0, a)),
    inner = sizeOf(x.shape.slice(a + 1));
  const shape = [...x.shape];
  shape[a] = idx.length;
  const out = kernelOutput(getBackend().gather(x.storage.kernelInput, outer, n, inner, idx, x.dtype), x.dtype);
  // d x[idx] adds each picked gradient back at its index (repeats add up)
  return fromOp("indexSelect", out, shape, [x], (g) => [indexAdd(g, a, n, idx)]);
}

/** The adjoint of indexSelect: zeros of size n along `axis`, g's entries added at their indices. */
function indexAdd(g: Tensor, axis: number, n: number, idx: Int32Array): Tensor {
  const outer = sizeOf(g.shape.slice(0, axis)),
    inner = sizeOf(g.shape.slice(axis + 1));
  const shape = [...g.shape];
  shape[axis] = n;
  const out = kernelOutput(getBackend().scatterAdd(g.storage.kernelInput, outer, n, inner, idx, g.dtype), g.dtype);
  // d indexAdd(g) = dg picked at the same indices
  return fromOp("indexAdd", out, shape, [g], (gg) => [indexSelect(gg, axis, idx)]);
}

function zerosOf(dtype: Tensor["dtype"], shape: readonly number[]): Tensor {
  return new Tensor(allocate(dtype, sizeOf(shape)), shape);
}
