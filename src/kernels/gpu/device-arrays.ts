// Device arrays of the gpu.js backend: a pipeline kernel's output texture (GL modes), or a WebGPU
// buffer (webgpu mode), whose values come back only asynchronously. Both are counted by their
// backend (`live`) until released. One reference count for both: hold() adds a use (a view of the
// array, a queued kernel or read), drop() ends one; release() is the owner's drop, and the memory
// goes with the last use.
import type { DeviceArray, TypedArray } from "../types.js";
import type { GpuTexture } from "./load.js";

/** Copy a kernel's (row-major, W-wide) result into out: one array, or one array per row. */
export function copyResult(result: Float32Array | Float32Array[], out: TypedArray): void {
  if (result instanceof Float32Array) {
    out.set(result.subarray(0, out.length));
    return;
  }
  let at = 0;
  for (const row of result) {
    const take = Math.min(row.length, out.length - at);
    if (take <= 0) break;
    out.set(take === row.length ? row : row.subarray(0, take), at);
    at += take;
  }
}

/** A kernel output left on the GPU: a gpu.js texture, counted by its backend until released. */
export class TextureArray implements DeviceArray {
  released = false;
  /** handles on the texture: this one, and each ViewArray of it */
  private holders = 1;
  private resolveDeleted!: () => void;
  /** Settles when the texture is deleted: gpu.js reads a texture back through the kernel that made it, which must live until then. */
  readonly deleted = new Promise<void>((resolve) => {
    this.resolveDeleted = resolve;
  });
  constructor(
    readonly texture: GpuTexture,
    readonly length: number,
    readonly owner: object,
    private readonly live: Set<DeviceArray>,
  ) {
    live.add(this);
  }
  read(): Float32Array {
    if (this.released) throw new Error("GPU backend: a device array was read after it was released");
    return this.values(this.length);
  }
  readAsync(): Promise<Float32Array> {
    return Promise.resolve().then(() => this.read());
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.drop();
  }
  /** The first `length` values (for a ViewArray, which checks its own release). */
  values(length: number): Float32Array {
    const out = new Float32Array(length);
    copyResult(this.texture.toArray(), out);
    return out;
  }
  hold(): void {
    this.holders++;
  }
  drop(): void {
    if (--this.holders > 0) return;
    this.texture.delete();
    this.live.delete(this);
    this.resolveDeleted();
  }
}

/** A gpu.js webgpu pipeline result (WebGPUBufferResult): only these members are used. */
export interface GpuBufferHandle {
  toArray(): Promise<Float32Array | Float32Array[]>;
  delete(): void;
}

export const SYNC_READ_ERROR =
  "Tensor: its values are in a WebGPU buffer, and WebGPU reads only asynchronously: use `await tensor.read()` " +
  "(and `await optimizer.stepAsync()` for updates). Ops without a device kernel (the LU log-det, …) " +
  "need their inputs read first";

/**
 * A kernel output in a WebGPU buffer. Kernels are queued, not awaited: an op returns at once with a
 * BufferArray whose buffer arrives when its kernel has been compiled and submitted (`ready`), and a
 * later op's kernel waits on its inputs' `ready`. The buffer is freed when its owner has released it
 * and every queued kernel that reads it has run.
 */
export class BufferArray implements DeviceArray {
  released = false;
  /** the owner's use, plus one per view of it and per queued kernel or read that still needs the buffer */
  private uses = 1;
  private handle: GpuBufferHandle | null = null;
  readonly ready: Promise<GpuBufferHandle>;

  constructor(
    pending: Promise<GpuBufferHandle>,
    readonly length: number,
    readonly owner: object,
    private readonly live: Set<DeviceArray>,
  ) {
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
    if (this.released) throw new Error("GPU backend: a device array was used after it was released");
    return this.values(this.length);
  }

  /** The first `length` values. */
  async values(length: number): Promise<Float32Array> {
    const handle = await this.hold();
    try {
      const out = new Float32Array(length);
      copyResult(await handle.toArray(), out);
      return out;
    } finally {
      this.drop();
    }
  }

  /** A kernel (or a read) will use the buffer: keep it until drop(). */
  retain(): Promise<GpuBufferHandle> {
    if (this.released) throw new Error("GPU backend: a device array was used after it was released");
    return this.hold();
  }

  /** One more use of the buffer, whoever holds it (a ViewArray checks its own release). */
  hold(): Promise<GpuBufferHandle> {
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

/**
 * A handle on `length` values of a device array of the same backend, from `offset`: a kernel with
 * several outputs (a flow layer's points and log-determinants, an optimizer's parameter and state)
 * writes them into one array, and each output is a view of it. Kernels read a view as its base
 * array, their indices shifted by the offset (a compile-time constant). The memory goes when every
 * handle on it is released.
 */
export class ViewArray implements DeviceArray {
  released = false;
  constructor(
    readonly base: TextureArray | BufferArray,
    readonly offset: number,
    readonly length: number,
  ) {
    if (!(offset >= 0 && offset + length <= base.length))
      throw new Error(`GPU backend: a view of ${length} values from ${offset} in an array of ${base.length}`);
    void base.hold();
  }
  get owner(): object {
    return this.base.owner;
  }
  read(): Float32Array {
    this.check();
    if (this.base instanceof BufferArray) throw new Error(SYNC_READ_ERROR);
    return this.base.values(this.offset + this.length).subarray(this.offset);
  }
  async readAsync(): Promise<Float32Array> {
    this.check();
    return (await this.base.values(this.offset + this.length)).subarray(this.offset);
  }
  /** A queued kernel will read it (webgpu): as BufferArray.retain. */
  retain(): Promise<GpuBufferHandle> {
    this.check();
    return (this.base as BufferArray).hold();
  }
  drop(): void {
    (this.base as BufferArray).drop();
  }
  release(): void {
    if (this.released) return;
    this.released = true;
    this.base.drop();
  }
  private check(): void {
    if (this.released) throw new Error("GPU backend: a device array was used after it was released");
  }
}
