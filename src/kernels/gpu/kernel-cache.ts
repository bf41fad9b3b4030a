// Compiled gpu.js kernels, one per cache key (an op and its shape signature), least recently used
// destroyed past a bound; and the launch accounting: every kernel fetched here is one launch, which
// is what a small step costs on a device where each launch has a fixed overhead.
import type { GpuInstance, GpuKernel } from "./load.js";
import { MAX_WIDTH } from "./sources.js";

/**
 * Compiled kernels kept; the least recently used beyond this are destroyed. A view's offset is
 * compiled in (backend.ts), so a planar flow's step needs kernels per layer: the MNIST model's
 * training step at K = 80 uses about 480. Below a step's working set, every launch recompiles.
 */
export const KERNEL_CACHE_SIZE = 1024;

export class KernelCache {
  private readonly kernels = new Map<string, GpuKernel>();
  private launches = 0;
  private compiles = 0;
  private readonly launchesByKind = new Map<string, number>();
  /** Keys destroyed to make room, to notice a kernel compiled again (the cache too small). */
  private readonly evicted = new Set<string>();
  private warnedTooSmall = false;
  private readonly inFlight = new Map<GpuKernel, number>();
  /** Evicted kernels waiting for their uses to end (see hold). */
  private readonly retired = new Set<GpuKernel>();

  constructor(
    private readonly gpu: GpuInstance,
    private readonly capacity = KERNEL_CACHE_SIZE,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`kernelCacheSize must be a whole number of kernels, at least 1, not ${capacity}`);
  }

  /**
   * The compiled kernel for a key, compiling it on first use for n outputs written W wide (see
   * sources.ts); `pipeline` leaves each call's output on the device. Each call counts a launch.
   */
  get(key: string, source: string, n: number, constants: Record<string, number>, pipeline = false): GpuKernel {
    this.launches++;
    const kind = key.slice(0, key.indexOf(":"));
    this.launchesByKind.set(kind, (this.launchesByKind.get(kind) ?? 0) + 1);
    const cached = this.kernels.get(key);
    if (cached) {
      this.kernels.delete(key); // re-insert: the Map's order is the LRU order
      this.kernels.set(key, cached);
      return cached;
    }
    if (this.evicted.delete(key) && !this.warnedTooSmall) {
      this.warnedTooSmall = true;
      console.warn(
        `flowgrad: the GPU backend keeps ${this.capacity} compiled kernels and this work uses more, so it compiles some again (slow)`,
      );
    }
    this.compiles++;
    const W = Math.min(Math.max(n, 1), MAX_WIDTH),
      H = Math.ceil(Math.max(n, 1) / W);
    // immutable: every call returns a texture of its own (else the next call would overwrite it).
    const k = this.gpu.createKernel(source, {
      output: [W, H],
      constants: { ...constants, W, n },
      precision: "single",
      tactic: "precision",
      ...(pipeline ? { pipeline: true, immutable: true } : {}),
    });
    this.kernels.set(key, k);
    if (this.kernels.size > this.capacity) this.evict(...(this.kernels.entries().next().value as [string, GpuKernel]));
    return k;
  }

  /**
   * A use of k that needs it alive until `use` settles: a webgpu call still queued (behind its
   * inputs and k's asynchronous build), or a GL texture k made (gpu.js reads it back through k).
   * An eviction meanwhile only retires k; it is destroyed once its last such use has ended.
   */
  hold(k: GpuKernel, use: Promise<unknown>): void {
    this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    const end = () => {
      const left = this.inFlight.get(k)! - 1;
      if (left > 0) this.inFlight.set(k, left);
      else {
        this.inFlight.delete(k);
        if (this.retired.delete(k)) k.destroy();
      }
    };
    use.then(end, end);
  }

  private evict(key: string, k: GpuKernel): void {
    this.kernels.delete(key);
    if (this.evicted.size >= 4 * this.capacity) this.evicted.clear(); // bounded: it only feeds a notice
    this.evicted.add(key);
    // Destroyed in use, a queued webgpu call would find no pipeline, a GL texture no framebuffer.
    if (this.inFlight.has(k)) this.retired.add(k);
    else k.destroy();
  }

  /** Kernels compiled so far (a recompiled one counts again). */
  compiled(): number {
    return this.compiles;
  }

  /** Launches so far. */
  count(): number {
    return this.launches;
  }

  /** Launches so far by kind of kernel (the cache key's first field), most first. */
  countByKind(): Record<string, number> {
    return Object.fromEntries([...this.launchesByKind].sort((a, b) => b[1] - a[1]));
  }

  /** Compiled kernels alive now. */
  get size(): number {
    return this.kernels.size;
  }

  destroyAll(): void {
    for (const k of [...this.kernels.values(), ...this.retired]) k.destroy();
    this.kernels.clear();
    this.retired.clear();
  }
}
