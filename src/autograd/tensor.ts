import { type DType, isDeviceArray, type KernelInput, type TypedArray } from "../kernels/index.js";
import { type BackwardOptions, backward as runBackward } from "./backward.js";
import { type BackwardRule, checkFinite, isAnomalyDetectionEnabled, isGradEnabled, type Node } from "./graph.js";
import * as ew from "./ops/elementwise.js";
import * as la from "./ops/linalg.js";
import * as mv from "./ops/movement.js";
import * as rd from "./ops/reduce.js";
import { type Axis, shapeString, sizeOf } from "./shape.js";
import { Storage } from "./storage.js";
import { checkShape, describe } from "./validate.js";

export type { DType, TypedArray };
export type NestedArray = number | NestedArray[];
/** Where an op takes a tensor it also takes a plain number, made a scalar tensor of the other input's dtype. */
export type TensorLike = Tensor | number;

export function allocate(dtype: DType, size: number): TypedArray {
  return dtype === "float64" ? new Float64Array(size) : new Float32Array(size);
}

/** A kernel's result as a tensor's data: a host array as it is, a device array in a Storage of `dtype`. */
export function kernelOutput(x: KernelInput, dtype: DType): TypedArray | Storage {
  return isDeviceArray(x) ? new Storage(x, dtype) : x;
}

export function dtypeOf(data: TypedArray): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/**
 * An n-dimensional array in row-major order, with what reverse mode needs: `requiresGrad`, the
 * accumulated `grad`, and for an op's output the `node` that knows how to send gradients back.
 */
export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Where the values live (host or device); shared with reshapes of this tensor. */
  readonly storage: Storage;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  node: Node | null = null;

  constructor(data: TypedArray | Storage, shape: readonly number[], requiresGrad = false) {
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) checkShape("Tensor", shape);
    if (!(data instanceof Storage || data instanceof Float64Array || data instanceof Float32Array)) {
      throw new Error(
        `Tensor: data must be a Float64Array, a Float32Array or a Storage, got ${describe(data)}; tensor() takes nested arrays`,
      );
    }
    if (data.length !== sizeOf(shape)) {
      throw new Error(
        `Tensor: ${data.length} values do not fill shape ${shapeString(shape)} (${sizeOf(shape)} elements)`,
      );
    }
    this.storage = data instanceof Storage ? data : new Storage(data, dtypeOf(data));
    this.shape = Object.freeze([...shape]);
    this.dtype = this.storage.dtype;
    this.requiresGrad = requiresGrad;
  }

  /**
   * Contiguous row-major values on the host. A tensor whose values are on a device has none here
   * until they are brought back by name — toHost() (a transfer) or await read() — so that no
   * read-back hides in a property access.
   */
  get data(): TypedArray {
    if (this.storage.onDevice)
      throw new Error(
        "Tensor: its values are on the device; bring them to the host by name first: t.toHost() (a transfer, the device copy freed) or await t.read()",
      );
    return this.storage.host;
  }

  /**
   * Bring the values to the host: a device array is read back once and freed (the host copy is the
   * truth from then on, since callers may write to it). Nothing happens for a host tensor. Returns
   * this tensor, so `t.toHost().data` reads it.
   */
  toHost(): this {
    void this.storage.host;
    return this;
  }

  /** The values, read back from the device if need be: the only way to read a webgpu tensor. */
  read(): Promise<TypedArray> {
    return this.storage.read();
  }

  get size(): number {
    return this.storage.length;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** A leaf is a tensor no recorded op produced: its `grad` is kept after backward. */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** The only element of a one-element tensor, as a number. */
  item(): number {
    if (this.size !== 1)
      throw new Error(`item: tensor of shape ${shapeString(this.shape)} has ${this.size} elements, not 1`);
    return this.toHost().data[0]!;
  }

  /** Values as nested arrays (a number for a scalar). */
  toArray(): NestedArray {
    this.toHost();
    const build = (axis: number, offset: number): NestedArray => {
      if (axis === this.rank) return this.data[offset]!;
      const n = this.shape[axis]!,
        stride = sizeOf(this.shape.slice(axis + 1));
      return Array.from({ length: n }, (_, i) => build(axis + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${JSON.stringify(this.toArray())}, shape=${shapeString(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ", requiresGrad" : ""})`;
  }

  /** Accumulate d(this)/d(leaf) into every leaf's `grad`. `grad` defaults to 1 for a scalar. */
  backward(grad?: Tensor, options?: BackwardOptions): void {
    runBackward(this, grad, options);
  }

  /** The same values, cut off from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape);
  }

  /** Mark a leaf as a parameter to differentiate with respect to; returns this. */
  requireGrad(on = true): this {
    if (!this.isLeaf)
      throw new Error("requireGrad: only a leaf tensor (not an op's output) can be marked; use detach() first");
    this.requiresGrad = on;
    return this;
  }

  /** Drop the gradient; on a device its memory is freed now (the garbage collector would be late). */
  zeroGrad(): void {
    this.grad?.storage.free("zeroGrad() dropped the gradient it held");
    this.grad = null;
  }

  // Every op is also a method; the definitions (forward and backward) live in ./ops.
  add(other: TensorLike): Tensor {
    return ew.add(this, other);
  }
  sub(other: TensorLike): Tensor {
    return ew.sub(this, other);
  }
  mul(other: TensorLike): Tensor {
    return ew.mul(this, other);
  }
  div(other: TensorLike): Tensor {
    return ew.div(this, other);
  }
  pow(exponent: TensorLike): Tensor {
    return ew.pow(this, exponent);
  }
  maximum(other: TensorLike): Tensor {
    return ew.maximum(this, other);
  }
  minimum(other: TensorLike): Tensor {
    return ew.minimum(this, other);
  }
  eq(other: TensorLike): Tensor {
    return ew.eq(this, other);
  }
  ne(other: TensorLike): Tensor {
    return ew.ne(this, other);
  }
  gt(other: TensorLike): Tensor {
    return ew.gt(this, other);
  }
  ge(other: TensorLike): Tensor {
    return ew.ge(this, other);
  }
  lt(other: TensorLike): Tensor {
    return ew.lt(this, other);
  }
  le(other: TensorLike): Tensor {
    return ew.le(this, other);
  }
  neg(): Tensor {
    return ew.neg(this);
  }
  exp(): Tensor {
    return ew.exp(this);
  }
  log(): Tensor {
    return ew.log(this);
  }
  log1p(): Tensor {
    return ew.log1p(this);
  }
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  square(): Tensor {
    return ew.square(this);
  }
  reciprocal(): Tensor {
    return ew.reciprocal(this);
  }
  abs(): Tensor {
    return ew.abs(this);
  }
  sign(): Tensor {
    return ew.sign(this);
  }
  tanh(): Tensor {
    return ew.tanh(this);
  }
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  softplus(): Tensor {
    return ew.softplus(this);
  }
  relu(): Tensor {
    return ew.relu(this);
  }
  sin(): Tensor {
    return ew.sin(this);
  }
  cos(): Tensor {
    return ew.cos(this);
  }
  astype(dtype: DType): Tensor {
    return ew.astype(this, dtype);
  }
  sum(axis?: Axis, keepdims = false): Tensor {
    return rd.sum(this, axis, keepdims);
  }
  mean(axis?: Axis, keepdims = false): Tensor {
    return rd.mean(this, axis, keepdims);
  }
  max(axis?: Axis, keepdims = false): Tensor {
    return rd.max(this, axis, keepdims);
  }
  min(axis?: Axis, keepdims = false): Tensor {
    return rd.min(this, axis, keepdims);
  }
  logsumexp(axis?: Axis, keepdims = false): Tensor {
    return rd.logsumexp(this, axis, keepdims);
  }
  matmul(other: Tensor): Tensor {
    return la.matmul(this, other);
  }
  reshape(shape: readonly number[]): Tensor {
    return mv.reshape(this, shape);
  }
  permute(axes: readonly number[]): Tensor {
    return mv.permute(this, axes);
  }
  transpose(axis0 = -2, axis1 = -1): Tensor {
    return mv.transpose(this, axis0, axis1);
  }
  broadcastTo(shape: readonly number[]): Tensor {
    return mv.broadcastTo(this, shape);
  }
  unsqueeze(axis: number): Tensor {
    return mv.unsqueeze(this, axis);
  }
  squeeze(axis?: number): Tensor {
    return mv.squeeze(this, axis);
  }
  slice(starts: readonly number[], ends?: readonly number[]): Tensor {
    return mv.slice(this, starts, ends);
  }
  indexSelect(axis: number, indices: ArrayLike<number>): Tensor {
    return mv.indexSelect(this, axis, indices);
  }
}

/** value as a Tensor, or an error naming the op and the argument. */
export function expectTensor(op: string, value: unknown, name = "the input"): Tensor {
  if (!(value instanceof Tensor)) throw new Error(`${op}: ${name} must be a Tensor, got ${describe(value)}`);
  return value;
}

/**
 * Wrap an op's freshly computed output. If grad mode is on and an input requires grad, the output
 * remembers the op so backward can reach the inputs; rule === null marks a non-differentiable op.
 * The rule gets dL/d(out) and the output itself.
 */
export function fromOp(
  op: string,
  data: TypedArray | Storage,
  shape: readonly number[],
  inputs: Tensor[],
  rule: ((grad: Tensor, out: Tensor) => Array<Tensor | null>) | null,
): Tensor {
  const out = new Tensor(data, shape);
  if (isAnomalyDetectionEnabled()) checkFinite(op, "forward", out.toHost().data);
  if (rule !== null && isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, parents: inputs, outputs: [out], backward: (grads) => rule(grads[0]!, out) };
  }
  return out;
}

/** Wrap the outputs of an op that makes several; its one rule gets the gradients of all of them. */
export function fromOpMulti(
  op: string,
  results: Array<[TypedArray | Storage, readonly number[]]>,
  inputs: Tensor[],
  rule: BackwardRule,
): Tensor[] {
  const outs = results.map(([data, shape]) => {
    const out = new Tensor(data, shape);
    if (isAnomalyDetectionEnabled()) checkFinite(op, "forward", out.toHost().data);
    return out;
  });
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    const node: Node = { op, parents: inputs, outputs: outs, backward: rule };
    for (const o of outs) {
      o.requiresGrad = true;
      o.node = node;
    }
  }
  return outs;
}
