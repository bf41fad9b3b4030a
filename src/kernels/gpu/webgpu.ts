// gpu.js's webgpu mode in flowgrad: loading Dawn in Node, and device arrays whose values come back
// only asynchronously. WebGPU has no synchronous read-back, so a webgpu tensor is read with
// `await tensor.read()`; ops chain on the device without waiting (see BufferArray).
import type { DeviceArray } from "../types.js";

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

/** A gpu.js webgpu pipeline result (WebGPUBufferResult): only these members are used. */
export interface GpuBufferHandle {
  toArray(): Promise<Float32Array | Float32Array[]>;
  delete(): void;
}

const DAWN = "webgpu"; // a variable, so bundlers do not try to pack a Node binary for the browser

function adapterName(adapter: GpuAdapterLike): string {
  const info = adapter.info ?? {};
  return info.description || [info.vendor, info.architecture, info.device].filter((s) => s).join(" ") || "unnamed adapter";
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
  const dawn = (await import(/* @vite-ignore */ DAWN)) as { create(flags: string[]): NavigatorGpu; globals: Record<string, unknown> };
  for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error("Dawn loads here but finds no adapter: no Vulkan driver (install the GPU's driver, or mesa-vulkan-drivers for a software one)");
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
          device.addEventListener?.("uncapturederror", (e) => console.error(`flowgrad: WebGPU error: ${e.error?.message ?? "unknown"}`));
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

export const SYNC_READ_ERROR =
  "Tensor: its values are in a WebGPU buffer, and WebGPU reads only asynchronously: use `await tensor.read()` " +
  "(or `await optimizer.stepAsync()` for gradients). Ops without a device kernel (concat, indexSelect, flow " +
  "inverses, …) need their inputs read first";

/**
 * A kernel output in a WebGPU buffer. Kernels are queued, not awaited: an op returns at once with a
 * BufferArray whose buffer arrives when its kernel has been compiled and submitted (`ready`), and a
 * later op's kernel waits on its inputs' `ready`. The buffer is freed when its owner has released it
 * and every queued kernel that reads it has run.
 */
export class BufferArray implements DeviceArray {
  released = false;
  /** the owner's use, plus one per queued kernel or read that still needs the buffer */
  private uses = 1;
  private handle: GpuBufferHandle | null = null;
  readonly ready: Promise<GpuBufferHandle>;

  constructor(pending: Promise<GpuBufferHandle>, readonly length: number, readonly owner: object, private readonly live: Set<DeviceArray>) {
    live.add(this);
    this.ready = pending.then(
      (handle) => {
        this.handle = handle;
        if (this.uses === 0) this.free();
        return handle;
      },
      (error: unknown) => {
        live.delete(this);
        throw error;
      },
    );
    this.ready.catch(() => {}); // a failed kernel is reported where its output is read
  }

  read(): Float32Array {
    throw new Error(SYNC_READ_ERROR);
  }

  async readAsync(): Promise<Float32Array> {
    const handle = await this.retain();
    try {
      const values = await handle.toArray();
      const out = new Float32Array(this.length);
      if (values instanceof Float32Array) out.set(values.subarray(0, this.length));
      else for (let at = 0, r = 0; at < this.length; r++) {
        const row = values[r]!.subarray(0, this.length - at);
        out.set(row, at);
        at += row.length;
      }
      return out;
    } finally {
      this.drop();
    }
  }

  /** A kernel (or a read) will use the buffer: keep it until drop(). */
  retain(): Promise<GpuBufferHandle> {
    if (this.released) throw new Error("GPU backend: a device array was used after it was released");
    this.uses++;
    return this.ready;
  }

  drop(): void {
    if (--this.uses === 0 && this.handle) this.free();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.drop();
  }

  private free(): void {
    this.handle!.delete();
    this.handle = null;
    this.live.delete(this);
  }
}
