import {
  type AutoThresholds,
  autoBackend,
  autoThresholds,
  DEFAULT_GPU_THRESHOLDS,
  defaultThresholdSource,
  PROVISIONAL_THRESHOLD_MODES,
  parseAutoThreshold,
} from "./auto.js";
import { savedThresholds } from "./calibration-store.js";
import { cpuBackend } from "./cpu/index.js";
import type { GpuBackend } from "./gpu/backend.js";
import type { GpuMode } from "./gpu/load.js";
import { env } from "./runtime.js";
import type { Backend } from "./types.js";
import { type CpuKernelInfo, cpuKernelInfo } from "./wasm/matmul.js";

/**
 * Which backend runs the kernels. The CPU backend is always registered; the gpu.js backend is
 * loaded on request by initBackend() (a dynamic import, so gpu.js is never loaded otherwise).
 * FLOWGRAD_BACKEND (cpu | gpu | auto) and FLOWGRAD_GPU_MODE (webgpu | headlessgl | webasm | cpu |
 * auto) are the defaults initBackend() reads; FLOWGRAD_AUTO_THRESHOLD sets "auto"'s thresholds
 * (what `flowgrad calibrate` prints), over what `flowgrad calibrate --save` saved for this machine.
 */
const backends = new Map<string, Backend>([["cpu", cpuBackend]]);
let active: Backend | null = null;
let gpuBackend: GpuBackend | null = null;
let thresholds: AutoThresholds | null = null;
let thresholdSource: string | null = null;

export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

export function availableBackends(): string[] {
  return [...backends.keys()];
}

/** Make a registered backend (by name) or a backend object the one every op runs on. */
export function setBackend(backend: string | Backend): Backend {
  if (typeof backend !== "string") {
    registerBackend(backend);
    active = backend;
    return backend;
  }
  const found = backends.get(backend);
  if (!found) {
    const hint =
      backend === "gpu" || backend === "auto" ? ` (load it first with "await initBackend("${backend}")")` : "";
    throw new Error(
      `setBackend: unknown backend "${backend}"${hint}; registered backends: ${availableBackends().join(", ")}`,
    );
  }
  active = found;
  return found;
}

/**
 * Load and select a backend: "cpu", "gpu" (gpu.js, in `gpuMode`), or "auto" (gpu.js for large
 * arrays, the CPU for small ones, from `threshold`: elements, or { elements, multiplyAdds } as
 * `flowgrad calibrate` measures them). Defaults come from FLOWGRAD_BACKEND, FLOWGRAD_GPU_MODE and
 * FLOWGRAD_AUTO_THRESHOLD, else what `flowgrad calibrate --save` saved for this machine and mode
 * (calibration-store.ts), else the mode's default threshold (DEFAULT_GPU_THRESHOLDS; a provisional
 * one is announced).
 * A forced gpu.js mode that cannot run is an error; modes passed over in "auto" print one notice.
 */
export async function initBackend(
  name = env("FLOWGRAD_BACKEND") ?? "cpu",
  options: { gpuMode?: GpuMode | "auto"; quiet?: boolean; threshold?: number | AutoThresholds } = {},
): Promise<Backend> {
  if (name === "cpu") return setBackend("cpu");
  if (name !== "gpu" && name !== "auto")
    throw new Error(`initBackend: unknown backend "${name}"; choose cpu, gpu or auto`);
  const fromEnv = env("FLOWGRAD_AUTO_THRESHOLD");
  // Checked before loading gpu.js, so a typo is the first thing said.
  const requested =
    options.threshold !== undefined ? autoThresholds(options.threshold) : fromEnv ? parseAutoThreshold(fromEnv) : null;
  const gpuMode = options.gpuMode ?? (env("FLOWGRAD_GPU_MODE") as GpuMode | "auto" | undefined) ?? "auto";
  if (!gpuBackend || (gpuMode !== "auto" && gpuBackend.info.gpuMode !== gpuMode)) {
    gpuBackend?.dispose();
    const { createGpuBackend } = await import("./gpu/backend.js");
    gpuBackend = await createGpuBackend(gpuMode);
    if (!options.quiet) {
      for (const notice of gpuBackend.info.notices) console.warn(`flowgrad: ${notice}`);
      if (gpuBackend.info.notices.length)
        console.warn(
          `flowgrad: GPU backend runs gpu.js in ${gpuBackend.info.gpuMode} mode (${gpuBackend.info.kernelClass})`,
        );
    }
    registerBackend(gpuBackend);
  }
  const mode = gpuBackend.info.gpuMode;
  const saved = requested ? null : await savedThresholds(gpuBackend.info);
  thresholds = requested ?? saved?.thresholds ?? autoThresholds(DEFAULT_GPU_THRESHOLDS[mode]);
  thresholdSource =
    options.threshold !== undefined
      ? "initBackend's threshold option"
      : requested
        ? "FLOWGRAD_AUTO_THRESHOLD"
        : (saved?.source ?? defaultThresholdSource(mode));
  if (name === "auto" && !requested && !saved && PROVISIONAL_THRESHOLD_MODES.has(mode) && !options.quiet) {
    console.warn(
      `flowgrad: "auto" sends work to gpu.js ${mode} from ${thresholds.elements} elements, a provisional default; "flowgrad --gpu-mode ${mode} calibrate --save" measures this machine's thresholds`,
    );
  }
  registerBackend(autoBackend(cpuBackend, gpuBackend, thresholds));
  return setBackend(name);
}

/**
 * What runs the ops now: the backend's name and, for gpu.js, the mode and kernel class that ran
 * (and the WebGPU adapter); for "auto", its thresholds and where they came from; and which kernels
 * the CPU side's products run on (WebAssembly SIMD or TypeScript, threads, how many went each way).
 */
export function backendInfo(): {
  backend: string;
  gpuMode: GpuMode | null;
  kernelClass: string | null;
  adapter: string | null;
  notices: string[];
  autoThresholds: AutoThresholds | null;
  autoThresholdSource: string | null;
  cpu: CpuKernelInfo;
} {
  const b = getBackend();
  const gpu = b.name === "gpu" || b.name === "auto" ? gpuBackend : null;
  return {
    backend: b.name,
    gpuMode: gpu?.info.gpuMode ?? null,
    kernelClass: gpu?.info.kernelClass ?? null,
    adapter: gpu?.info.adapter ?? null,
    notices: gpu?.info.notices ?? [],
    autoThresholds: b.name === "auto" ? thresholds : null,
    autoThresholdSource: b.name === "auto" ? thresholdSource : null,
    cpu: cpuKernelInfo(),
  };
}

/** The loaded gpu.js backend, if any (for its kernel count and dispose()). */
export function loadedGpuBackend(): GpuBackend | null {
  return gpuBackend;
}

/** The backend ops run on now; on first use the CPU, unless FLOWGRAD_BACKEND asks for one that needs initBackend(). */
export function getBackend(): Backend {
  if (active) return active;
  const requested = env("FLOWGRAD_BACKEND");
  if (requested && requested !== "cpu") {
    throw new Error(
      `FLOWGRAD_BACKEND=${requested}: call "await initBackend()" before the first op, so the gpu.js backend can load`,
    );
  }
  return setBackend("cpu");
}
