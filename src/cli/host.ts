// Commands on a backend that reads only asynchronously (gpu.js webgpu): training and evaluation
// await their reads (fit2DAsync, estimateKLAsync, trainVAEAsync, evaluateVAEAsync); figures and the
// reference integral ln Z read values synchronously, so they run on the CPU backend (the trained
// parameters are back on the host when training ends; ln Z is computed in float64 there).
import { backendInfo, getBackend, setBackend } from "../kernels/index.js";

/** Whether values come back only asynchronously (gpu.js webgpu): training then awaits each step. */
export const asyncReads = (): boolean => backendInfo().gpuMode === "webgpu";

let told = false;

/** Run fn on the CPU backend when the active one reads only asynchronously; say so once. */
export function onHost<T>(fn: () => T): T {
  if (!asyncReads()) return fn();
  if (!told) {
    told = true;
    console.error(
      "flowgrad: gpu.js webgpu reads only asynchronously: figures and ln Z (a float64 reference integral) run on the CPU backend",
    );
  }
  const active = getBackend();
  setBackend("cpu");
  try {
    return fn();
  } finally {
    setBackend(active);
  }
}
