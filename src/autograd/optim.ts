import type { Tensor } from "./tensor.js";

/**
 * Optimizers update parameters in place from their `grad`, with plain loops over the typed arrays
 * (no graph is recorded). Parameters without a gradient are skipped.
 */
export abstract class Optimizer {
  readonly params: Tensor[];
  /** Per-parameter state buffers, allocated on first use. */
  protected state = new Map<Tensor, Float64Array[]>();

  /** The learning rate; schedules change it between steps. */
  lr: number;

  constructor(params: Iterable<Tensor>, lr: number) {
    this.lr = lr;
    this.params = [...params];
    if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`${this.constructor.name}: learning rate must be a positive number, got ${lr}`);
    this.params.forEach((p, i) => {
      if (!p.requiresGrad) throw new Error(`${this.constructor.name}: parameter ${i} does not require grad`);
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  step(): void {
    for (const p of this.params) if (p.grad) this.update(p.data, p.grad.data, this.buffers(p));
  }

  /**
   * step(), after reading the gradients (and any parameter made on the device) back to the host:
   * needed where reads are asynchronous (webgpu). The update itself runs on the host.
   */
  async stepAsync(): Promise<void> {
    await Promise.all(this.params.flatMap((p) => [p.read(), p.grad?.read()]));
    this.step();
  }

  /** How many state buffers of the parameter's size this optimizer keeps. */
  protected abstract readonly bufferCount: number;
  protected abstract update(x: Float32Array | Float64Array, g: Float32Array | Float64Array, buffers: Float64Array[]): void;

  private buffers(p: Tensor): Float64Array[] {
    let b = this.state.get(p);
    if (!b) this.state.set(p, (b = Array.from({ length: this.bufferCount }, () => new Float64Array(p.size))));
    return b;
  }
}

/** x ← x − lr·b with b ← μ b + g (heavy-ball momentum; plain SGD when μ = 0). */
export class SGD extends Optimizer {
  protected readonly bufferCount = 1;
  readonly momentum: number;
  constructor(params: Iterable<Tensor>, options: { lr: number; momentum?: number }) {
    super(params, options.lr);
    this.momentum = options.momentum ?? 0;
  }
  protected update(x: Float32Array | Float64Array, g: Float32Array | Float64Array, [b]: Float64Array[]): void {
    const lr = this.lr, mu = this.momentum;
    for (let i = 0; i < x.length; i++) {
      b![i] = mu * b![i]! + g[i]!;
      x[i] -= lr * b![i]!;
    }
  }
}

/** Adam (Kingma & Ba, 2015) with bias-corrected first and second moments. */
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
  override step(): void {
    this.t++;
    super.step();
  }
  protected update(x: Float32Array | Float64Array, g: Float32Array | Float64Array, [m, v]: Float64Array[]): void {
    const { beta1, beta2, eps } = this;
    const c1 = 1 - beta1 ** this.t, c2 = 1 - beta2 ** this.t;
    const stepSize = this.lr / c1;
    for (let i = 0; i < x.length; i++) {
      const gi = g[i]!;
      m![i] = beta1 * m![i]! + (1 - beta1) * gi;
      v![i] = beta2 * v![i]! + (1 - beta2) * gi * gi;
      x[i] -= (stepSize * m![i]!) / (Math.sqrt(v![i]! / c2) + eps);
    }
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
  constructor(params: Iterable<Tensor>, options: { lr?: number; alpha?: number; eps?: number; momentum?: number } = {}) {
    super(params, options.lr ?? 1e-2);
    this.alpha = options.alpha ?? 0.99;
    this.eps = options.eps ?? 1e-8;
    this.momentum = options.momentum ?? 0;
  }
  protected update(x: Float32Array | Float64Array, g: Float32Array | Float64Array, [s, b]: Float64Array[]): void {
    const { alpha, eps, momentum, lr } = this;
    for (let i = 0; i < x.length; i++) {
      const gi = g[i]!;
      s![i] = alpha * s![i]! + (1 - alpha) * gi * gi;
      b![i] = momentum * b![i]! + gi / (Math.sqrt(s![i]!) + eps);
      x[i] -= lr * b![i]!;
    }
  }
}
