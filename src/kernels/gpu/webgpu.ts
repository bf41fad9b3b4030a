// gpu.js's webgpu mode in Node: loading Dawn and making `navigator.gpu` answer. (WebGPU has no
// synchronous read-back: a webgpu tensor is read with `await tensor.read()`; see BufferArray.)

/** The WebGPU objects used here, typed loosely: only these members. */
interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  requestDevice(descriptor?: unknown): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike {
  addEventListener?(type: string, listener: (event: { error?: { message?: string } }) => void): void;
}
interface NavigatorGpu {
  requestAdapter(options?: unknown): Promise<GpuAdapterLike | null>;
  getPreferredCanvasFormat?(): string;
}

const DAWN = "webgpu"; // a variable, so bundlers do not try to pack a Node binary for the browser

function adapterName(adapter: GpuAdapterLike): string {
  const info = adapter.info ?? {};
  return (
    info.description || [info.vendor, info.architecture, info.device].filter((s) => s).join(" ") || "unnamed adapter"
  );
}

/** Whether Dawn (the webgpu package gpu.js depends on) loads here; the reason when it does not. */
export async function dawnLoadError(): Promise<string | null> {
  try {
    await import(/* @vite-ignore */ DAWN);
    return null;
  } catch (error) {
    return `Dawn (the webgpu package gpu.js uses in Node) does not load here: ${(error as Error).message.split("\n")[0]}`;
  }
}

let installed: Promise<string> | null = null;

/**
 * Make `navigator.gpu` answer, which is all gpu.js looks for, and return the adapter's name. In a
 * browser that is the browser's; in Node it is Dawn's, with two fixes gpu.js needs there: Dawn's
 * globals (GPUBufferUsage, …) on globalThis, and a device whose `onuncapturederror` can be
 * assigned (Dawn's rejects gpu.js's assignment). Throws, saying why, where there is no adapter.
 */
export function installWebGpu(): Promise<string> {
  installed ??= install();
  installed.catch(() => (installed = null)); // a later call may try again
  return installed;
}

async function install(): Promise<string> {
  const g = globalThis as { navigator?: { gpu?: NavigatorGpu } };
  if (g.navigator?.gpu) {
    const adapter = await g.navigator.gpu.requestAdapter();
    if (!adapter) throw new Error("navigator.gpu is present but gives no adapter (no usable GPU)");
    return adapterName(adapter);
  }
  const loadError = await dawnLoadError();
  if (loadError) throw new Error(loadError);
  const dawn = (await import(/* @vite-ignore */ DAWN)) as {
    create(flags: string[]): NavigatorGpu;
    globals: Record<string, unknown>;
  };
  for (const [name, value] of Object.entries(dawn.globals))
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter)
    throw new Error(
      "Dawn loads here but finds no adapter: no Vulkan driver (install the GPU's driver, or mesa-vulkan-drivers for a software one)",
    );
  const wrapped: NavigatorGpu = {
    requestAdapter: async (options) => {
      const a = await gpu.requestAdapter(options);
      if (!a) return a;
      const requestDevice = a.requestDevice.bind(a);
      a.requestDevice = async (descriptor) => {
        const device = await requestDevice(descriptor);
        // gpu.js assigns onuncapturederror; Dawn's device rejects that, so give it a plain property.
        Object.defineProperty(device, "onuncapturederror", { value: null, writable: true, configurable: true });
        try {
          device.addEventListener?.("uncapturederror", (e) =>
            console.error(`flowgrad: WebGPU error: ${e.error?.message ?? "unknown"}`),
          );
        } catch {
          // Dawn's Node binding rejects event listeners too; its errors then go unlogged.
        }
        return device;
      };
      return a;
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat?.() ?? "rgba8unorm",
  };
  if (g.navigator) Object.defineProperty(g.navigator, "gpu", { value: wrapped, configurable: true });
  else Object.defineProperty(globalThis, "navigator", { value: { gpu: wrapped }, configurable: true, writable: true });
  return adapterName(adapter);
}
