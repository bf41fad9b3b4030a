// Commands on a backend that reads only asynchronously (gpu.js webgpu): training awaits each step
// (fit2DAsync, trainVAEAsync); evaluation, figures and model files read values synchronously, so
// they run on the CPU backend (the trained parameters live on the host anyway).
import { backendInfo, getBackend, setBackend } from "../kernels/index.js";

/** Whether values come back only asynchronously (gpu.js webgpu): training then awaits each step. */
export const asyncReads = (): boolean => backendInfo().gpuMode === "webgpu";

let told = false;

/** Run fn on the CPU backend when the active one reads only asynchronously; say so once. */
export function onHost<T>(fn: () => T): T {
  if (!asyncReads()) return fn();
  if (!told) {
    told = true;
    console.error("flowgrad: gpu.js webgpu reads only asynchronously: evaluation (ln Z, KL, −ln p(x), figures) runs on the CPU backend");
  }
  const active = getBackend();
  setBackend("cpu");
  try {
    return fn();
  } finally {
    setBackend(active);
  }
}
