import { backendFrom, hostArray, onHost } from "../one-call.js";
import type { CustomKernel, DType, HostKernels, KernelInput, TypedArray } from "../types.js";
import { enabledKernels, matmul as wasmOrTypescriptMatmul } from "../wasm/matmul.js";
import { update as wasmOrTypescriptUpdate } from "../wasm/optim.js";
import { binary, unary, where } from "./elementwise.js";
import { logAbsDet } from "./linalg.js";
import { matmul } from "./matmul.js";
import { gather, scatterAdd, stridedCopy, stridedScatter } from "./movement.js";
import { update } from "./optim.js";
import { reduce } from "./reduce.js";

/** A custom kernel's CPU loop on fresh host outputs of `dtype`. */
export function runOnHost<A>(
  kernel: CustomKernel<A>,
  inputs: ReadonlyArray<KernelInput | null>,
  args: A,
  dtype: DType,
): TypedArray[] {
  const host = inputs.map((x) => (x === null ? null : onHost(x, dtype)));
  const outputs = kernel.outputs(args).map((n) => hostArray(dtype, n));
  kernel.cpu(host, args, outputs);
  return outputs;
}

/** Plain TypeScript loops over typed arrays, float64 and float32: the readable reference. */
export const typescriptKernels: HostKernels = {
  unary,
  binary,
  reduce,
  matmul,
  stridedCopy,
  stridedScatter,
  gather,
  scatterAdd,
  where,
  update,
  logAbsDet,
};

/**
 * The CPU backend's kernels: the TypeScript loops, except products and Adam/RMSprop updates large
 * enough for the WebAssembly SIMD kernels (../wasm; FLOWGRAD_CPU_KERNELS=plain or setCpuKernels
 * turns them off).
 */
export const cpuKernels: HostKernels = {
  ...typescriptKernels,
  matmul: wasmOrTypescriptMatmul,
  update: (rule, x, g, state) => wasmOrTypescriptUpdate(enabledKernels(), rule, x, g, state),
};

/** The CPU backend: every op on host arrays, one call each. Always available. */
export const cpuBackend = backendFrom({ name: "cpu", host: cpuKernels, run: runOnHost });
