// Loading gpu.js and choosing its mode. gpu.js left alone falls back silently (webgl → webasm →
// cpu) and never tries webgpu; flowgrad instead says which mode it asked for and which one ran.

export type GpuMode = "webgpu" | "webgl2" | "webgl" | "headlessgl" | "webasm" | "cpu";
export const GPU_MODES: readonly GpuMode[] = ["webgpu", "webgl2", "webgl", "headlessgl", "webasm", "cpu"];

/** What the loaded backend reports: the mode that actually runs and gpu.js's kernel class. */
export interface GpuInfo {
  requested: GpuMode | "auto";
  gpuMode: GpuMode;
  kernelClass: string;
  /** the WebGPU adapter's name (webgpu mode) */
  adapter?: string;
  /** why preferred modes were passed over, one line each */
  notices: string[];
}

// gpu.js is typed loosely here on purpose: only the few members used below.
export interface GpuJs {
  /** gpu.js's shared WebGPU device (webgpu mode); destroy() releases it. */
  WebGPUContext?: { destroy(): Promise<void> };
  GPU: (new (settings: {
    mode: string;
  }) => GpuInstance) & {
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

/**
 * Why "auto" passes webgpu over: gpu.js's webgpu kernels are asynchronous (WebGPU has no synchronous
 * read-back), so a webgpu tensor is read with `await tensor.read()` and ops without a device kernel
 * cannot take webgpu tensors; code written for the synchronous modes would fail. Asked for by name,
 * it runs where an adapter answers. The reason also says whether Dawn loads here.
 */
export async function webgpuNotChosen(): Promise<string> {
  const optIn =
    "not chosen automatically: its values come back only asynchronously (await tensor.read()); ask for it with FLOWGRAD_GPU_MODE=webgpu";
  if (typeof window !== "undefined") return optIn;
  const { dawnLoadError } = await import("./webgpu.js");
  const loadError = await dawnLoadError();
  return loadError ? `${optIn} (${loadError})` : `${optIn} (Dawn loads here)`;
}

/**
 * Why headless-gl (the optional `gl` package gpu.js runs headlessgl on) cannot be loaded here, or
 * null if it loads. Asked before the display: without the package, an X display would not help.
 */
export async function glLoadError(): Promise<string | null> {
  if (typeof window !== "undefined") return null; // not asked in a browser (headlessgl is for Node)
  try {
    await import(/* @vite-ignore */ GL_PACKAGE);
    return null;
  } catch (error) {
    return `headlessgl needs the optional gl package (headless-gl), which is not installed or not built here (${(error as Error).message.split("\n")[0]}); on Debian: apt-get install libxi-dev, then npm_config_nodedir=/usr npm rebuild gl`;
  }
}
const GL_PACKAGE = "gl";

/**
 * Why a mode cannot run here, or null if it can. webgpu's reason is found beforehand (it needs an
 * asynchronous adapter request; null: it runs); headlessgl needs the optional `gl` package and an X display; webasm
 * needs WebAssembly.
 */
function unavailableReason(
  gpujs: GpuJs,
  mode: GpuMode,
  webgpuReason: string | null,
  glReason: string | null,
): string | null {
  switch (mode) {
    case "webgpu":
      return webgpuReason;
    case "webgl2":
      return gpujs.GPU.isWebGL2Supported ? null : "WebGL2 is not available here (a browser with GPU access has it)";
    case "webgl":
      return gpujs.GPU.isWebGLSupported ? null : "WebGL is not available here";
    case "headlessgl": {
      if (typeof window !== "undefined") return "headlessgl is for Node.js; in a browser use webgl2 or webgl";
      if (glReason) return glReason; // the first blocker: without the package a display would not help
      const display = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DISPLAY;
      if (!display) return "headlessgl needs an X display (run under xvfb-run -a)";
      return gpujs.GPU.isHeadlessGLSupported
        ? null
        : "headlessgl needs the optional gl package (headless-gl), which is not built here";
    }
    case "webasm":
      return gpujs.GPU.isWebAssemblySupported ? null : "WebAssembly is not available";
    case "cpu":
      return null;
  }
}

/**
 * Pick the mode: a forced mode must be available (else an error saying why); "auto" prefers a real
 * GPU with synchronous read-back (webgl2 or webgl in a browser; headlessgl in Node), then webasm,
 * and records a notice for each mode it passed over, webgpu included (see webgpuNotChosen).
 */
export function chooseMode(
  gpujs: GpuJs,
  requested: GpuMode | "auto",
  webgpuReason: string | null,
  glReason: string | null = null,
): { mode: GpuMode; notices: string[] } {
  if (requested !== "auto") {
    if (!GPU_MODES.includes(requested))
      throw new Error(`unknown gpu.js mode "${requested}"; choose one of ${GPU_MODES.join(", ")} or auto`);
    const reason = unavailableReason(gpujs, requested, webgpuReason, glReason);
    if (reason) throw new Error(`gpu.js mode "${requested}" was requested but is not available: ${reason}`);
    return { mode: requested, notices: [] };
  }
  const notices: string[] = [];
  for (const mode of ["webgpu", "webgl2", "webgl", "headlessgl", "webasm"] as const) {
    const reason = unavailableReason(gpujs, mode, webgpuReason, glReason);
    if (!reason) return { mode, notices };
    notices.push(`gpu.js ${mode}: ${reason}`);
  }
  return { mode: "cpu", notices };
}
