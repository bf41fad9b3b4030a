// The baseline's LU log-det on the device as a sequence of launches (luStartSource, luStepSource):
// a first launch on the matrices, then one per column, each on the previous launch's array.
import type { KernelInput } from "../types.js";
import { type KernelSpec, luSpec } from "./specs.js";

/**
 * LU log-dets of n d×d matrices in a: D + 1 launches through `run`; `done` is given each
 * intermediate array once the next launch has it (to free it), and the last array (n log-dets) is
 * returned.
 */
export function luLaunches<S extends KernelInput>(
  a: KernelInput,
  n: number,
  d: number,
  run: (spec: KernelSpec, size: number, input: KernelInput, extra: Float32Array[]) => S,
  done: (state: S) => void,
): S {
  const size = n * d * d + 2 * n;
  let state = run(luSpec("start", n, d), size, a, []);
  for (let k = 0; k < d; k++) {
    const last = k === d - 1;
    const next = run(luSpec(last ? "last" : "step", n, d), last ? n : size, state, [Float32Array.of(k)]);
    done(state);
    state = next;
  }
  return state;
}
