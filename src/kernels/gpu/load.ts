// Loading gpu.js and choosing its mode. gpu.js left alone falls back silently (webgl → webasm →
// cpu) and never tries webgpu; flowgrad instead says which mode it asked for and which one ran.

export type GpuMode = "webgpu" | "webgl2" | "webgl" | "headlessgl" | "webasm" | "cpu";
export const GPU_MODES: readonly GpuMode[] = ["webgpu", "webgl2", "webgl", "headlessgl", "webasm", "cpu"];

/** What the loaded backend reports: the mode that actually runs and gpu.js's kernel class. */
export interface GpuInfo {
  requested: GpuMode | "auto";
  gpuMode: GpuMode;
  kernelClass: string;
  /** why preferred modes were passed over, one line each */
  notices: string[];
}

// gpu.js is typed loosely here on purpose: only the few members used below.
export interface GpuJs {
  GPU: (new (settings: { mode: string }) => GpuInstance) & {
    isHeadlessGLSupported: boolean;
    isWebGL2Supported: boolean;
    isWebGLSupported: boolean;
    isWebAssemblySupported: boolean;
  };
}
export interface GpuInstance {
  createKernel(source: string, settings: Record<string, unknown>): GpuKernel;
  destroy(): void;
}
/** A pipeline kernel's output texture (GL modes), of which only these members are used. */
export interface GpuTexture {
  toArray(): Float32Array | Float32Array[];
  delete(): void;
}
export interface GpuKernel {
  (...args: unknown[]): unknown;
  kernel?: { constructor: { name: string } };
  constructor: { name: string };
  destroy(removeCanvasReferences?: boolean): void;
}

export async function importGpuJs(): Promise<GpuJs> {
  try {
    const mod = (await import("gpu.js")) as unknown as GpuJs & { default?: GpuJs };
    return mod.GPU ? mod : mod.default!;
  } catch (error) {
    throw new Error(`the GPU backend needs the gpu.js package, which did not load: ${(error as Error).message}`);
  }
}

const ASYNC_KERNELS = "gpu.js's webgpu kernels are asynchronous and flowgrad's backend interface is synchronous (not supported yet)";

/**
 * Why webgpu cannot run here. In Node, gpu.js would need Dawn (its dependency, the `webgpu`
 * package): say whether Dawn loads at all, so a machine that could run it is told apart from one
 * that cannot (Dawn needs a newer C++ runtime than Debian 12 has).
 */
export async function webgpuUnavailableReason(): Promise<string> {
  if (typeof window !== "undefined") return ASYNC_KERNELS;
  const dawn = "webgpu"; // a variable, so bundlers do not try to pack a Node binary for the browser
  try {
    await import(/* @vite-ignore */ dawn);
  } catch (error) {
    return `Dawn (the webgpu package gpu.js uses in Node) does not load here: ${(error as Error).message.split("\n")[0]}`;
  }
  return `Dawn loads here, but ${ASYNC_KERNELS}`;
}

/**
 * Why a mode cannot run here, or null if it can. webgpu is refused with the reason given (see
 * webgpuUnavailableReason); headlessgl needs the optional `gl` package and an X display; webasm
 * needs WebAssembly.
 */
function unavailableReason(gpujs: GpuJs, mode: GpuMode, webgpuReason: string): string | null {
  switch (mode) {
    case "webgpu":
      return webgpuReason;
    case "webgl2":
      return gpujs.GPU.isWebGL2Supported ? null : "WebGL2 is not available here (a browser with GPU access has it)";
    case "webgl":
      return gpujs.GPU.isWebGLSupported ? null : "WebGL is not available here";
    case "headlessgl": {
      if (typeof window !== "undefined") return "headlessgl is for Node.js; in a browser use webgl2 or webgl";
      const display = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DISPLAY;
      if (!display) return "headlessgl needs an X display (run under xvfb-run -a)";
      return gpujs.GPU.isHeadlessGLSupported ? null : "headlessgl needs the optional gl package (headless-gl), which is not built here";
    }
    case "webasm":
      return gpujs.GPU.isWebAssemblySupported ? null : "WebAssembly is not available";
    case "cpu":
      return null;
  }
}

/**
 * Pick the mode: a forced mode must be available (else an error saying why); "auto" prefers a real
 * GPU (webgpu; webgl2 or webgl in a browser; headlessgl in Node), then webasm, and records a
 * notice for each mode it passed over.
 */
export function chooseMode(gpujs: GpuJs, requested: GpuMode | "auto", webgpuReason = ASYNC_KERNELS): { mode: GpuMode; notices: string[] } {
  if (requested !== "auto") {
    if (!GPU_MODES.includes(requested)) throw new Error(`unknown gpu.js mode "${requested}"; choose one of ${GPU_MODES.join(", ")} or auto`);
    const reason = unavailableReason(gpujs, requested, webgpuReason);
    if (reason) throw new Error(`gpu.js mode "${requested}" was requested but is not available: ${reason}`);
    return { mode: requested, notices: [] };
  }
  const notices: string[] = [];
  for (const mode of ["webgpu", "webgl2", "webgl", "headlessgl", "webasm"] as const) {
    const reason = unavailableReason(gpujs, mode, webgpuReason);
    if (!reason) return { mode, notices };
    notices.push(`gpu.js ${mode}: ${reason}`);
  }
  return { mode: "cpu", notices };
}
