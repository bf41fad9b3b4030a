// The CPU backend's optimizer updates: Adam and RMSprop on the WebAssembly SIMD kernels
// (assembly/optim.ts) from UPDATE_FROM parameters, the TypeScript loops of ../cpu/optim.ts (the
// readable reference) for SGD, small tensors, or when the kernels are off. Bit-identical either way.
//
// The arrays are copied through the kernels' memory a chunk at a time, so each chunk is still in
// cache when the kernel reads it and when it is copied back: the extra copies cost little beside
// the square root and division per parameter that the SIMD lanes halve.

import { adamCorrections, update as typescriptUpdate } from "../cpu/optim.js";
import type { TypedArray, UpdateRule } from "../types.js";
import { ensureBytes, RESERVED_BYTES, type WasmKernels } from "./load.js";

/**
 * From this many parameters per tensor an update goes to the kernels: `npm run bench:optim`
 * (results/optim-bench.json, its `crossover`) on the 2-core development machine; below it the call
 * and the copies cost more than the loop. test/wasm-optim.test.ts holds it to that file.
 */
export const UPDATE_FROM = 256;
/** Values per array per chunk: 4 arrays × 4,096 × 8 bytes = 128 KiB of float64, meant for L2. */
const CHUNK = 4096;

/** Updates each path ran so far (for cpuKernelInfo). */
export const updateCalls = { wasm: 0, typescript: 0 };

/** The HostKernels update, on `kernels` where they apply (null: the TypeScript loops always). */
export function update(
  kernels: WasmKernels | null,
  rule: UpdateRule,
  x: TypedArray,
  g: TypedArray,
  state: TypedArray[],
): void {
  if (!kernels || rule.kind === "sgd" || x.length < UPDATE_FROM || !updateWasm(kernels, rule, x, g, state)) {
    updateCalls.typescript++;
    typescriptUpdate(rule, x, g, state);
    return;
  }
  updateCalls.wasm++;
}

/** The update on the kernels whatever its size; false if it cannot run there (mixed dtypes). Benchmarks call this. */
export function updateWasm(
  kernels: WasmKernels,
  rule: Exclude<UpdateRule, { kind: "sgd" }>,
  x: TypedArray,
  g: TypedArray,
  state: TypedArray[],
): boolean {
  const View = x.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedArray;
  const [s0, s1] = state as [TypedArray, TypedArray];
  if ([g, s0, s1].some((a) => a.constructor !== View || a.length !== x.length)) return false;
  const size = x.BYTES_PER_ELEMENT;
  const buffer = ensureBytes(kernels, RESERVED_BYTES + 4 * CHUNK * size);
  if (!buffer) return false;
  const exports = kernels.exports;
  const f64 = size === 8;
  const views = [0, 1, 2, 3].map((j) => new View(buffer, RESERVED_BYTES + j * CHUNK * size, CHUNK));
  const [px, pg, p0, p1] = views.map((v) => v.byteOffset) as [number, number, number, number];
  const arrays = [x, g, s0, s1];
  let run: (count: number) => void;
  if (rule.kind === "adam") {
    const { beta1, beta2, eps } = rule;
    const { stepSize, c2 } = adamCorrections(rule); // the loop's own, so the same bits
    const constants = [beta1, 1 - beta1, beta2, 1 - beta2, stepSize, c2, eps];
    const kernel = f64 ? exports.adamF64 : exports.adamF32;
    run = (count) => kernel(px, pg, p0, p1, count, ...constants);
  } else {
    const { lr, alpha, eps, momentum } = rule;
    const constants = [alpha, 1 - alpha, momentum, lr, eps];
    const kernel = f64 ? exports.rmspropF64 : exports.rmspropF32;
    run = (count) => kernel(px, pg, p0, p1, count, ...constants);
  }
  for (let start = 0; start < x.length; start += CHUNK) {
    const end = Math.min(x.length, start + CHUNK),
      count = end - start;
    for (let j = 0; j < 4; j++) views[j]!.set(arrays[j]!.subarray(start, end));
    run(count);
    // g is only read; x and the two state arrays come back.
    for (const j of [0, 2, 3]) arrays[j]!.set(count === CHUNK ? views[j]! : views[j]!.subarray(0, count), start);
  }
  return true;
}
