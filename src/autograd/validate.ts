import type { DType } from "../kernels/index.js";

// One place for checking what callers pass to the public API: each check names the function and
// the argument and says what was expected, so a wrong type never surfaces as a TypeError (or a
// silent wrong answer) from deep inside.

/** How a value prints in an error message: strings quoted, arrays and objects as JSON, short. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (Array.isArray(value) && value.length <= 8 && value.every((v) => typeof v !== "object" || v === null))
    return `[${value.map(describe).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const name = value.constructor?.name;
    if (name && name !== "Object" && name !== "Array") return `a ${name}`;
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  }
  return String(value);
}

export const DTYPES: readonly DType[] = ["float32", "float64"];

/** A dtype option: undefined (the caller's default) or one of DTYPES. */
export function checkDType(op: string, dtype: unknown): DType | undefined {
  if (dtype === undefined) return undefined;
  if (!DTYPES.includes(dtype as DType))
    throw new Error(`${op}: dtype must be "float32" or "float64", got ${describe(dtype)}`);
  return dtype as DType;
}

/** A shape: a list of non-negative integers. */
export function checkShape(op: string, shape: unknown, name = "shape"): readonly number[] {
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: ${name} must be a list of non-negative integers, got ${describe(shape)}`);
  }
  return shape as number[];
}

/** A list of integers (axes, sizes, starts): an array, each entry an integer. */
export function checkIntegerList(op: string, list: unknown, name: string): readonly number[] {
  if (!Array.isArray(list) || list.some((d) => typeof d !== "number" || !Number.isInteger(d))) {
    throw new Error(`${op}: ${name} must be a list of integers, got ${describe(list)}`);
  }
  return list as number[];
}

/** An integer, at least `min`. */
export function checkInteger(op: string, value: unknown, name: string, min = -Infinity): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    const range = min === 0 ? "a non-negative integer" : min === 1 ? "a positive integer" : "an integer";
    throw new Error(`${op}: ${name} must be ${range}, got ${describe(value)}`);
  }
  return value;
}

/** A finite number. */
export function checkFiniteNumber(op: string, value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new Error(`${op}: ${name} must be a finite number, got ${describe(value)}`);
  return value;
}

/** A number (NaN and ±Infinity are values a tensor may hold). */
export function checkNumber(op: string, value: unknown, name: string): number {
  if (typeof value !== "number") throw new Error(`${op}: ${name} must be a number, got ${describe(value)}`);
  return value;
}

export function checkFunction<F>(op: string, value: F, name = "f"): F {
  if (typeof value !== "function") throw new Error(`${op}: ${name} must be a function, got ${describe(value)}`);
  return value;
}

/** A list (an array) of something, else an error naming what was expected. */
export function checkList(op: string, value: unknown, what: string): void {
  if (!Array.isArray(value)) throw new Error(`${op}: expected a list of ${what}, got ${describe(value)}`);
}
