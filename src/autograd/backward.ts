import { checkFinite, isAnomalyDetectionEnabled, noGrad, runningRuleOf } from "./graph.js";
import { add } from "./ops/elementwise.js";
import { sum } from "./ops/reduce.js";
import { reshape } from "./ops/movement.js";
import { sameShape, shapeString } from "./shape.js";
import { allocate, Tensor } from "./tensor.js";

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default false: it is released). */
  retainGraph?: boolean;
}

/**
 * Undo broadcasting: sum a gradient of the broadcast shape back to the shape of the input it
 * belongs to. This is the only place broadcasting is undone; rules return output-shaped gradients.
 */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(grad.shape, shape)) return grad;
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  return reshape(sum(grad, axes, true), shape);
}

/** Every tensor the root depends on through recorded ops, inputs before the ops that use them. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // An explicit stack, not recursion: a long chain of flow layers must not overflow the call stack.
  const stack: Array<[Tensor, boolean]> = [[root, false]];
  while (stack.length > 0) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const p of t.node?.parents ?? []) if (p.requiresGrad && !visited.has(p)) stack.push([p, false]);
  }
  return order;
}

/**
 * Reverse mode: seed the root with `seed`, walk the graph from the root back to the leaves, and
 * apply each op's rule. Returns d(root·seed)/dt for every tensor reached. Given `wrt`, only the
 * part of the graph that leads to those tensors is run.
 */
export function gradients(root: Tensor, seed: Tensor, retainGraph = false, wrt?: readonly Tensor[]): Map<Tensor, Tensor> {
  if (!root.requiresGrad) throw new Error("backward: this tensor does not require grad; no input of the ops that made it has requiresGrad set");
  if (!sameShape(seed.shape, root.shape)) throw new Error(`backward: gradient of shape ${shapeString(seed.shape)} does not match tensor of shape ${shapeString(root.shape)}`);
  if (seed.dtype !== root.dtype) throw new Error(`backward: gradient dtype ${seed.dtype} does not match tensor dtype ${root.dtype}`);
  const order = topologicalOrder(root);
  let needed: Set<Tensor> | null = null;
  if (wrt) {
    needed = new Set(wrt);
    for (const t of order) if (t.node?.parents.some((p) => needed!.has(p))) needed.add(t);
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!, node = t.node, g = grads.get(t);
      if (!node || !g || (needed && !needed.has(t))) continue;
      if (!node.backward) {
        throw new Error(`backward: the graph through op "${node.op}" was released by an earlier backward(); pass { retainGraph: true } to backward through it twice`);
      }
      const rule = node.backward;
      const inputGrads = isAnomalyDetectionEnabled() ? runningRuleOf(node.op, () => rule(g, t)) : rule(g, t);
      node.parents.forEach((p, j) => {
        const gj = inputGrads[j];
        if (!p.requiresGrad || !gj || (needed && !needed.has(p))) return;
        const reduced = sumToShape(gj, p.shape);
        if (!sameShape(reduced.shape, p.shape)) {
          throw new Error(`backward: op "${node.op}" gave a gradient of shape ${shapeString(reduced.shape)} for input ${j} of shape ${shapeString(p.shape)}`);
        }
        if (isAnomalyDetectionEnabled()) checkFinite(node.op, "backward", reduced.data);
        const previous = grads.get(p);
        grads.set(p, previous ? add(previous, reduced) : reduced);
      });
    }
  });
  if (!retainGraph) {
    for (const t of order) {
      if (t.node) {
        t.node.backward = null;
        t.node.parents = [];
      }
    }
  }
  return grads;
}

/** Tensor.backward: accumulate gradients into the `grad` of every leaf that requires grad. */
export function backward(root: Tensor, grad?: Tensor, options: BackwardOptions = {}): void {
  if (!grad && root.size !== 1) {
    throw new Error(`backward: tensor of shape ${shapeString(root.shape)} is not a scalar; pass the gradient of the same shape explicitly`);
  }
  const seed = grad ?? new Tensor(allocate(root.dtype, root.size).fill(1), root.shape);
  const grads = gradients(root, seed, options.retainGraph ?? false);
  noGrad(() => {
    for (const [t, g] of grads) {
      if (!t.isLeaf || !t.requiresGrad) continue;
      // A gradient may share its buffer with the seed or another tensor: keep an own copy.
      t.grad = t.grad ? add(t.grad, g) : new Tensor(g.data.slice(), g.shape);
    }
  });
}
