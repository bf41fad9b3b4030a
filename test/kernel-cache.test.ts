import { describe, expect, it, vi } from "vitest";
import { KernelCache } from "../src/kernels/gpu/kernel-cache.js";
import type { GpuInstance, GpuKernel } from "../src/kernels/gpu/load.js";

// The cache's bookkeeping with a stand-in for gpu.js: which kernels are compiled, kept and destroyed.
function fakeGpu(): { gpu: GpuInstance; made: Array<GpuKernel & { destroy: ReturnType<typeof vi.fn> }> } {
  const made: Array<GpuKernel & { destroy: ReturnType<typeof vi.fn> }> = [];
  const gpu = {
    createKernel: () => {
      const k = Object.assign(() => null, { destroy: vi.fn() });
      made.push(k);
      return k;
    },
  } as unknown as GpuInstance;
  return { gpu, made };
}

describe("the GPU backend's kernel cache", () => {
  it("keeps the most recently used kernels, destroys the least recently used, and counts compiles and launches", () => {
    const { gpu, made } = fakeGpu();
    const cache = new KernelCache(gpu, 2);
    const get = (key: string) => cache.get(`u:${key}`, "function () { return 0; }", 4, {});
    get("a");
    get("b");
    get("a"); // a is now the most recent
    get("c"); // evicts b
    expect(made.map((k) => k.destroy.mock.calls.length)).toEqual([0, 1, 0]);
    expect(cache.size).toBe(2);
    expect(cache.compiled()).toBe(3);
    expect(cache.count()).toBe(4);
  });

  it("an evicted kernel with a queued call is destroyed only once that call is made", async () => {
    const { gpu, made } = fakeGpu();
    const cache = new KernelCache(gpu, 1);
    const a = cache.get("u:a", "function () { return 0; }", 4, {});
    let made1!: () => void;
    cache.hold(
      a,
      new Promise<void>((resolve) => {
        made1 = resolve;
      }),
    );
    cache.hold(a, Promise.resolve());
    cache.get("u:b", "function () { return 0; }", 4, {}); // evicts a while a call waits
    await null;
    expect(made[0]!.destroy).not.toHaveBeenCalled();
    made1();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(made[0]!.destroy).toHaveBeenCalledTimes(1);
    cache.destroyAll();
    expect(made[0]!.destroy).toHaveBeenCalledTimes(1);
    expect(made[1]!.destroy).toHaveBeenCalledTimes(1);
  });

  it("a kernel compiled again after its eviction says once that the cache is too small", () => {
    const { gpu } = fakeGpu();
    const cache = new KernelCache(gpu, 2);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      for (let round = 0; round < 3; round++)
        for (const key of ["a", "b", "c"]) cache.get(`u:${key}`, "function () { return 0; }", 4, {});
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/keeps 2 compiled kernels and this work uses more/);
      expect(cache.compiled()).toBe(9);
    } finally {
      warn.mockRestore();
    }
  });

  it("refuses a size that is not a whole number of kernels", () => {
    const { gpu } = fakeGpu();
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => new KernelCache(gpu, bad)).toThrow(/kernelCacheSize must be a whole number of kernels, at least 1/);
  });
});
