import {
  concat,
  grad,
  Module,
  noGrad,
  type Random,
  softplus,
  sum,
  type Tensor,
  tensor,
  zeros,
} from "../autograd/index.js";
import { checkPoints, type Flow, type FlowOutput } from "./flow.js";

// The Hamiltonian flow of the paper's section 3.2, as in Hamiltonian VAEs (Caterini et al., 2018):
// on the augmented space x = (z, ρ), K leapfrog steps of H(z, ρ) = U(z) + ½‖ρ‖², each followed by a
// tempering ρ ← α_k ρ. A leapfrog step is three shears, so its Jacobian determinant is 1; the
// tempering scales D coordinates by α_k, so log|det| of the whole map is D Σ_k ln α_k, in closed
// form. The step sizes ε (one per coordinate) and the tempering are learned. The gradient of the
// free energy runs through ∇U inside every step: a second derivative of U.

export interface HamiltonianFlowOptions {
  /** Leapfrog steps (default 5). */
  K?: number;
  /** Initial step size, every coordinate (default 0.1). */
  stepSize?: number;
  /** Initial tempering factor α_k, every step (default 1: none). */
  tempering?: number;
  random?: Random | number;
}

/** softplus⁻¹(y) = ln(eʸ − 1), for setting a raw parameter whose softplus is y. */
function inverseSoftplus(y: number): number {
  return y > 30 ? y : Math.log(Math.expm1(y));
}

/**
 * The flow on points x = [z, ρ] of shape [N, 2D] (dim = 2D), for an energy U: [N, D] → [N]. Pair it
 * with a base N(0, I) on 2D coordinates (ρ₀ ~ N(0, I)) and the augmented energy U(z) + ½‖ρ‖²
 * (augmentedEnergy); the free energy then bounds KL(q(z) ‖ p(z)) from above.
 */
export class HamiltonianFlow extends Module implements Flow {
  readonly dim: number;
  readonly K: number;
  /** Raw step sizes [D]: ε = softplus(raw) > 0. */
  readonly stepRaw: Tensor;
  /** Raw tempering [K]: α_k = softplus(raw_k) > 0. */
  readonly temperingRaw: Tensor;
  private readonly gradU: (z: Tensor) => Tensor;

  constructor(
    readonly latentDim: number,
    readonly energy: (z: Tensor) => Tensor,
    options: HamiltonianFlowOptions = {},
  ) {
    super();
    if (!Number.isInteger(latentDim) || latentDim < 1)
      throw new Error(`HamiltonianFlow: the latent dimension must be a positive integer, got ${latentDim}`);
    this.dim = 2 * latentDim;
    this.K = options.K ?? 5;
    if (!Number.isInteger(this.K) || this.K < 1)
      throw new Error(`HamiltonianFlow: K (leapfrog steps) must be a positive integer, got ${this.K}`);
    const step = options.stepSize ?? 0.1,
      tempering = options.tempering ?? 1;
    if (!(step > 0) || !(tempering > 0))
      throw new Error(
        `HamiltonianFlow: the step size and the tempering must be positive, got ${step} and ${tempering}`,
      );
    this.stepRaw = this.addParameter("stepRaw", tensor(new Array<number>(latentDim).fill(inverseSoftplus(step))));
    this.temperingRaw = this.addParameter(
      "temperingRaw",
      tensor(new Array<number>(this.K).fill(inverseSoftplus(tempering))),
    );
    // ∇U of each point: U sums over points, so the gradient of the sum is each point's own. While a
    // graph is recorded (training), grad records its own pass, so the flow's gradient can go through it.
    this.gradU = (z) => grad((x) => sum(this.energy(x)))(z)[0]!;
  }

  /** The step sizes ε > 0 [D] and tempering factors α > 0 [K]. */
  stepSizes(): Tensor {
    return softplus(this.stepRaw);
  }
  temperings(): Tensor {
    return softplus(this.temperingRaw);
  }

  forward(x: Tensor): FlowOutput {
    checkPoints("HamiltonianFlow", x, this.dim);
    const n = x.shape[0]!,
      d = this.latentDim;
    let z = x.slice([0, 0], [n, d]),
      rho = x.slice([0, d], [n, 2 * d]);
    const eps = this.stepSizes(),
      alpha = this.temperings();
    for (let k = 0; k < this.K; k++) {
      [z, rho] = this.leapfrog(z, rho, eps);
      rho = rho.mul(alpha.slice([k], [k + 1])); // tempering: the only volume change
    }
    // log|det| = D Σ_k ln α_k, the same for every point.
    const logAbsDet = zeros([n], { dtype: x.dtype }).add(sum(alpha.log()).mul(d));
    return { z: concat([z, rho], 1), logAbsDet };
  }

  /** One leapfrog step: half a kick, a drift, half a kick (three shears, determinant 1). */
  private leapfrog(z: Tensor, rho: Tensor, eps: Tensor): [Tensor, Tensor] {
    const half = rho.sub(this.gradU(z).mul(eps).mul(0.5));
    const moved = z.add(half.mul(eps));
    return [moved, half.sub(this.gradU(moved).mul(eps).mul(0.5))];
  }

  /** The map run backwards, exactly: undo each tempering, then leapfrog with −ε (it is time-reversible). */
  inverse(y: Tensor): Tensor {
    checkPoints("HamiltonianFlow.inverse", y, this.dim);
    return noGrad(() => {
      const n = y.shape[0]!,
        d = this.latentDim;
      let z = y.slice([0, 0], [n, d]),
        rho = y.slice([0, d], [n, 2 * d]);
      const eps = this.stepSizes(),
        alpha = this.temperings();
      for (let k = this.K - 1; k >= 0; k--) {
        rho = rho.div(alpha.slice([k], [k + 1]));
        [z, rho] = this.leapfrog(z, rho, eps.neg());
      }
      return concat([z, rho], 1);
    });
  }
}

/** U(z) + ½‖ρ‖² on augmented points [N, 2D]: the energy whose normaliser is Z·(2π)^{D/2}. */
export function augmentedEnergy(energy: (z: Tensor) => Tensor, latentDim: number): (x: Tensor) => Tensor {
  return (x) => {
    const n = x.shape[0]!;
    const rho = x.slice([0, latentDim], [n, 2 * latentDim]);
    return energy(x.slice([0, 0], [n, latentDim])).add(sum(rho.square(), 1).mul(0.5));
  };
}
