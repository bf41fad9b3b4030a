import type { DType } from "../kernels/index.js";
import { defaultRandom, Random } from "./random.js";
import { shapeString, sizeOf } from "./shape.js";
import { allocate, type NestedArray, Tensor, type TypedArray } from "./tensor.js";
import {
  checkDType,
  checkFiniteNumber,
  checkInteger,
  checkNumber,
  checkShape as checkShapeArgument,
  describe,
} from "./validate.js";

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}
export interface RandomOptions extends TensorOptions {
  /** A generator (for reproducible streams) or a seed; default: the global generator. */
  random?: Random | number;
}

function checkShape(op: string, shape: readonly number[]): void {
  checkShapeArgument(op, shape);
}

/** The options every creation function takes, checked: an unknown dtype is an error, not float32. */
function checkOptions(op: string, options: TensorOptions): TensorOptions {
  if (typeof options !== "object" || options === null)
    throw new Error(`${op}: options must be an object, got ${describe(options)}`);
  checkDType(op, options.dtype);
  if (options.requiresGrad !== undefined && typeof options.requiresGrad !== "boolean")
    throw new Error(`${op}: requiresGrad must be true or false, got ${describe(options.requiresGrad)}`);
  return options;
}

/** A typed array of n elements, or an error that says n is too many (instead of a RangeError). */
function allocateChecked(op: string, dtype: TensorOptions["dtype"], n: number): TypedArray {
  if (n > 2 ** 31 - 1) throw new Error(`${op}: ${n} elements are more than a typed array can hold (2³¹ − 1)`);
  return allocate(dtype ?? "float64", n);
}

function make(data: TypedArray, shape: readonly number[], options: TensorOptions): Tensor {
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

/**
 * A tensor from a number, nested arrays (which must be rectangular), or a typed array with an
 * optional shape. The dtype defaults to float64, or to the typed array's own type.
 */
export function tensor(
  data: NestedArray | TypedArray | ArrayLike<number>,
  options: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  checkOptions("tensor", options);
  if (options.shape !== undefined) checkShape("tensor", options.shape);
  if (data instanceof Float64Array || data instanceof Float32Array) {
    const dtype = options.dtype ?? (data instanceof Float32Array ? "float32" : "float64");
    const shape = options.shape ?? [data.length];
    checkShape("tensor", shape);
    if (sizeOf(shape) !== data.length)
      throw new Error(`tensor: ${data.length} values do not fill shape ${shapeString(shape)}`);
    const values = allocate(dtype, data.length);
    values.set(data);
    return make(values, shape, options);
  }
  const shape: number[] = [];
  const flat: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (typeof v === "number") {
      if (depth !== shape.length && !(depth === 0 && shape.length === 0))
        throw new Error(`tensor: ragged nested array (a number at depth ${depth}, expected depth ${shape.length})`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) && !ArrayBuffer.isView(v))
      throw new Error(`tensor: expected numbers or arrays, got ${typeof v}`);
    const arr = v as ArrayLike<unknown>;
    if (depth === shape.length && flat.length === 0) shape.push(arr.length);
    else if (shape[depth] !== arr.length)
      throw new Error(`tensor: ragged nested array (length ${arr.length} at depth ${depth}, expected ${shape[depth]})`);
    for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1);
  };
  walk(data, 0);
  const finalShape = options.shape ?? shape;
  if (sizeOf(finalShape) !== flat.length)
    throw new Error(`tensor: ${flat.length} values do not fill shape ${shapeString(finalShape)}`);
  const values = allocate(options.dtype ?? "float64", flat.length);
  values.set(flat);
  return make(values, finalShape, options);
}

export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  checkShape("full", shape);
  checkNumber("full", value, "value");
  checkOptions("full", options);
  return make(allocate(options.dtype ?? "float64", sizeOf(shape)).fill(value), shape, options);
}

export const zeros = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 0, options);
export const ones = (shape: readonly number[], options: TensorOptions = {}): Tensor => full(shape, 1, options);
export const zerosLike = (t: Tensor): Tensor => zeros(t.shape, { dtype: t.dtype });
export const onesLike = (t: Tensor): Tensor => ones(t.shape, { dtype: t.dtype });

/** start, start + step, … up to but not including stop. */
export function arange(start: number, stop?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  checkFiniteNumber("arange", start, "start");
  checkFiniteNumber("arange", stop, "stop");
  if (typeof step !== "number" || step === 0 || !Number.isFinite(step))
    throw new Error(`arange: step must be a nonzero finite number, got ${describe(step)}`);
  checkOptions("arange", options);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocateChecked("arange", options.dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return make(data, [n], options);
}

/** n evenly spaced values from start to stop, both included. */
export function linspace(start: number, stop: number, n: number, options: TensorOptions = {}): Tensor {
  checkFiniteNumber("linspace", start, "start");
  checkFiniteNumber("linspace", stop, "stop");
  checkInteger("linspace", n, "n", 1);
  checkOptions("linspace", options);
  const data = allocate(options.dtype ?? "float64", n);
  for (let i = 0; i < n; i++) data[i] = n === 1 ? start : start + ((stop - start) * i) / (n - 1);
  return make(data, [n], options);
}

/** The n×n identity. */
export function eye(n: number, options: TensorOptions = {}): Tensor {
  checkInteger("eye", n, "n", 0);
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
  checkOptions("randn", options);
  const rng = generator(options.random);
  const data = allocate(options.dtype ?? "float64", sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return make(data, shape, options);
}

/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  checkShape("rand", shape);
  checkOptions("rand", options);
  const rng = generator(options.random);
  const data = allocate(options.dtype ?? "float64", sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform();
  return make(data, shape, options);
}
