// Compiled gpu.js kernels, one per cache key (an op and its shape signature), least recently used
// destroyed past a bound; and the launch accounting: every kernel fetched here is one launch, which
// is what a small step costs on a device where each launch has a fixed overhead.
import type { GpuInstance, GpuKernel } from "./load.js";
import { MAX_WIDTH } from "./sources.js";

/** Compiled kernels kept; the least recently used beyond this are destroyed. */
const CACHE_SIZE = 128;

export class KernelCache {
  private readonly kernels = new Map<string, GpuKernel>();
  private launches = 0;
  private readonly launchesByKind = new Map<string, number>();

  constructor(private readonly gpu: GpuInstance) {}

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
    if (this.kernels.size > CACHE_SIZE) {
      const [oldKey, oldest] = this.kernels.entries().next().value as [string, GpuKernel];
      oldest.destroy();
      this.kernels.delete(oldKey);
    }
    return k;
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
    for (const k of this.kernels.values()) k.destroy();
    this.kernels.clear();
  }
}
