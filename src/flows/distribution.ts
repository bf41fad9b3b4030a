import { type DType, Module, noGrad, type Random, randn, sum, Tensor, tensor } from "../autograd/index.js";
import { checkDType } from "../autograd/validate.js";
import type { Flow } from "./flow.js";

const LOG_2PI = Math.log(2 * Math.PI);

/** log N(z; μ, diag σ²) summed over the last axis: −½‖(z − μ)/σ‖² − Σ log σ − (D/2) log 2π. */
export function normalLogProb(z: Tensor, mean: Tensor, logStd: Tensor): Tensor {
  const d = z.shape[z.rank - 1]!;
  const standardized = z.sub(mean).div(logStd.exp());
  return sum(standardized.square(), -1)
    .mul(-0.5)
    .sub(sum(logStd, -1))
    .sub(0.5 * d * LOG_2PI);
}

/**
 * q_K: a base N(μ, diag σ²) pushed through a flow. ln q_K(z_K) = ln q_0(z_0) − Σ_k ln|det ∂f_k/∂z_{k−1}|.
 * The base mean and log σ are parameters too (trainable unless `fixedBase`).
 */
export class FlowDistribution extends Module {
  readonly mean: Tensor;
  readonly logStd: Tensor;
  constructor(
    readonly flow: Flow,
    options: { mean?: ArrayLike<number>; logStd?: ArrayLike<number>; fixedBase?: boolean; dtype?: DType } = {},
  ) {
    super();
    const d = flow.dim;
    // The base takes the flow's dtype unless told: a float32 flow gets a float32 base.
    const flowDType = flow instanceof Module ? flow.parameters()[0]?.dtype : undefined;
    const dtype = checkDType("FlowDistribution", options.dtype) ?? flowDType ?? "float64";
    const mean = tensor(Array.from(options.mean ?? new Array<number>(d).fill(0)), { dtype });
    const logStd = tensor(Array.from(options.logStd ?? new Array<number>(d).fill(0)), { dtype });
    if (mean.size !== d || logStd.size !== d)
      throw new Error(`FlowDistribution: base mean and logStd need ${d} values (the flow's dimension)`);
    this.mean = options.fixedBase ? mean : this.addParameter("mean", mean);
    this.logStd = options.fixedBase ? logStd : this.addParameter("logStd", logStd);
    if (flow instanceof Module) this.addModule("flow", flow);
  }

  /** n samples z_K with their ln q_K(z_K), differentiable with respect to every parameter (reparameterised). */
  sample(n: number, random?: Random | number): { z0: Tensor; z: Tensor; logProb: Tensor } {
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`FlowDistribution.sample: n must be a positive integer, got ${n}`);
    return this.pushForward(randn([n, this.flow.dim], { random, dtype: this.mean.dtype }));
  }

  /**
   * sample() from base draws the caller gives: eps [n, D] of N(0, I) become z_0 = μ + σ·eps, then
   * z_K = f(z_0) with ln q_K(z_K). For common random numbers across models, or draws made elsewhere.
   */
  pushForward(eps: Tensor): { z0: Tensor; z: Tensor; logProb: Tensor } {
    if (!(eps instanceof Tensor) || eps.shape.length !== 2 || eps.shape[1] !== this.flow.dim || eps.shape[0]! < 1)
      throw new Error(
        `FlowDistribution.pushForward: eps must be a tensor of shape [n, ${this.flow.dim}] (n ≥ 1), got ${eps instanceof Tensor ? `[${eps.shape.join(", ")}]` : typeof eps}`,
      );
    if (eps.dtype !== this.mean.dtype)
      throw new Error(
        `FlowDistribution.pushForward: eps is ${eps.dtype}, the distribution ${this.mean.dtype}; convert it with astype()`,
      );
    const z0 = eps.mul(this.logStd.exp()).add(this.mean);
    const { z, logAbsDet } = this.flow.forward(z0);
    return { z0, z, logProb: normalLogProb(z0, this.mean, this.logStd).sub(logAbsDet) };
  }

  /**
   * ln q_K(x) at given points, through the inverse: z_0 = f⁻¹(x), then the forward log-det at z_0.
   * For evaluation: computed without a graph (the inverse is a root finder, not an autograd op).
   */
  logProb(x: Tensor): Tensor {
    return noGrad(() => {
      const z0 = this.flow.inverse(x);
      return normalLogProb(z0, this.mean, this.logStd).sub(this.flow.forward(z0).logAbsDet);
    });
  }
}
