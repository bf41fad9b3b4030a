// The gpu.js backend, composed of: its kernel cache and launch accounting (kernel-cache.ts), its
// resident kernels whose outputs stay on the device (resident.ts, sources in sources.ts, keys in
// specs.ts), its kernels on host arrays (host-kernels.ts, the path of gpu.js modes without device
// memory), the LU's launch sequence (lu.ts), the device arrays (device-arrays.ts), and here the
// launching itself: host arrays in, device arrays kept on the device, webgpu's queue. gpu.js
// computes in float32: float64 inputs are converted on the way in and results written back into the
// caller's array (a documented conversion). In webgpu mode results cannot come back synchronously:
// there only resident kernels run on the GPU, and the host-array kernels run on the CPU. A kernel
// with several outputs writes them into one array, handed out as views of it (ViewArray): launches,
// not arithmetic, decide a small step's time. One call per op (Backend) comes from one-call.ts.
import { cpuBackend, runOnHost } from "../cpu/index.js";
import { backendFrom } from "../one-call.js";
import {
  type Backend,
  type CustomKernel,
  type DeviceArray,
  type DType,
  type HostKernels,
  isDeviceArray,
  type KernelInput,
  type Launcher,
  type ResidentKernels,
  type TypedArray,
} from "../types.js";
import { BufferArray, copyResult, type GpuBufferHandle, TextureArray, ViewArray } from "./device-arrays.js";
import { gpuHostKernels, toFloat32 } from "./host-kernels.js";
import { KernelCache } from "./kernel-cache.js";
import {
  chooseMode,
  type GpuInfo,
  type GpuInstance,
  type GpuKernel,
  type GpuMode,
  type GpuTexture,
  glLoadError,
  importGpuJs,
  webgpuNotChosen,
} from "./load.js";
import { MAX_ELEMENTS, residentKernels } from "./resident.js";
import { outputStarts, shiftInputs } from "./sources.js";
import type { KernelSpec } from "./specs.js";

/** Modes in which gpu.js can leave a kernel's output on the GPU as a texture (pipeline mode). */
const PIPELINE_MODES: ReadonlySet<GpuMode> = new Set(["webgl2", "webgl", "headlessgl"]);

export class GpuBackend implements Backend {
  readonly name = "gpu";
  /** In GL and webgpu modes, kernels whose outputs stay on the GPU (see ResidentKernels); absent elsewhere. */
  readonly resident: ResidentKernels | undefined;
  /** webgpu: results come back only asynchronously, so the host-array kernels run on the CPU backend. */
  private readonly asyncReads: boolean;
  private readonly kernels: KernelCache;
  /** device arrays alive: textures (GL modes) or buffers (webgpu) */
  private readonly live = new Set<DeviceArray>();
  private disposed = false;
  private warnedTooLarge = false;

  // One call per op (see one-call.ts): on the device where it takes the op, else the host kernels.
  readonly unary: Backend["unary"];
  readonly binary: Backend["binary"];
  readonly reduce: Backend["reduce"];
  readonly matmul: Backend["matmul"];
  readonly where: Backend["where"];
  readonly stridedCopy: Backend["stridedCopy"];
  readonly place: Backend["place"];
  readonly gather: Backend["gather"];
  readonly scatterAdd: Backend["scatterAdd"];
  readonly addN: Backend["addN"];
  readonly update: Backend["update"];
  readonly keepsOnDevice: boolean;
  readonly logAbsDet: Backend["logAbsDet"];

  private readonly fallback: Backend;
  private readonly onDispose: (() => void) | undefined;

  constructor(
    private readonly gpu: GpuInstance,
    readonly info: GpuInfo,
    options: GpuBackendOptions & { fallback?: Backend; onDispose?: () => void } = {},
  ) {
    this.fallback = options.fallback ?? cpuBackend;
    this.onDispose = options.onDispose;
    this.kernels = new KernelCache(gpu, options.kernelCacheSize);
    this.asyncReads = info.gpuMode === "webgpu";
    this.resident =
      PIPELINE_MODES.has(info.gpuMode) || this.asyncReads
        ? residentKernels({
            launch: (spec, n, inputs, extra) => this.runResident(spec, n, inputs, extra),
            liveArrays: () => this.live.size,
          })
        : undefined;
    const ops = backendFrom({
      name: this.name,
      host: this.host,
      ...(this.resident ? { resident: this.resident } : {}),
      run: (...args) => this.run(...args),
    });
    this.unary = ops.unary;
    this.binary = ops.binary;
    this.reduce = ops.reduce;
    this.matmul = ops.matmul;
    this.where = ops.where;
    this.stridedCopy = ops.stridedCopy;
    this.place = ops.place;
    this.gather = ops.gather;
    this.scatterAdd = ops.scatterAdd;
    this.addN = ops.addN;
    this.update = ops.update;
    this.keepsOnDevice = ops.keepsOnDevice;
    this.logAbsDet = ops.logAbsDet;
  }

  /** Kernels run so far (launches: what a step costs on a device where each has a fixed overhead). */
  kernelLaunches(): number {
    return this.kernels.count();
  }

  /**
   * Launches so far by kind of kernel (the cache key's first field: "u" unary, "b" binary,
   * "m" matmul, "opt" updates, and each custom kernel's own tags…).
   */
  kernelLaunchesByKind(): Record<string, number> {
    return this.kernels.countByKind();
  }

  /** Kernels compiled so far (a training step that compiles after its first few is recompiling). */
  kernelsCompiled(): number {
    return this.kernels.compiled();
  }

  /** Compiled kernels alive now (a test checks this stays bounded over long runs). */
  liveKernels(): number {
    return this.kernels.size;
  }

  /** Textures (GL modes) or buffers (webgpu) holding tensors on the GPU now (a test checks this stays flat over training). */
  liveTextures(): number {
    return this.live.size;
  }

  /** Destroy every texture, every kernel and the gpu.js instance. */
  dispose(): void {
    if (this.disposed) return;
    for (const t of [...this.live]) t.release();
    this.kernels.destroyAll();
    this.gpu.destroy();
    this.disposed = true;
    this.onDispose?.();
  }

  /** The compiled kernel for a key (compiling it on first use); each call is counted as a launch. */
  private kernel(
    key: string,
    source: string,
    n: number,
    constants: Record<string, number>,
    pipeline = false,
  ): GpuKernel {
    if (this.disposed) throw new Error("GPU backend: used after dispose()");
    return this.kernels.get(key, source, n, constants, pipeline);
  }

  /** The CPU backend, for arrays gpu.js cannot index exactly; says so once. */
  private tooLarge(): Backend {
    if (!this.warnedTooLarge) {
      this.warnedTooLarge = true;
      console.warn(
        `flowgrad: arrays above 2^24 elements run on the CPU backend (gpu.js indexes in float32, exact only below 2^24); ${this.info.gpuMode} runs the rest`,
      );
    }
    return this.fallback;
  }

  /** Run and copy the (row-major, W-wide) result into out. */
  private runKernel(k: GpuKernel, args: unknown[], out: TypedArray): void {
    copyResult(k(...args) as Float32Array | Float32Array[], out);
  }

  private runSpec(spec: KernelSpec, n: number, args: unknown[], out: TypedArray): void {
    this.runKernel(this.kernel(spec.key, spec.source, n, spec.constants), args, out);
  }

  /** Run a kernel with several outputs one after another (sizes) on host arrays; each output's values. */
  private runSpecParts(spec: KernelSpec, sizes: number[], args: unknown[]): Float32Array[] {
    const all = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    this.runSpec(spec, all.length, args, all);
    return outputStarts(sizes).map((start, k) => all.subarray(start, start + sizes[k]!));
  }

  /** A kernel argument: this backend's texture as it is (a view's base), anything else as float32 host memory. */
  private argument(x: KernelInput): Float32Array | GpuTexture {
    if (!isDeviceArray(x)) return toFloat32(x);
    if ((x instanceof TextureArray || (x instanceof ViewArray && x.base instanceof TextureArray)) && x.owner === this) {
      if (x.released) throw new Error("GPU backend: a kernel was given a device array that was already released");
      return x instanceof ViewArray ? (x.base as TextureArray).texture : x.texture;
    }
    return x.read(); // another backend's device array comes through the host
  }

  /** The kernel-cache key part that says which arguments are textures (a kernel is compiled per argument kind). */
  private static kinds(args: Array<Float32Array | GpuTexture>): string {
    return args.map((a) => (a instanceof Float32Array ? "a" : "t")).join("");
  }

  /**
   * The spec with each input that is a view of this backend's arrays read from its base at the
   * view's offset. A kernel is compiled per base size too: gpu.js fixes an argument's size when it
   * compiles (unless dynamicArguments), and a view's base is larger than the view.
   */
  private shifted(spec: KernelSpec, inputs: KernelInput[]): KernelSpec {
    const views = inputs.map((x) => (x instanceof ViewArray && x.owner === this ? x : null));
    if (views.every((v) => v === null)) return spec;
    const key = `${spec.key}:v${views.map((v) => (v ? `${v.offset}+${v.base.length}` : "-")).join(",")}`;
    return {
      key,
      source: shiftInputs(
        spec.source,
        views.map((v) => v?.offset ?? 0),
      ),
      constants: spec.constants,
    };
  }

  /** Run a pipeline kernel: its output stays on the GPU. `extra` are small host arguments (offsets). */
  private runResident(
    spec: KernelSpec,
    n: number,
    inputs: KernelInput[],
    extra: Float32Array[] = [],
  ): TextureArray | BufferArray {
    if (this.asyncReads) return this.runQueued(spec, n, inputs, extra);
    const args = [...inputs.map((x) => this.argument(x)), ...extra];
    const at = this.shifted(spec, inputs);
    const k = this.kernel(`${at.key}:p${GpuBackend.kinds(args)}`, at.source, n, at.constants, true);
    const out = new TextureArray(k(...args) as GpuTexture, n, this, this.live);
    this.kernels.hold(k, out.deleted);
    return out;
  }

  /**
   * A kernel with several outputs, written one after another into one array of Σ sizes: each output
   * is a view of it (one launch where there would be one per output).
   */
  private runPacked(
    spec: KernelSpec,
    sizes: number[],
    inputs: KernelInput[],
    extra: Float32Array[] = [],
  ): DeviceArray[] {
    const all = this.runResident(
      spec,
      sizes.reduce((a, b) => a + b, 0),
      inputs,
      extra,
    );
    const views = outputStarts(sizes).map((start, k) => new ViewArray(all, start, sizes[k]!));
    all.release(); // the views hold it
    return views;
  }

  /**
   * webgpu: queue the kernel behind its inputs (see BufferArray) and return its output at once.
   * Host inputs are copied now: the caller may change its arrays before the kernel runs.
   */
  private runQueued(spec: KernelSpec, n: number, inputs: KernelInput[], extra: Float32Array[]): BufferArray {
    const mine = (x: KernelInput): x is BufferArray | ViewArray =>
      (x instanceof BufferArray || (x instanceof ViewArray && x.base instanceof BufferArray)) && x.owner === this;
    const at = this.shifted(spec, inputs);
    const k = this.kernel(
      `${at.key}:q${inputs.map((x) => (mine(x) ? "t" : "a")).join("")}`,
      at.source,
      n,
      at.constants,
      true,
    );
    // Check every input before any is retained: a released one is an error that leaves no use behind.
    if (inputs.some((x) => mine(x) && x.released))
      throw new Error("GPU backend: a device array was used after it was released");
    const used = inputs.filter(mine);
    const args = inputs.map((x) => (mine(x) ? x.retain() : isDeviceArray(x) ? x.read() : Float32Array.from(x)));
    const pending = Promise.all([...args, ...extra]).then((values) => k(...values) as Promise<GpuBufferHandle>);
    this.kernels.hold(k, pending);
    const done = () => used.forEach((x) => x.drop());
    pending.then(done, done);
    return new BufferArray(pending, n, this, this.live);
  }

  /**
   * gpu.js on host arrays (read back into the caller's arrays): elementwise ops, reductions,
   * products and the LU; data movement and optimizer updates stay on the CPU backend's loops.
   */
  readonly host: HostKernels = gpuHostKernels({
    asyncReads: () => this.asyncReads,
    fallback: () => this.fallback.host,
    tooLarge: () => this.tooLarge().host,
    runSpec: (spec, n, args, out) => this.runSpec(spec, n, args, out),
    argument: (x) => this.argument(x),
    resident: () => this.resident,
  });

  /**
   * A custom kernel (a flow layer's, registered from src/flows): its gpu.js program, with outputs
   * left on the device where this mode has device memory, read back into host arrays where it has
   * not (webasm, cpu); its CPU loop when it has no program or its arrays are past what gpu.js indexes.
   */
  run<A>(kernel: CustomKernel<A>, inputs: ReadonlyArray<KernelInput | null>, args: A, dtype: DType): KernelInput[] {
    const total = kernel.outputs(args).reduce((x, y) => x + y, 0);
    if (!kernel.gpu || total === 0) return runOnHost(kernel, inputs, args, dtype);
    if (total > MAX_ELEMENTS || inputs.some((x) => x && x.length > MAX_ELEMENTS))
      return this.tooLarge().run(kernel, inputs, args, dtype);
    if (this.resident) return kernel.gpu(this.deviceLauncher, inputs, args);
    return kernel
      .gpu(this.hostLauncher, inputs, args)
      .map((values) => (dtype === "float32" ? values : Float64Array.from(values)));
  }

  /** Custom kernels' launches that leave their outputs on the device (each output a view of one array). */
  private readonly deviceLauncher: Launcher<DeviceArray> = {
    packed: (spec, sizes, inputs) =>
      sizes.length === 1
        ? [this.runResident(spec, sizes[0]!, [...inputs])]
        : this.runPacked(spec, [...sizes], [...inputs]),
  };

  /** The same launches in modes without device memory: each output read back as float32. */
  private readonly hostLauncher: Launcher<Float32Array> = {
    packed: (spec, sizes, inputs) =>
      this.runSpecParts(
        spec,
        [...sizes],
        inputs.map((x) => this.argument(x)),
      ),
  };
}

/** How a GPU backend is made (beyond its mode). */
export interface GpuBackendOptions {
  /** Compiled kernels kept (KERNEL_CACHE_SIZE by default); the least recently used beyond are destroyed. */
  kernelCacheSize?: number;
}

/**
 * Load gpu.js (a dynamic import: nothing of it loads until a GPU backend is asked for), choose the
 * mode, and prove it runs by compiling and running one small kernel; report what ran. webgpu runs
 * only when asked for by name (its values come back asynchronously): Dawn is set up for it then.
 */
export async function createGpuBackend(
  requested: GpuMode | "auto" = "auto",
  options: GpuBackendOptions = {},
): Promise<GpuBackend> {
  const gpujs = await importGpuJs();
  let adapter: string | undefined;
  let webgpuReason: string | null = null;
  if (requested === "webgpu") {
    try {
      // Loaded only when asked for: a page that never uses webgpu never fetches its shim.
      const { installWebGpu } = await import("./webgpu.js");
      adapter = await installWebGpu();
    } catch (error) {
      webgpuReason = (error as Error).message;
    }
  } else if (requested === "auto") {
    webgpuReason = await webgpuNotChosen();
  }
  const glReason = requested === "headlessgl" || requested === "auto" ? await glLoadError() : null;
  const { mode, notices } = chooseMode(gpujs, requested, webgpuReason, glReason);
  const gpu = new gpujs.GPU({ mode });
  const probe = gpu.createKernel("function (X) { return X[this.thread.x] * 2; }", { output: [2] });
  const result = (await probe(new Float32Array([1, 2]))) as Float32Array; // a Promise in webgpu mode
  if (!(result[0] === 2 && result[1] === 4))
    throw new Error(`gpu.js mode "${mode}" ran but computed ${Array.from(result).join(", ")} for 2·[1, 2]`);
  const kernelClass = probe.kernel?.constructor.name ?? probe.constructor.name;
  probe.destroy();
  const info = { requested, gpuMode: mode, kernelClass, notices, ...(adapter ? { adapter } : {}) };
  if (mode !== "webgpu") return new GpuBackend(gpu, info, options);
  // gpu.js shares one WebGPU device among its instances: the last webgpu backend disposed destroys
  // it, freeing its memory (the next one made gets a fresh device). Dawn's Node binding keeps
  // polling for events regardless, which keeps the process alive: end with process.exit().
  webgpuBackends++;
  return new GpuBackend(gpu, info, {
    ...options,
    onDispose: () => {
      if (--webgpuBackends === 0) void gpujs.WebGPUContext?.destroy();
    },
  });
}

let webgpuBackends = 0;
