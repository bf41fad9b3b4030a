import { keepStorage, runScope, type Storage } from "./storage.js";
import { Tensor } from "./tensor.js";

// On the GPU backend an op's output stays on the device (a texture) until its values are read, and
// device memory is not freed by JavaScript's garbage collector in time. tidy() gives it a lifetime.

/** The tensors in a scope's result: a tensor, or arrays and plain objects holding tensors. */
function storagesIn(value: unknown, found: Storage[] = [], seen = new Set<unknown>()): Storage[] {
  if (value instanceof Tensor) {
    found.push(value.storage);
  } else if (value !== null && typeof value === "object" && !seen.has(value) && !ArrayBuffer.isView(value)) {
    seen.add(value);
    for (const v of Array.isArray(value) ? value : Object.values(value)) storagesIn(v, found, seen);
  }
  return found;
}

/**
 * Run fn and free the device memory of every tensor made inside it, except the tensors it returns
 * (alone, or in arrays and plain objects) and those passed to keep(). One training step in a tidy()
 * keeps the GPU memory flat. On the CPU it costs nothing: host arrays are left to the garbage collector.
 */
export function tidy<T>(fn: () => T): T {
  return runScope(fn, (result) => storagesIn(result));
}

/** Keep a tensor made inside tidy() alive after the scope ends; returns it. */
export function keep<T extends Tensor>(t: T): T {
  keepStorage(t.storage);
  return t;
}
