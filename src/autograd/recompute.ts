import { gradients } from "./backward.js";
import { addN } from "./ops/elementwise.js";
import { sum } from "./ops/reduce.js";
import { fromOp, Tensor } from "./tensor.js";

/**
 * The vector-Jacobian product of a fused op, for a backward pass that creates a graph: run the
 * op's composed reference (the same math as ordinary tensor ops) again on its inputs, recorded,
 * and differentiate that with createGraph. The hand-written fused backward is a kernel on raw
 * arrays, so its result could not be differentiated again; this one can, to any order. It costs one
 * more forward of the op, and only in createGraph passes: first-order passes keep the fused kernel.
 */
export function recomputedVjp(
  inputs: readonly Tensor[],
  composed: (...xs: Tensor[]) => Tensor[],
  outputGrads: ReadonlyArray<Tensor | null>,
): Array<Tensor | null> {
  // Each input through an identity op: the result's graph reaches the real inputs through it, and
  // the pass below stops there, so it gives the op's own (partial) derivatives, not the graph's above.
  const locals = inputs.map((x) => (x.requiresGrad ? fromOp("alias", x.storage, x.shape, [x], (g) => [g]) : x));
  const outs = composed(...locals);
  const terms = outs.flatMap((o, i) => (outputGrads[i] ? [sum(o.mul(outputGrads[i]!))] : []));
  const wanted = locals.filter((l) => l.requiresGrad);
  if (terms.length === 0 || wanted.length === 0) return inputs.map(() => null);
  const total = terms.length === 1 ? terms[0]! : addN(terms);
  if (!total.requiresGrad) return inputs.map(() => null);
  const seed = new Tensor(total.dtype === "float64" ? Float64Array.of(1) : Float32Array.of(1), []);
  const grads = gradients(total, seed, { createGraph: true, wrt: wanted, wrtAsLeaves: true });
  return locals.map((l) => (l.requiresGrad ? (grads.get(l) ?? null) : null));
}
