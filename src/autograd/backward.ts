import {
  checkFinite,
  firstOrderOnly,
  isAnomalyDetectionEnabled,
  type Node,
  runningRuleOf,
  withCreateGraph,
  withGradMode,
} from "./graph.js";
import { add, mul } from "./ops/elementwise.js";
import { reshape } from "./ops/movement.js";
import { sum } from "./ops/reduce.js";
import { sameShape, shapeString } from "./shape.js";
import { keepStorage, type Storage, storageCount } from "./storage.js";
import { allocate, expectTensor, Tensor } from "./tensor.js";
import { describe } from "./validate.js";

export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default: false, or true with createGraph). */
  retainGraph?: boolean;
  /**
   * Record the backward pass itself (default false): every rule runs as ordinary tensor ops, so the
   * gradients it returns carry a graph and can be differentiated again, to any order. Costs a graph
   * as large as the forward's; without it the rules run under noGrad and give constants.
   */
  createGraph?: boolean;
}

export interface GradientsOptions extends BackwardOptions {
  /** Only these tensors' gradients are wanted: the part of the graph that does not lead to them is skipped. */
  wrt?: readonly Tensor[];
  /**
   * Treat the `wrt` tensors as leaves: the graph above them is not walked, and each gets its own
   * partial derivative even where one depends on another (a fused op's rule uses this for its inputs).
   */
  wrtAsLeaves?: boolean;
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

/**
 * Every recorded op the outputs depend on, each after the ops that made its inputs: the graph that
 * backward would walk and that holds its tensors alive until then. Tensors in `stopAt` count as
 * leaves (the graph above them is not walked). The leaves themselves are the ops' parents that
 * require grad and have no op of their own.
 */
export function recordedOps(outputs: readonly Tensor[], stopAt?: ReadonlySet<Tensor>): Node[] {
  const order: Node[] = [];
  const visited = new Set<Node>();
  // An explicit stack, not recursion: a long chain of flow layers must not overflow the call stack.
  const stack: Array<[Node, boolean]> = [];
  for (const t of outputs) if (t.node && t.requiresGrad && !stopAt?.has(t)) stack.push([t.node, false]);
  while (stack.length > 0) {
    const [node, done] = stack.pop()!;
    if (done) {
      order.push(node);
      continue;
    }
    if (visited.has(node)) continue;
    visited.add(node);
    stack.push([node, true]);
    for (const p of node.parents)
      if (p.requiresGrad && p.node && !visited.has(p.node) && !stopAt?.has(p)) stack.push([p.node, false]);
  }
  return order;
}

/**
 * Reverse mode: seed the root with `seed`, walk the recorded ops from the root back to the leaves,
 * and run each op's rule once with the gradients of its outputs. Returns d(root·seed)/dx for every
 * leaf x reached (intermediate gradients are dropped as soon as they are used). Given `wrt`, only
 * the part of the graph that leads to those tensors is run.
 */
export function gradients(
  root: Tensor,
  seed: Tensor,
  options: GradientsOptions | boolean = {},
  wrtArgument?: readonly Tensor[],
): Map<Tensor, Tensor> {
  // (root, seed, retainGraph, wrt) is the older spelling, kept working.
  const {
    createGraph = false,
    retainGraph = createGraph,
    wrt = wrtArgument,
    wrtAsLeaves = false,
  } = typeof options === "boolean" ? { retainGraph: options } : options;
  expectTensor("backward", root, "the root");
  expectTensor("backward", seed, "the gradient");
  if (wrt !== undefined && !Array.isArray(wrt))
    throw new Error(`gradients: wrt must be a list of tensors, got ${describe(wrt)}`);
  if (!root.requiresGrad)
    throw new Error(
      "backward: this tensor does not require grad; no input of the ops that made it has requiresGrad set",
    );
  if (!sameShape(seed.shape, root.shape))
    throw new Error(
      `backward: gradient of shape ${shapeString(seed.shape)} does not match tensor of shape ${shapeString(root.shape)}`,
    );
  if (seed.dtype !== root.dtype)
    throw new Error(`backward: gradient dtype ${seed.dtype} does not match tensor dtype ${root.dtype}`);
  const targets = new Set(wrt ?? []);
  const order = recordedOps([root], wrt && wrtAsLeaves ? targets : undefined);
  // With `wrt`, a tensor matters if it is one of them or an op output that depends on one of them.
  let matters: ((t: Tensor) => boolean) | null = null;
  if (wrt) {
    const neededNodes = new Set<Node>();
    matters = (t) => targets.has(t) || (t.node !== null && neededNodes.has(t.node));
    for (const node of order) if (node.parents.some(matters)) neededNodes.add(node);
    if (!matters(root)) return new Map();
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  // First order: rules run under noGrad and give constants. createGraph: rules are recorded like any op.
  withCreateGraph(createGraph, () => {
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      if (matters && !node.parents.some(matters)) continue; // leads to no tensor asked for
      const outputGrads = node.outputs.map((o) => grads.get(o) ?? null);
      if (outputGrads.every((g) => g === null)) continue;
      if (!node.backward) {
        throw new Error(
          `backward: the graph through op "${node.op}" was released by an earlier backward(); pass { retainGraph: true } to backward through it twice`,
        );
      }
      const rule = node.backward;
      const inputGrads = isAnomalyDetectionEnabled()
        ? runningRuleOf(node.op, () => rule(outputGrads))
        : rule(outputGrads);
      if (createGraph) checkRecorded(node.op, outputGrads, inputGrads);
      for (const o of node.outputs) if (!targets.has(o)) grads.delete(o); // an asked-for op output keeps its gradient
      node.parents.forEach((p, j) => {
        const gj = inputGrads[j];
        if (!p.requiresGrad || !gj || (matters && !matters(p))) return;
        const reduced = sumToShape(gj, p.shape);
        if (!sameShape(reduced.shape, p.shape)) {
          throw new Error(
            `backward: op "${node.op}" gave a gradient of shape ${shapeString(reduced.shape)} for input ${j} of shape ${shapeString(p.shape)}`,
          );
        }
        if (isAnomalyDetectionEnabled()) checkFinite(node.op, "backward", reduced.toHost().data);
        const previous = grads.get(p);
        grads.set(p, previous ? add(previous, reduced) : reduced);
      });
    }
  });
  if (!retainGraph) {
    // (createGraph keeps it by default: a gradient's own graph runs back through these nodes, e.g.
    // d exp(x) = exp(x) dx reuses exp's output, so differentiating it again needs exp's rule.)
    for (const node of order) {
      // Dropping the rule and the inputs frees everything upstream; outputs point back at this node anyway.
      node.backward = null;
      node.parents = [];
    }
  }
  return grads;
}

/**
 * A rule's result is linear in the gradients it was given, so when one of those is part of the
 * graph, every non-zero result must be too. A result outside it was computed off the graph (a
 * raw kernel): its derivative would silently be zero, so name the op instead.
 */
function checkRecorded(op: string, outputGrads: Array<Tensor | null>, inputGrads: Array<Tensor | null>): void {
  if (!outputGrads.some((g) => g?.requiresGrad)) return;
  for (const g of inputGrads) {
    if (g && !g.requiresGrad) firstOrderOnly(op);
  }
}

/** Tensor.backward: accumulate gradients into the `grad` of every leaf that requires grad. */
export function backward(root: Tensor, grad?: Tensor, options: BackwardOptions = {}): void {
  if (grad !== undefined && grad !== null) expectTensor("backward", grad, "the gradient");
  if (typeof options !== "object" || options === null)
    throw new Error(`backward: options must be an object such as { retainGraph: true }, got ${describe(options)}`);
  if (!grad && root.size !== 1) {
    throw new Error(
      `backward: tensor of shape ${shapeString(root.shape)} is not a scalar; pass the gradient of the same shape explicitly`,
    );
  }
  const seed = grad ?? new Tensor(allocate(root.dtype, root.size).fill(1), root.shape);
  const fresh = freshBuffers();
  const createGraph = options.createGraph ?? false;
  const grads = gradients(root, seed, { retainGraph: options.retainGraph ?? createGraph, createGraph });
  // With createGraph the accumulation is recorded too, so x.grad carries the graph of its own derivative.
  withGradMode(createGraph, () => {
    for (const [t, g] of grads) {
      if (!t.isLeaf || !t.requiresGrad) continue;
      t.grad = t.grad ? add(t.grad, g) : fresh.own(g, createGraph);
      keepStorage(t.grad.storage);
    }
  });
}

/**
 * Whose buffer a leaf's gradient may take. A gradient may share its buffer with the seed, a tensor
 * of the caller's, or another leaf's gradient (add gives both inputs the same one): those get a
 * copy of their own. A buffer this pass made (its Storage serial is past the mark) for one leaf
 * alone is taken as it is: on a device, a kernel launch saved per parameter.
 */
function freshBuffers() {
  const mark = storageCount();
  const taken = new Set<Storage>();
  return {
    own(g: Tensor, createGraph: boolean): Tensor {
      const mine = g.storage.serial >= mark && !taken.has(g.storage);
      const out = mine ? g : g.storage.onDevice || createGraph ? mul(g, 1) : new Tensor(g.data.slice(), g.shape);
      taken.add(out.storage);
      return out;
    },
  };
}
