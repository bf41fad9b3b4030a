import { gradients } from "./backward.js";
import { shapeString } from "./shape.js";
import { allocate, Tensor } from "./tensor.js";

type Fn = (...xs: Tensor[]) => Tensor;

/** Fresh leaves that share the inputs' data, so a function's gradient never touches outside `grad`s. */
function leavesOf(xs: Tensor[]): Tensor[] {
  return xs.map((x, i) => {
    if (!(x instanceof Tensor)) throw new Error(`grad: argument ${i} is not a Tensor`);
    return new Tensor(x.data, x.shape, true);
  });
}

function gradientsOf(leaves: Tensor[], grads: Map<Tensor, Tensor>): Tensor[] {
  return leaves.map((l) => grads.get(l) ?? new Tensor(allocate(l.dtype, l.size), l.shape));
}

/** f's value and its gradient with respect to every argument; f must return a scalar. */
export function valueAndGrad(f: Fn): (...xs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  return (...xs) => {
    const leaves = leavesOf(xs);
    const value = f(...leaves);
    if (value.size !== 1) throw new Error(`grad: the function must return a scalar, got shape ${shapeString(value.shape)}; use vjp for other outputs`);
    if (!value.requiresGrad) return { value, grads: gradientsOf(leaves, new Map()) };
    const seed = new Tensor(allocate(value.dtype, 1).fill(1), value.shape);
    return { value: value.detach(), grads: gradientsOf(leaves, gradients(value, seed, false, leaves)) };
  };
}

/** The gradient of a scalar f with respect to every argument: grad(f)(x, y) → [df/dx, df/dy]. */
export function grad(f: Fn): (...xs: Tensor[]) => Tensor[] {
  const vg = valueAndGrad(f);
  return (...xs) => vg(...xs).grads;
}

/**
 * Evaluate f once at x and return a pullback that maps any v (shaped like f(x)) to Jᵀv. The graph
 * is kept, so the pullback can be called many times: that is how a full Jacobian is built, one row
 * per call.
 */
export function vjpFunction(f: (x: Tensor) => Tensor, x: Tensor): { value: Tensor; pullback: (v: Tensor) => Tensor } {
  const [leaf] = leavesOf([x]) as [Tensor];
  const value = f(leaf);
  return {
    value: value.detach(),
    pullback: (v) => {
      if (!value.requiresGrad) return new Tensor(allocate(x.dtype, x.size), x.shape);
      return gradients(value, v, true, [leaf]).get(leaf) ?? new Tensor(allocate(x.dtype, x.size), x.shape);
    },
  };
}

/** The vector-Jacobian product vᵀ ∂f/∂x at x, shaped like x. */
export function vjp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  return vjpFunction(f, x).pullback(v);
}
