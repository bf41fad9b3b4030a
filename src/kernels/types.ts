import type { KernelSpec } from "./gpu/specs.js";

/** Element types flowgrad computes in. float64 is the default on the CPU; gpu.js computes in float32. */
export type DType = "float32" | "float64";
export type TypedArray = Float32Array | Float64Array;
export type Shape = readonly number[];

/** Elementwise math of one input. The expression of each lives in `elementwise.ts`. */
export type UnaryOp =
  | "neg"
  | "exp"
  | "log"
  | "log1p"
  | "sqrt"
  | "abs"
  | "sign"
  | "tanh"
  | "sigmoid"
  | "softplus"
  | "relu"
  | "step"
  | "square"
  | "reciprocal"
  | "sin"
  | "cos";

/** Elementwise math of two broadcast inputs. */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "eq"
  | "ne"
  | "gt"
  | "ge"
  | "lt"
  | "le";

export type ReduceOp = "sum" | "max" | "min";

/**
 * An optimizer's update of one parameter for one step, with that step's hyperparameters (the math
 * is in kernels/cpu/optim.ts). `state` holds the rule's running buffers, in this order:
 * sgd [b] (momentum), adam [m, v] (moments; `t` is the step count, from 1), rmsprop [s, b].
 */
export type UpdateRule =
  | { kind: "sgd"; lr: number; momentum: number }
  | { kind: "adam"; lr: number; beta1: number; beta2: number; eps: number; t: number }
  | { kind: "rmsprop"; lr: number; alpha: number; eps: number; momentum: number };

/**
 * Values that live on a device (a gpu.js texture in GL modes, a buffer in webgpu mode) and come to
 * the host only when read.
 * Always float32. The backend that made one counts it until it is released.
 */
export interface DeviceArray {
  readonly length: number;
  readonly released: boolean;
  /** Copy the values to the host; an error where the device reads only asynchronously (webgpu). */
  read(): Float32Array;
  /** Copy the values to the host, on every device. */
  readAsync(): Promise<Float32Array>;
  /** Free the device memory; reading afterwards is an error. Releasing twice is harmless. */
  release(): void;
}

/** A kernel input: host memory, or a device array of the backend that runs the kernel. */
export type KernelInput = TypedArray | DeviceArray;

/**
 * Kernels that leave their output on the device, so a chain of ops never leaves it until a value
 * is asked for. Only backends with device memory have them (Backend.resident). Each returns null
 * when the op should not run there (too small to be worth it, or too large for the device): the
 * caller then uses the host kernels, reading device inputs back.
 */
export interface ResidentKernels {
  unary(op: UnaryOp, x: KernelInput, n: number): DeviceArray | null;
  binary(
    op: BinaryOp,
    a: KernelInput,
    aShape: Shape,
    b: KernelInput,
    bShape: Shape,
    outShape: Shape,
  ): DeviceArray | null;
  /** x viewed as [outer, size, inner] reduced over the middle axis. */
  reduce(op: ReduceOp, x: KernelInput, outer: number, size: number, inner: number): DeviceArray | null;
  /** The batched product of Backend.matmul, [batch, m, n] out. */
  matmul(
    a: KernelInput,
    aOffsets: Int32Array,
    b: KernelInput,
    bOffsets: Int32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): DeviceArray | null;
  /** Device arrays made and not yet released (a test checks this stays flat over training). */
  liveArrays(): number;
  /**
   * An optimizer step (Backend.update) on the device: [x′, ...state′], the inputs left as they were.
   * The state comes back one array per buffer, or packed as one array — the parameter's n values,
   * then each buffer's — which the caller passes back as it came (the gpu.js backend packs, so a
   * step is one kernel; x′ is then a handle on its first n values).
   */
  update?(rule: UpdateRule, x: KernelInput, g: KernelInput, state: KernelInput[]): DeviceArray[] | null;

  // Optional: a backend may keep these on the device too (the gpu.js backend does). Without them the
  // host kernels run, reading device inputs back.
  /** out[i] = cond[i] !== 0 ? a[i] : b[i], all of length n. */
  where?(cond: KernelInput, a: KernelInput, b: KernelInput, n: number): DeviceArray | null;
  /** The strided view (offset, shape, strides) of src, made contiguous (Backend.stridedCopy). */
  stridedCopy?(src: KernelInput, offset: number, shape: Shape, strides: Shape): DeviceArray | null;
  /** x viewed as [outer, size, inner]: out[o, j, i] = x[o, indices[j], i] (Backend.gather). */
  gather?(x: KernelInput, outer: number, size: number, inner: number, indices: Int32Array): DeviceArray | null;
  /** Its adjoint, into zeros of [outer, size, inner]: out[o, indices[j], i] += g[o, j, i]. */
  scatterAdd?(g: KernelInput, outer: number, size: number, inner: number, indices: Int32Array): DeviceArray | null;
  /** Zeros of outShape with src (of shape `shape`) placed at `starts`: the backward of a slice. */
  pad?(src: KernelInput, shape: Shape, starts: Shape, outShape: Shape): DeviceArray | null;
  /** log|det| of n square d×d matrices (Backend.logAbsDet), LU with partial pivoting on the device. */
  logAbsDet?(a: KernelInput, n: number, d: number): DeviceArray | null;
}

/**
 * What a custom kernel's gpu.js program launches with: `packed` runs one kernel whose outputs are
 * written one after another (sizes) and hands back each, as device arrays or, in gpu.js modes
 * without device memory, as host arrays. The backend owns caching, launch counts and transfers.
 */
export interface Launcher<B> {
  packed(spec: KernelSpec, sizes: readonly number[], inputs: ReadonlyArray<KernelInput>): B[];
}

/**
 * A kernel registered from outside src/kernels (the fused flow layers, beside their flows): its
 * math once per backend — a CPU loop and a gpu.js program — with named arguments `A`.
 */
export interface CustomKernel<A> {
  /** For messages and launch counts. */
  readonly name: string;
  /** The sizes of its outputs. */
  outputs(args: A): number[];
  /** Elements of work, by which "auto" decides where it runs. */
  work(args: A): number;
  /** The CPU loop: fills the (zeroed) outputs from host inputs; null is an absent optional input. */
  cpu(inputs: ReadonlyArray<TypedArray | null>, args: A, outputs: TypedArray[]): void;
  /** The gpu.js program (absent: the CPU loop runs on every backend); it stands in zeros for null inputs. */
  gpu?<B>(launch: Launcher<B>, inputs: ReadonlyArray<KernelInput | null>, args: A): B[];
}

/** State buffers each update rule keeps beside the parameter (kernels/cpu/optim.ts). */
export const STATE_BUFFERS: Record<UpdateRule["kind"], number> = { sgd: 1, adam: 2, rmsprop: 2 };

export function isDeviceArray(x: KernelInput): x is DeviceArray {
  return !ArrayBuffer.isView(x);
}

/**
 * Kernels on host arrays, writing into outputs the caller made (contiguous, row-major typed
 * arrays): the CPU backend's loops (kernels/cpu/), or gpu.js run on host arrays. A backend's
 * one-call ops (Backend) run these when the work stays on the host.
 */
export interface HostKernels {
  /** out[i] = op(x[i]) */
  unary(op: UnaryOp, x: TypedArray, out: TypedArray): void;
  /** out = op(a, b) with NumPy broadcasting of aShape and bShape to outShape. */
  binary(
    op: BinaryOp,
    a: TypedArray,
    aShape: Shape,
    b: TypedArray,
    bShape: Shape,
    out: TypedArray,
    outShape: Shape,
  ): void;
  /** Reduce the middle axis of x viewed as [outer, size, inner] into out of [outer, inner]. */
  reduce(op: ReduceOp, x: TypedArray, outer: number, size: number, inner: number, out: TypedArray): void;
  /**
   * Batched matrix product: for each batch index t, out[t] = op(A[t]) · op(B[t]) where op transposes
   * when asked. A[t] starts at aOffsets[t] and is m×k (k×m if transA); B[t] at bOffsets[t], k×n (n×k if transB).
   */
  matmul(
    a: TypedArray,
    aOffsets: Int32Array,
    b: TypedArray,
    bOffsets: Int32Array,
    out: TypedArray,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): void;
  /** Copy the strided view (offset, shape, strides) of src into contiguous out. */
  stridedCopy(src: TypedArray, offset: number, shape: Shape, strides: Shape, out: TypedArray): void;
  /** Write (or add, if accumulate) contiguous src into the strided view (offset, shape, strides) of dst. */
  stridedScatter(
    src: TypedArray,
    dst: TypedArray,
    offset: number,
    shape: Shape,
    strides: Shape,
    accumulate: boolean,
  ): void;
  /** x viewed as [outer, size, inner]: out[o, j, i] = x[o, indices[j], i]. */
  gather(x: TypedArray, outer: number, size: number, inner: number, indices: Int32Array, out: TypedArray): void;
  /** The adjoint of gather: out[o, indices[j], i] += g[o, j, i]. */
  scatterAdd(g: TypedArray, outer: number, size: number, inner: number, indices: Int32Array, out: TypedArray): void;
  /** out[i] = cond[i] !== 0 ? a[i] : b[i], all of one length. */
  where(cond: TypedArray, a: TypedArray, b: TypedArray, out: TypedArray): void;
  /** An optimizer step in place: x and its state buffers updated from the gradient g (UpdateRule). */
  update(rule: UpdateRule, x: TypedArray, g: TypedArray, state: TypedArray[]): void;

  /** log|det| of n square d×d matrices, one after another in `a` (LU with partial pivoting, kernels/cpu/linalg.ts); −Infinity where singular. */
  logAbsDet(a: TypedArray, n: number, d: number, out: TypedArray): void;
}

/**
 * What the autograd calls: one call per op. Inputs are host arrays or device arrays; each result is
 * left where the backend ran the op (a device array stays on the device until someone reads it, by
 * name: DeviceArray.read). The backend decides where each op runs; the autograd never does.
 */
export interface Backend {
  readonly name: string;
  /** The backend's kernels on host arrays (out-parameters). */
  readonly host: HostKernels;
  /** Kernels whose outputs stay on a device, where the backend has one (gpu.js GL and webgpu modes). */
  readonly resident?: ResidentKernels;
  /** Whether op results can stay on a device (the backend has resident kernels). */
  readonly keepsOnDevice: boolean;
  unary(op: UnaryOp, x: KernelInput, n: number, dtype: DType): KernelInput;
  binary(
    op: BinaryOp,
    a: KernelInput,
    aShape: Shape,
    b: KernelInput,
    bShape: Shape,
    outShape: Shape,
    dtype: DType,
  ): KernelInput;
  /** x viewed as [outer, size, inner] reduced over the middle axis: [outer, inner]. */
  reduce(op: ReduceOp, x: KernelInput, outer: number, size: number, inner: number, dtype: DType): KernelInput;
  /** The batched product of HostKernels.matmul: [batch, m, n]. */
  matmul(
    a: KernelInput,
    aOffsets: Int32Array,
    b: KernelInput,
    bOffsets: Int32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
    dtype: DType,
  ): KernelInput;
  /** cond !== 0 ? a : b, all of length n. */
  where(cond: KernelInput, a: KernelInput, b: KernelInput, n: number, dtype: DType): KernelInput;
  /** The strided view (offset, shape, strides) of src, made contiguous. */
  stridedCopy(src: KernelInput, offset: number, shape: Shape, strides: Shape, dtype: DType): KernelInput;
  /** Pieces of one rank placed in zeros of outShape, piece k at starts[k]: concat, a slice's gradient. */
  place(
    pieces: ReadonlyArray<{ x: KernelInput; shape: Shape; starts: Shape }>,
    outShape: Shape,
    dtype: DType,
  ): KernelInput;
  /** x viewed as [outer, size, inner]: out[o, j, i] = x[o, indices[j], i]. */
  gather(x: KernelInput, outer: number, size: number, inner: number, indices: Int32Array, dtype: DType): KernelInput;
  /** Its adjoint, into zeros of [outer, size, inner]: out[o, indices[j], i] += g[o, j, i]. */
  scatterAdd(
    g: KernelInput,
    outer: number,
    size: number,
    inner: number,
    indices: Int32Array,
    dtype: DType,
  ): KernelInput;
  /** Σ of terms of length n. */
  addN(terms: readonly KernelInput[], n: number, dtype: DType): KernelInput;
  /**
   * An optimizer step (UpdateRule): [x′, ...state′]. On the host it runs in place on host arrays (so
   * x′ is x); on a device the inputs stay as they were and the state may come back packed as one
   * array, the parameter's n values then each buffer's, to be passed back as it came.
   */
  update(rule: UpdateRule, x: KernelInput, g: KernelInput, state: readonly KernelInput[], dtype: DType): KernelInput[];
  /** log|det| of n square d×d matrices one after another in `a` (LU with partial pivoting); −Infinity where singular. */
  logAbsDet(a: KernelInput, n: number, d: number, dtype: DType): KernelInput;
  /**
   * Run a kernel defined outside this layer (a flow layer's, in src/flows): its CPU loop, or its
   * gpu.js program where the backend has a device and the work is worth it. Inputs are host or
   * device arrays (null: an absent optional input, such as a missing output gradient); the outputs
   * are this backend's arrays, of `dtype` on the host.
   */
  run<A>(kernel: CustomKernel<A>, inputs: ReadonlyArray<KernelInput | null>, args: A, dtype: DType): KernelInput[];
}
