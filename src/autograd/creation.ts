import type { DType } from "../kernels/index.js";
import { Random, defaultRandom } from "./random.js";
import { shapeString, sizeOf } from "./shape.js";
import { allocate, Tensor, type NestedArray, type TypedArray } from "./tensor.js";

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}
export interface RandomOptions extends TensorOptions {
  /** A generator (for reproducible streams) or a seed; default: the global generator. */
  random?: Random | number;
}

function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

function make(data: TypedArray, shape: readonly number[], options: TensorOptions): Tensor {
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

/**
 * A tensor from a number, nested arrays (which must be rectangular), or a typed array with an
 * optional shape. The dtype defaults to float64, or to the typed array's own type.
 */
export function tensor(data: NestedArray | TypedArray | ArrayLike<number>, options: TensorOptions & { shape?: readonly number[] } = {}): Tensor {
  if (data instanceof Float64Array || data instanceof Float32Array) {
    const dtype = options.dtype ?? (data instanceof Float32Array ? "float32" : "float64");
    const shape = options.shape ?? [data.length];
    checkShape("tensor", shape);
    if (sizeOf(shape) !== data.length) throw new Error(`tensor: ${data.length} values do not fill shape ${shapeString(shape)}`);
    const values = allocate(dtype, data.length);
    values.set(data);
    return make(values, shape, options);
  }
  const shape: number[] = [];
  const flat: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === "number") {
      if (depth !== shape.length && !(depth === 0 && shape.length === 0)) throw new Error(`tensor: ragged nested array (a number at depth ${depth}, expected depth ${shape.length})`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new Error(`tensor: expected numbers or arrays, got ${typeof v}`);
    const arr = v as ArrayLike<unknown>;
    if (depth === shape.length && flat.length === 0) shape.push(arr.length);
    else if (shape[depth] !== arr.length) throw new Error(`tensor: ragged nested array (length ${arr.length} at depth ${depth}, expected ${shape[depth]})`);
    for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1);
  };
  walk(data, 0);
  const finalShape = options.shape ?? shape;
  if (sizeOf(finalShape) !== flat.length) throw new Error(`tensor: ${flat.length} values do not fill shape ${shapeString(finalShape)}`);
  const values = allocate(options.dtype ?? "float64", flat.length);
  values.set(flat);
  return make(values, finalShape, options);
}

export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  checkShape("full", shape);
  return make(allocate(options.dtype ?? "float64", sizeOf(shape)).fill(value), shape, options);
}

export const zeros = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 0, options);
export const ones = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 1, options);
export const zerosLike = (t: Tensor): Tensor => zeros(t.shape, { dtype: t.dtype });
export const onesLike = (t: Tensor): Tensor => ones(t.shape, { dtype: t.dtype });

/** start, start + step, … up to but not including stop. */
export function arange(start: number, stop?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be a nonzero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocate(options.dtype ?? "float64", n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return make(data, [n], options);
}

/** n evenly spaced values from start to stop, both included. */
export function linspace(start: number, stop: number, n: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 1) throw new Error(`linspace: n must be a positive integer, got ${n}`);
  const data = allocate(options.dtype ?? "float64", n);
  for (let i = 0; i < n; i++) data[i] = n === 1 ? start : start + ((stop - start) * i) / (n - 1);
  return make(data, [n], options);
}

/** The n×n identity. */
export function eye(n: number, options: TensorOptions = {}): Tensor {
  const t = zeros([n, n], options);
  for (let i = 0; i < n; i++) t.data[i * n + i] = 1;
  return t;
}

function generator(random: Random | number | undefined): Random {
  return random === undefined ? defaultRandom : typeof random === "number" ? new Random(random) : random;
}

/** Standard normal samples. */
export function randn(shape: readonly number[], options: RandomOptions = {}): Tensor {
  checkShape("randn", shape);
  const rng = generator(options.random);
  const data = allocate(options.dtype ?? "float64", sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return make(data, shape, options);
}

/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  checkShape("rand", shape);
  const rng = generator(options.random);
  const data = allocate(options.dtype ?? "float64", sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform();
  return make(data, shape, options);
}
