import {
  addN,
  type DType,
  fromOpMulti,
  isComposedPreferred,
  isCreatingGraph,
  Module,
  recomputedVjp,
  Storage,
  Tensor,
} from "../autograd/index.js";
import { type CustomKernel, getBackend } from "../kernels/index.js";

/** A flow layer's result: the transformed points and log|det ∂f/∂z| per point. */
export interface FlowOutput {
  /** [N, D] */
  z: Tensor;
  /** [N] */
  logAbsDet: Tensor;
}

/**
 * An op with two outputs from one fused kernel (a flow layer's [z', log|det|], the planar
 * constraint's [û, slack]) whose backward gives the gradients of all its inputs from one kernel.
 * Each is one call to the backend (`run`), which decides where it runs: on the device, outputs and
 * gradients stay there. `composed` is the same map written with tensor ops (the readable
 * reference): a backward pass that creates a graph differentiates it instead of running the fused
 * backward kernel, so the fused layer has derivatives of every order. Outputs of the forward kernel
 * past the first two are kept for the backward kernel, which gets them after the inputs.
 */
export function fusedOp<A>(
  op: string,
  shapes: [readonly number[], readonly number[]],
  dtype: DType,
  inputs: Tensor[],
  kernels: { forward: CustomKernel<A>; backward: CustomKernel<A>; args: A },
  composed: (...xs: Tensor[]) => [Tensor, Tensor],
): [Tensor, Tensor] {
  // Inside a forward that a createGraph pass will differentiate (hvp, hessian, nested grad), the
  // second pass needs the composed ops anyway: record them now rather than recompute them then.
  if (isComposedPreferred() && inputs.some((t) => t.requiresGrad)) return composed(...inputs);
  const on = inputs.map((t) => t.storage.kernelInput);
  const [first, second, ...saved] = getBackend().run(kernels.forward, on, kernels.args, dtype);
  const [a, b] = fromOpMulti(
    op,
    [
      [new Storage(first!, dtype), shapes[0]],
      [new Storage(second!, dtype), shapes[1]],
    ],
    inputs,
    ([g0, g1]) => {
      if (isCreatingGraph()) return recomputedVjp(inputs, composed, [g0 ?? null, g1 ?? null]);
      const grads = getBackend().run(
        kernels.backward,
        [...on, ...saved, g0?.storage.kernelInput ?? null, g1?.storage.kernelInput ?? null],
        kernels.args,
        dtype,
      );
      return grads.map((g, i) => new Tensor(new Storage(g, inputs[i]!.dtype), inputs[i]!.shape));
    },
  );
  return [a!, b!];
}

/**
 * Input a flow layer cannot use: points that are not finite, or parameters it refuses (not finite,
 * or too large for float64). `what` says which, so callers can say where it came from (the layer
 * before, or the last update) without reading the message.
 */
export class FlowInputError extends Error {
  override name = "FlowInputError";
  constructor(
    message: string,
    readonly what: "points" | "parameters",
  ) {
    super(message);
  }
}

/** An invertible map of [N, D] points that knows its log-determinant. */
export interface Flow {
  readonly dim: number;
  forward(z: Tensor): FlowOutput;
  /** f⁻¹(x), computed without recording a graph. */
  inverse(x: Tensor): Tensor;
  parameters(): Tensor[];
}

/** Throw unless z has shape [N, dim], naming the layer. */
export function checkPointShape(layer: string, z: Tensor, dim: number): void {
  if (z.rank !== 2 || z.shape[1] !== dim) {
    throw new Error(`${layer}: expected points of shape [N, ${dim}], got [${z.shape.join(", ")}]`);
  }
}

/** Throw unless z is a finite [N, dim] tensor (values on the host), naming the layer and what is wrong. */
export function checkPoints(layer: string, z: Tensor, dim: number): void {
  checkPointShape(layer, z, dim);
  // Points on a device are not read back just to be checked (that would undo keeping them there);
  // they come from ops on checked inputs, and detectAnomaly() checks every op's output.
  if (z.storage.onDevice) return;
  const data = z.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      throw new FlowInputError(
        `${layer}: input holds ${v} at point ${Math.floor(i / dim)}, coordinate ${i % dim}; points must be finite`,
        "points",
      );
    }
  }
}

/** Throw if a parameter on the host holds NaN or ±Infinity (a training step that overflowed), naming it. */
export function checkFiniteParameter(layer: string, key: string, t: Tensor): void {
  if (t.storage.onDevice) return; // as for points: not read back just to be checked
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0)
      throw new FlowInputError(
        `${layer}: parameter ${key} holds ${v} at index ${i}; parameters must be finite`,
        "parameters",
      );
  }
}

/**
 * Check a layer's parameters against points z [N, D]. `vectors` have shape [D] when shared or
 * [N, D] per sample; `scalars` have one element ([] or [1]) when shared or shape [N] per sample.
 * The rank of the first vector decides which. Returns N, D and whether parameters are per sample.
 */
export function checkLayerParams(
  layer: string,
  z: Tensor,
  vectors: Record<string, Tensor>,
  scalars: Record<string, Tensor>,
): { n: number; d: number; perSample: boolean } {
  if (z.rank !== 2) throw new Error(`${layer}: expected points of shape [N, D], got [${z.shape.join(", ")}]`);
  const [n, d] = z.shape as [number, number];
  const perSample = Object.values(vectors)[0]!.rank === 2;
  const check = (key: string, t: Tensor, expected: number[], ok: boolean): void => {
    if (!ok) {
      throw new Error(
        `${layer}: parameter ${key} has shape [${t.shape.join(", ")}], expected [${expected.join(", ")}] for points [${n}, ${d}] (${perSample ? "per-sample" : "shared"} parameters)`,
      );
    }
    if (t.dtype !== z.dtype) throw new Error(`${layer}: parameter ${key} is ${t.dtype}, points are ${z.dtype}`);
  };
  const hasShape = (t: Tensor, shape: number[]) => t.rank === shape.length && t.shape.every((s, i) => s === shape[i]);
  for (const [key, t] of Object.entries(vectors)) {
    const expected = perSample ? [n, d] : [d];
    check(key, t, expected, hasShape(t, expected));
  }
  for (const [key, t] of Object.entries(scalars)) {
    check(key, t, perSample ? [n] : [1], perSample ? hasShape(t, [n]) : t.size === 1 && t.rank <= 1);
  }
  for (const [key, t] of [...Object.entries(vectors), ...Object.entries(scalars)]) checkFiniteParameter(layer, key, t);
  checkPoints(layer, z, d);
  return { n, d, perSample };
}

/** f_K ∘ … ∘ f_1: log-determinants add up (the chain rule for determinants). */
export class Sequential extends Module implements Flow {
  readonly dim: number;
  readonly layers: Flow[];
  constructor(layers: Flow[]) {
    super();
    if (layers.length === 0) throw new Error("Sequential: needs at least one flow layer");
    this.dim = layers[0]!.dim;
    layers.forEach((layer, i) => {
      if (layer.dim !== this.dim)
        throw new Error(`Sequential: layer ${i} has dimension ${layer.dim}, layer 0 has ${this.dim}`);
      if (layer instanceof Module) this.addModule(String(i), layer);
    });
    this.layers = layers;
  }
  forward(z: Tensor): FlowOutput {
    const logAbsDets: Tensor[] = [];
    for (const [i, layer] of this.layers.entries()) {
      let out: FlowOutput;
      try {
        out = layer.forward(z);
      } catch (error) {
        // A layer that finds non-finite input got it from the layer before: blame that one.
        if (i > 0 && error instanceof FlowInputError && error.what === "points") {
          throw new Error(
            `Sequential: layer ${i - 1} of ${this.layers.length} turned finite points into non-finite ones (${error.message}); the flow overflowed — fewer layers, a smaller learning rate, or smaller parameters`,
          );
        }
        throw error;
      }
      z = out.z;
      logAbsDets.push(out.logAbsDet);
    }
    return { z, logAbsDet: logAbsDets.length === 1 ? logAbsDets[0]! : addN(logAbsDets) };
  }
  inverse(x: Tensor): Tensor {
    for (let i = this.layers.length - 1; i >= 0; i--) x = this.layers[i]!.inverse(x);
    return x;
  }
}
