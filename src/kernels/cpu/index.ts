import {
  type Backend,
  type CustomKernel,
  type DType,
  isDeviceArray,
  type KernelInput,
  type TypedArray,
} from "../types.js";
import { binary, unary, where } from "./elementwise.js";
import { logAbsDet } from "./linalg.js";
import { matmul } from "./matmul.js";
import { gather, scatterAdd, stridedCopy, stridedScatter } from "./movement.js";
import { update } from "./optim.js";
import { reduce } from "./reduce.js";

/** A host array of `dtype` holding x's values: a device array is read back (a copy, not freed). */
export function onHost(x: KernelInput, dtype: DType): TypedArray {
  if (!isDeviceArray(x)) return x;
  const values = x.read();
  return dtype === "float32" ? values : Float64Array.from(values);
}

/** A custom kernel's CPU loop on fresh host outputs of `dtype`. */
export function runOnHost<A>(
  kernel: CustomKernel<A>,
  inputs: ReadonlyArray<KernelInput | null>,
  args: A,
  dtype: DType,
): TypedArray[] {
  const host = inputs.map((x) => (x === null ? null : onHost(x, dtype)));
  const outputs = kernel.outputs(args).map((n) => (dtype === "float64" ? new Float64Array(n) : new Float32Array(n)));
  kernel.cpu(host, args, outputs);
  return outputs;
}

/** Plain TypeScript loops over typed arrays, float64 and float32. Always available. */
export const cpuBackend: Backend = {
  name: "cpu",
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
  run: runOnHost,
};
