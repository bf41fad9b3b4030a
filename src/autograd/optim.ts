import { getBackend, isDeviceArray, type KernelInput, type TypedArray, type UpdateRule } from "../kernels/index.js";
import type { Tensor } from "./tensor.js";

function releaseDeviceState(state: Map<Tensor, KernelInput[]>): void {
  for (const buffers of state.values()) for (const b of buffers) if (isDeviceArray(b)) b.release();
}

// Device memory of optimizer state that nobody disposed: freed when the optimizer is collected.
const collected = new FinalizationRegistry(releaseDeviceState);

/**
 * Optimizers update parameters from their `grad` (no graph is recorded); parameters without a
 * gradient are skipped. Each step is one backend kernel per parameter (kernels/cpu/optim.ts holds
 * the loops): where the backend keeps tensors on a device and the gradient is there, the update
 * runs there too, and the parameter and the optimizer's state stay on the device between steps.
 */
export abstract class Optimizer {
  readonly params: Tensor[];
  /** Per-parameter state buffers (host arrays, or device arrays once updated there), made on first use. */
  protected state = new Map<Tensor, KernelInput[]>();

  /** The learning rate; schedules change it between steps. */
  lr: number;
  /** Parameters that step at a multiple of lr (scaleLearningRate), like a parameter group's own rate. */
  private readonly lrScale = new Map<Tensor, number>();

  constructor(params: Iterable<Tensor>, lr: number) {
    this.lr = lr;
    this.params = [...params];
    if (!(lr > 0) || !Number.isFinite(lr))
      throw new Error(`${this.constructor.name}: learning rate must be a positive number, got ${lr}`);
    this.params.forEach((p, i) => {
      if (!p.requiresGrad) throw new Error(`${this.constructor.name}: parameter ${i} does not require grad`);
    });
    collected.register(this, this.state, this);
  }

  /**
   * Make these parameters step at factor·lr from now on (PyTorch's per-group learning rate): a part
   * of a model that should move more slowly than the rest.
   */
  scaleLearningRate(params: Iterable<Tensor>, factor: number): void {
    if (!(factor > 0) || !Number.isFinite(factor))
      throw new Error(`${this.constructor.name}.scaleLearningRate: factor must be a positive number, got ${factor}`);
    for (const p of params) {
      if (!this.params.includes(p))
        throw new Error(`${this.constructor.name}.scaleLearningRate: a parameter that this optimizer does not update`);
      this.lrScale.set(p, factor);
    }
  }

  /** Drop every parameter's gradient (freeing its device memory, if it has any). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /**
   * One update per parameter with a gradient, one backend call each: where the backend runs it on
   * its device the parameter and its state come back there (and stay, step after step); on the
   * host it runs in place.
   */
  step(): void {
    const rule = this.nextRule();
    const backend = getBackend();
    for (const p of this.params) {
      if (!p.grad) continue;
      const state = this.buffers(p);
      const scale = this.lrScale.get(p);
      const own = scale === undefined ? rule : { ...rule, lr: rule.lr * scale };
      const [x, ...next] = backend.update(own, p.storage.kernelInput, p.grad.storage.kernelInput, state, p.dtype);
      if (x !== p.storage.kernelInput) p.storage.assign(x!);
      for (const b of state) if (isDeviceArray(b) && !next.includes(b)) b.release();
      this.state.set(p, next);
    }
  }

  /**
   * step() where values come back only asynchronously (webgpu). A backend with a device runs the
   * updates there and nothing is read; one without (the CPU, after a switch) first reads back,
   * awaiting, what a previous backend left on its device.
   */
  async stepAsync(): Promise<void> {
    if (!getBackend().keepsOnDevice) {
      await Promise.all(this.params.flatMap((p) => (p.grad ? [p.read(), p.grad.read(), this.readState(p)] : [])));
    }
    this.step();
  }

  /**
   * The optimizer's state for a checkpoint: its learning rate, step count and each parameter's
   * buffers (read to the host), by parameter index. loadState() continues from it exactly.
   */
  saveState(): OptimizerState {
    const buffers: Record<string, number[][]> = {};
    this.params.forEach((p, i) => {
      const b = this.state.get(p);
      if (!b) return;
      const host = this.toHost(
        p,
        b,
        b.map((x) => (isDeviceArray(x) ? x.read() : x)),
      );
      this.state.set(p, host);
      buffers[i] = host.map((x) => Array.from(x));
    });
    return { kind: this.constructor.name, lr: this.lr, steps: this.stepCount(), buffers };
  }

  /**
   * Bring every parameter's state to the host, awaiting reads (webgpu): saveState() reads
   * synchronously, so a checkpoint on such a device awaits this first.
   */
  async stateToHost(): Promise<void> {
    await Promise.all(this.params.map((p) => this.readState(p)));
  }

  /** Continue from a checkpoint's saveState() (the same kind of optimizer, over the same parameters). */
  loadState(state: OptimizerState): void {
    if (state?.kind !== this.constructor.name)
      throw new Error(`${this.constructor.name}.loadState: the saved state is of ${String(state?.kind)}`);
    this.lr = state.lr;
    this.setStepCount(state.steps);
    this.dispose();
    for (const [key, buffers] of Object.entries(state.buffers)) {
      const p = this.params[Number(key)];
      if (!p || buffers.length !== this.bufferCount || buffers.some((b) => b.length !== p.size))
        throw new Error(`${this.constructor.name}.loadState: buffers of parameter ${key} do not fit it`);
      this.state.set(
        p,
        buffers.map((b) => Float64Array.from(b)),
      );
    }
  }

  /** Steps taken, where the rule depends on it (Adam's bias correction); 0 otherwise. */
  protected stepCount(): number {
    return 0;
  }
  protected setStepCount(_steps: number): void {}

  /** Free the optimizer's state on the device (it starts again from zeros if stepped afterwards). */
  dispose(): void {
    releaseDeviceState(this.state);
    this.state.clear();
  }

  /** How many state buffers of the parameter's size this optimizer keeps. */
  protected abstract readonly bufferCount: number;
  /** The update rule with this step's hyperparameters (called once per step). */
  protected abstract nextRule(): UpdateRule;

  private buffers(p: Tensor): KernelInput[] {
    let b = this.state.get(p);
    if (!b) {
      b = Array.from({ length: this.bufferCount }, () => new Float64Array(p.size));
      this.state.set(p, b);
    }
    return b;
  }

  private async readState(p: Tensor): Promise<void> {
    const b = this.buffers(p);
    if (!b.some(isDeviceArray)) return;
    const values = await Promise.all(b.map((x) => (isDeviceArray(x) ? x.readAsync() : x)));
    this.state.set(p, this.toHost(p, b, values));
  }

  /**
   * State read back from a device, which keeps it one array per buffer or packed in one array:
   * the parameter, then each buffer (ResidentKernels.update). The device arrays are released.
   */
  private toHost(p: Tensor, device: KernelInput[], values: TypedArray[]): Float64Array[] {
    for (const x of device) if (isDeviceArray(x)) x.release();
    const n = p.size,
      k = this.bufferCount,
      packed = values.length === 1 && values[0]!.length === (1 + k) * n;
    if (packed)
      return Array.from({ length: k }, (_, j) => Float64Array.from(values[0]!.subarray((j + 1) * n, (j + 2) * n)));
    return values.map((v) => (v instanceof Float64Array ? v : Float64Array.from(v)));
  }
}

/** An optimizer's state in a checkpoint (Optimizer.saveState). */
export interface OptimizerState {
  kind: string;
  lr: number;
  steps: number;
  /** each parameter's buffers, by the parameter's index */
  buffers: Record<string, number[][]>;
}

/** x ← x − lr·b with b ← μ b + g (heavy-ball momentum; plain SGD when μ = 0). */
export class SGD extends Optimizer {
  protected readonly bufferCount = 1;
  readonly momentum: number;
  constructor(params: Iterable<Tensor>, options: { lr: number; momentum?: number }) {
    super(params, options.lr);
    this.momentum = options.momentum ?? 0;
  }
  protected nextRule(): UpdateRule {
    return { kind: "sgd", lr: this.lr, momentum: this.momentum };
  }
}

/**
 * Adam (Kingma & Ba, 2015) with bias-corrected moments: m ← β1 m + (1 − β1) g,
 * v ← β2 v + (1 − β2) g², x ← x − lr·m̂ / (√v̂ + ε) with m̂ = m / (1 − β1ᵗ), v̂ = v / (1 − β2ᵗ).
 */
export class Adam extends Optimizer {
  protected readonly bufferCount = 2;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private t = 0;
  constructor(params: Iterable<Tensor>, options: { lr?: number; betas?: [number, number]; eps?: number } = {}) {
    super(params, options.lr ?? 1e-3);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
  }
  protected nextRule(): UpdateRule {
    return { kind: "adam", lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, t: ++this.t };
  }
  protected override stepCount(): number {
    return this.t;
  }
  protected override setStepCount(steps: number): void {
    this.t = steps;
  }
}

/**
 * RMSprop with momentum, the paper's optimizer: s ← α s + (1 − α) g²,
 * b ← μ b + g / (√s + ε), x ← x − lr·b.
 */
export class RMSprop extends Optimizer {
  protected readonly bufferCount = 2;
  readonly alpha: number;
  readonly eps: number;
  readonly momentum: number;
  constructor(
    params: Iterable<Tensor>,
    options: { lr?: number; alpha?: number; eps?: number; momentum?: number } = {},
  ) {
    super(params, options.lr ?? 1e-2);
    this.alpha = options.alpha ?? 0.99;
    this.eps = options.eps ?? 1e-8;
    this.momentum = options.momentum ?? 0;
  }
  protected nextRule(): UpdateRule {
    return { kind: "rmsprop", lr: this.lr, alpha: this.alpha, eps: this.eps, momentum: this.momentum };
  }
}
