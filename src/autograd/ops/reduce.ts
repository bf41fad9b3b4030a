import { getBackend, isDeviceArray, type KernelInput, type ReduceOp } from "../../kernels/index.js";
import { type Axis, normalizeAxes, sizeOf } from "../shape.js";
import { Storage } from "../storage.js";
import { expectTensor, fromOp, type Tensor, type TypedArray } from "../tensor.js";
import { add, div, eq, exp, log, mul, neg, sub, where } from "./elementwise.js";
import { broadcastTo, reshape } from "./movement.js";

/** The kept-dims shape: reduced axes become 1. */
function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * Run a reduce kernel over the given axes. Each run of adjacent axes is one kernel call on x viewed
 * as [outer, size, inner]; runs are reduced last-first so earlier offsets stay valid.
 */
function reduceAxes(op: ReduceOp, x: Tensor, axes: number[]): TypedArray | Storage {
  const backend = getBackend();
  // Stay on the device while the backend takes every run there; otherwise continue on the host.
  const input = x.storage.kernelInput;
  let data: KernelInput = input;
  let shape = [...x.shape];
  for (let r = axes.length - 1; r >= 0; ) {
    let first = r;
    while (first > 0 && axes[first - 1] === axes[first]! - 1) first--;
    const lo = axes[first]!,
      hi = axes[r]!;
    const outer = sizeOf(shape.slice(0, lo)),
      size = sizeOf(shape.slice(lo, hi + 1)),
      inner = sizeOf(shape.slice(hi + 1));
    const out = backend.reduce(op, data, outer, size, inner, x.dtype);
    if (isDeviceArray(data) && data !== input) data.release(); // an intermediate run, used up
    data = out;
    shape = [...shape.slice(0, lo), ...new Array<number>(hi - lo + 1).fill(1), ...shape.slice(hi + 1)];
    r = first - 1;
  }
  if (isDeviceArray(data)) return data === input ? x.toHost().data.slice() : new Storage(data, x.dtype);
  return data === input ? data.slice() : data;
}

function outShape(shape: readonly number[], axes: number[], keepdims: boolean): number[] {
  return keepdims ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

// d Σx = 1 · dx: the gradient is spread back over the summed axes.
export function sum(x: Tensor, axis?: Axis, keepdims = false): Tensor {
  expectTensor("sum", x);
  const axes = normalizeAxes("sum", axis, x.rank);
  return fromOp("sum", reduceAxes("sum", x, axes), outShape(x.shape, axes, keepdims), [x], (g) => [
    broadcastTo(reshape(g, keptShape(x.shape, axes)), x.shape),
  ]);
}

// d max(x) = [x = max] dx, ties share the gradient evenly
export function max(x: Tensor, axis?: Axis, keepdims = false): Tensor {
  expectTensor("max", x);
  const axes = normalizeAxes("max", axis, x.rank);
  if (axes.some((a) => x.shape[a] === 0))
    throw new Error(`max: cannot reduce an empty axis of shape [${x.shape.join(", ")}]`);
  return fromOp("max", reduceAxes("max", x, axes), outShape(x.shape, axes, keepdims), [x], (g, y) => {
    const kept = keptShape(x.shape, axes);
    const mask = eq(x, reshape(y, kept));
    return [mul(mask, div(reshape(g, kept), sum(mask, axes, true)))];
  });
}

// Composites: built from the primitives above, so their gradients need no rule of their own.

export function mean(x: Tensor, axis?: Axis, keepdims = false): Tensor {
  const axes = normalizeAxes("mean", axis, x.rank);
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  return div(sum(x, axes, keepdims), count);
}

export function min(x: Tensor, axis?: Axis, keepdims = false): Tensor {
  return neg(max(neg(x), axis, keepdims));
}

/** log Σ exp(x), shifted by the (constant) max so no exp overflows. */
export function logsumexp(x: Tensor, axis?: Axis, keepdims = false): Tensor {
  const axes = normalizeAxes("logsumexp", axis, x.rank);
  const m = max(x.detach(), axes, true);
  // An all −∞ (or +∞) slice would give ∞ − ∞; shift those by 0 instead (m − m is NaN exactly there).
  // Ops, not a loop over m's values, so that m may stay on a device.
  const shift = where(eq(sub(m, m), 0), m, 0);
  const out = add(log(sum(exp(sub(x, shift)), axes, true)), shift);
  return keepdims ? out : reshape(out, outShape(x.shape, axes, false));
}
