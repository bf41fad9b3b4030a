import { gradients } from "./backward.js";
import { enableGrad, isGradEnabled, preferComposed } from "./graph.js";
import { reshape, stack } from "./ops/movement.js";
import { shapeString } from "./shape.js";
import { allocate, expectTensor, fromOp, Tensor } from "./tensor.js";
import { checkFunction } from "./validate.js";

/** A function of tensors to one tensor, the kind grad, vjp and the other transforms take. */
export type Fn = (...xs: Tensor[]) => Tensor;

export interface GradOptions {
  /**
   * Record the backward pass so the results can be differentiated again (see BackwardOptions).
   * Default: on when an argument is itself part of a recorded graph (it requires grad and recording
   * is on) — a grad inside a function that is being differentiated, as in grad(grad(f)) — else off,
   * so first-order use costs what it always did. false gives constants (a stop-gradient).
   */
  createGraph?: boolean;
}

function wantsGraph(xs: readonly Tensor[], options: GradOptions): boolean {
  return options.createGraph ?? (isGradEnabled() && xs.some((x) => x instanceof Tensor && x.requiresGrad));
}

// Each pass below asks for the gradient with respect to the tensors f was called with, treated as
// leaves (wrtAsLeaves): the graph that made the arguments is not walked — a grad nested in a loop
// (an ODE solver's steps) costs one step's graph, not the whole history's.

/**
 * The tensors f is called with. First order: fresh leaves sharing the arguments' values, so a
 * function's gradient never touches outside `grad`s. With a graph: an identity op of each argument
 * that requires grad, so the results stay connected to whatever made the arguments.
 */
export function leavesOf(xs: Tensor[], createGraph: boolean, name = "grad"): Tensor[] {
  return xs.map((x, i) => {
    if (!(x instanceof Tensor)) throw new Error(`${name}: argument ${i} is not a Tensor`);
    if (createGraph && x.requiresGrad) return enableGrad(() => fromOp("argument", x.storage, x.shape, [x], (g) => [g]));
    return new Tensor(x.storage, x.shape, true);
  });
}

/** Evaluate a forward for a first-order gradient: recorded (even inside noGrad), fused ops as kernels. */
function recordForFirstOrder<T>(fn: () => T): T {
  return enableGrad(() => preferComposed(false, fn));
}

/** Evaluate a forward whose gradient will be differentiated again: recorded, fused ops as their composed references. */
function recordForSecondOrder<T>(fn: () => T): T {
  return enableGrad(() => preferComposed(true, fn));
}

function zerosLikeOf(x: Tensor): Tensor {
  return new Tensor(allocate(x.dtype, x.size), x.shape);
}

function gradientsOf(leaves: Tensor[], grads: Map<Tensor, Tensor>): Tensor[] {
  return leaves.map((l) => grads.get(l) ?? zerosLikeOf(l));
}

/** Throw unless v is a tensor of x's dtype and shape (a tangent or a vector for a product), naming the op. */
function checkLikeX(op: string, what: string, v: unknown, x: Tensor): void {
  if (!(v instanceof Tensor) || v.dtype !== x.dtype || v.rank !== x.rank || v.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(
      `${op}: ${what} must be a ${x.dtype} tensor of x's shape ${shapeString(x.shape)}, got ${v instanceof Tensor ? `${v.dtype} ${shapeString(v.shape)}` : typeof v}`,
    );
  }
}

/** A leaf standing for x and f's gradient there, recorded so that it can be differentiated again (hvp, hessian). */
function gradientWithGraph(f: (x: Tensor) => Tensor, x: Tensor, op: string): { leaf: Tensor; g: Tensor } {
  const [leaf] = leavesOf([x], true, op) as [Tensor];
  const {
    grads: [g],
  } = enableGrad(() => valueAndGrad(f, { createGraph: true })(leaf));
  return { leaf, g: g! };
}

function ones(like: Tensor): Tensor {
  return new Tensor(allocate(like.dtype, like.size).fill(1), like.shape);
}

/** f's value and its gradient with respect to every argument; f must return a scalar. */
export function valueAndGrad(
  f: Fn,
  options: GradOptions = {},
): (...xs: Tensor[]) => { value: Tensor; grads: Tensor[] } {
  checkFunction("grad", f);
  return (...xs) => {
    const createGraph = wantsGraph(xs, options);
    const leaves = leavesOf(xs, createGraph);
    // f is recorded even when called inside noGrad: its gradient needs the graph (without it, a
    // silent zero). The gradient itself is a constant unless a graph is created.
    const value = createGraph ? recordForSecondOrder(() => f(...leaves)) : recordForFirstOrder(() => f(...leaves));
    if (!(value instanceof Tensor)) throw new Error(`grad: the function must return a Tensor, got ${typeof value}`);
    if (value.size !== 1)
      throw new Error(
        `grad: the function must return a scalar, got shape ${shapeString(value.shape)}; use vjp for other outputs`,
      );
    if (!value.requiresGrad) return { value, grads: gradientsOf(leaves, new Map()) };
    const grads = gradients(value, ones(value), { createGraph, wrt: leaves, wrtAsLeaves: true });
    return { value: createGraph ? value : value.detach(), grads: gradientsOf(leaves, grads) };
  };
}

/** The gradient of a scalar f with respect to every argument: grad(f)(x, y) → [df/dx, df/dy]. Nests: grad of a grad is a second derivative. */
export function grad(f: Fn, options: GradOptions = {}): (...xs: Tensor[]) => Tensor[] {
  const vg = valueAndGrad(f, options);
  return (...xs) => vg(...xs).grads;
}

/**
 * Evaluate f once at x and return a pullback that maps any v (shaped like f(x)) to Jᵀv. The graph
 * is kept, so the pullback can be called many times: that is how a full Jacobian is built, one row
 * per call. With a graph (see GradOptions), Jᵀv is differentiable in x and in v.
 */
export function vjpFunction(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  options: GradOptions = {},
): { value: Tensor; pullback: (v: Tensor) => Tensor } {
  checkFunction("vjp", f);
  const createGraph = wantsGraph([x], options);
  const [leaf] = leavesOf([x], createGraph, "vjp") as [Tensor];
  const value = createGraph ? recordForSecondOrder(() => f(leaf)) : recordForFirstOrder(() => f(leaf));
  if (!(value instanceof Tensor)) throw new Error(`vjp: the function must return a Tensor, got ${typeof value}`);
  return {
    value: createGraph ? value : value.detach(),
    pullback: (v) => {
      if (!(v instanceof Tensor)) throw new Error("vjp: the cotangent v must be a Tensor");
      if (!value.requiresGrad) return zerosLikeOf(x);
      const graph = createGraph || (isGradEnabled() && v.requiresGrad);
      return (
        gradients(value, v, { retainGraph: true, createGraph: graph, wrt: [leaf], wrtAsLeaves: true }).get(leaf) ??
        zerosLikeOf(x)
      );
    },
  };
}

/** The vector-Jacobian product vᵀ ∂f/∂x at x, shaped like x. */
export function vjp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor, options: GradOptions = {}): Tensor {
  return vjpFunction(f, x, options).pullback(v);
}

/**
 * The Jacobian-vector product (∂f/∂x) v at x, shaped like f(x): forward mode, by differentiating a
 * vector-Jacobian product. u ↦ Jᵀu is linear in u, so the gradient of ⟨Jᵀu, v⟩ with respect to u is
 * J v, whatever u is (zeros here). Two backward passes, the second through the first's graph.
 */
export function jvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor, options: GradOptions = {}): Tensor {
  checkFunction("jvp", f);
  expectTensor("jvp", x, "x");
  checkLikeX("jvp", "the tangent v", v, x);
  const createGraph = wantsGraph([x, v], options);
  const { value, pullback } = vjpFunction(f, x, { createGraph: true });
  if (!value.requiresGrad) return zerosLikeOf(value);
  const u = new Tensor(allocate(value.dtype, value.size), value.shape, true);
  const pulled = enableGrad(() => pullback(u));
  const inner = enableGrad(() => pulled.mul(v).sum());
  if (!inner.requiresGrad) return zerosLikeOf(value); // Jᵀu does not depend on u: f(x) does not depend on x
  return gradients(inner, ones(inner), { createGraph, wrt: [u] }).get(u) ?? zerosLikeOf(value);
}

/**
 * The Hessian-vector product ∇²f(x) v of a scalar f, shaped like x, by reverse over reverse: the
 * gradient g(x) is computed with its graph, then ⟨g(x), v⟩ is differentiated again. It costs about
 * two gradients, whatever the size of x; the Hessian itself is never formed.
 */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor, options: GradOptions = {}): Tensor {
  checkFunction("hvp", f);
  expectTensor("hvp", x, "x");
  checkLikeX("hvp", "the vector v", v, x);
  const createGraph = wantsGraph([x, v], options);
  const { leaf, g } = gradientWithGraph(f, x, "hvp");
  if (!g.requiresGrad) return zerosLikeOf(x); // f is at most linear in x
  return gradients(g, v, { createGraph, wrt: [leaf], wrtAsLeaves: true }).get(leaf) ?? zerosLikeOf(x);
}

/**
 * The Jacobian of f at x, shaped [...f(x).shape, ...x.shape], one reverse pass per output element
 * (JAX's jacrev): the cheaper way when f has fewer outputs than inputs.
 */
export function jacrev(f: (x: Tensor) => Tensor, options: GradOptions = {}): (x: Tensor) => Tensor {
  checkFunction("jacrev", f);
  return (x) => {
    const { value, pullback } = vjpFunction(f, x, options);
    const rows: Tensor[] = [];
    for (let i = 0; i < value.size; i++) {
      const e = zerosLikeOf(value);
      e.data[i] = 1;
      rows.push(pullback(e));
    }
    if (rows.length === 0 || x.size === 0) return new Tensor(allocate(x.dtype, 0), [...value.shape, ...x.shape]);
    return reshape(stack(rows), [...value.shape, ...x.shape]);
  };
}

/**
 * The Jacobian of f at x, shaped [...f(x).shape, ...x.shape], one forward-mode product per input
 * element (JAX's jacfwd): the cheaper way when f has fewer inputs than outputs.
 */
export function jacfwd(f: (x: Tensor) => Tensor, options: GradOptions = {}): (x: Tensor) => Tensor {
  checkFunction("jacfwd", f);
  return (x) => {
    const columns: Tensor[] = [];
    let outShape: readonly number[] | null = null;
    for (let j = 0; j < x.size; j++) {
      const e = zerosLikeOf(x);
      e.data[j] = 1;
      const column = jvp(f, x, e, options);
      outShape = column.shape;
      columns.push(reshape(column, [column.size]));
    }
    if (!outShape) throw new Error(`jacfwd: x has no elements (shape ${shapeString(x.shape)})`);
    // columns[j][i] = ∂f_i/∂x_j: stacked on the last axis, rows are the outputs.
    return reshape(stack(columns, 1), [...outShape, ...x.shape]);
  };
}

/**
 * The Hessian of a scalar f at x, shaped [...x.shape, ...x.shape]: the gradient computed once with
 * its graph, then differentiated along each unit vector (one backward pass per element of x, so
 * for small inputs; hvp gives a product with it at the cost of one).
 */
export function hessian(f: (x: Tensor) => Tensor, options: GradOptions = {}): (x: Tensor) => Tensor {
  checkFunction("hessian", f);
  return (x) => {
    const createGraph = wantsGraph([x], options);
    if (x.size === 0) return new Tensor(allocate(x.dtype, 0), [...x.shape, ...x.shape]);
    const { leaf, g } = gradientWithGraph(f, x, "hessian");
    const rows: Tensor[] = [];
    for (let i = 0; i < x.size; i++) {
      const e = zerosLikeOf(x);
      e.data[i] = 1;
      rows.push(
        g.requiresGrad
          ? (gradients(g, e, { retainGraph: true, createGraph, wrt: [leaf], wrtAsLeaves: true }).get(leaf) ??
              zerosLikeOf(x))
          : zerosLikeOf(x),
      );
    }
    return reshape(stack(rows), [...x.shape, ...x.shape]);
  };
}
