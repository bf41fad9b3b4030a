import { type DType, Module, noGrad, type Random, randn, Storage, sum, Tensor, tensor } from "../autograd/index.js";
import { checkDType } from "../autograd/validate.js";
import { getBackend } from "../kernels/index.js";
import { checkLayerParams, checkPointShape, type Flow, type FlowOutput, fusedOp } from "./flow.js";
import type { Implementation } from "./planar.js";
import { radialBackwardKernel, radialForwardKernel, radialInverseKernel } from "./radial-kernels.js";

/** Raw radial parameters: z0 of [D] with α̃, β̃ of [1] (shared), or z0 [N, D] with α̃, β̃ [N] (per sample). */
export interface RadialParams {
  z0: Tensor;
  alpha: Tensor;
  beta: Tensor;
}

/**
 * α = softplus(α̃) > 0 and β = −α + softplus(β̃) > −α (appendix A.2): the layer stays invertible.
 * Also returns α + β = softplus(β̃) > 0 computed directly, which the log-det uses to avoid cancellation.
 * Both carry a floor of RADIAL_FLOOR (added, like the planar slack's): softplus underflows to 0
 * below about −745, and α = 0 makes h = 1/(α + r) infinite at z = z0 (NaN points and log-det there).
 */
export function constrainRadial(
  alphaRaw: Tensor,
  betaRaw: Tensor,
): { alpha: Tensor; beta: Tensor; alphaPlusBeta: Tensor } {
  const alpha = alphaRaw.softplus().add(RADIAL_FLOOR),
    alphaPlusBeta = betaRaw.softplus().add(RADIAL_FLOOR);
  return { alpha, beta: alphaPlusBeta.sub(alpha), alphaPlusBeta };
}

/** Added to α and α + β so they stay positive where softplus underflows; moves them by 1e-12. */
export const RADIAL_FLOOR = 1e-12;

function checkRadialParams(z: Tensor, p: RadialParams, layer: string): { n: number; d: number; perSample: boolean } {
  return checkLayerParams(layer, z, { z0: p.z0 }, { alpha: p.alpha, beta: p.beta });
}

/**
 * One radial layer f(z) = z + β h(α, r)(z − z0), h = 1/(α + r), r = ‖z − z0‖, with
 * log|det| = (D − 1) log(1 + βh) + log(1 + βh + βh'r). With s = α + β these factors are
 * 1 + βh = h(r + s) and 1 + αβh² = h²(r² + 2αr + αs), so it is evaluated as
 * (D − 1) log(r + s) + log(r² + 2αr + αs) − (D + 1) log(α + r): every term positive, no cancellation.
 * Second derivatives of the fused layer come from radialComposed, as for planar (fusedOp).
 */
export function radial(
  z: Tensor,
  params: RadialParams,
  implementation: Implementation = "fused",
  layer = "radial",
): FlowOutput {
  const { n, d, perSample } = checkRadialParams(z, params, layer);
  const { alpha, beta, alphaPlusBeta } = constrainRadial(params.alpha, params.beta);
  const z0 = params.z0;
  if (implementation === "composed") return radialComposed(z, z0, alpha, alphaPlusBeta, beta);
  const [out, logAbsDet] = fusedOp(
    "radial",
    [z.shape, [n]],
    z.dtype,
    [z, z0, alpha, alphaPlusBeta],
    { forward: radialForwardKernel, backward: radialBackwardKernel, args: { n, d, perSample } },
    (...xs) => {
      const [zs, z0s, al, ab] = xs as [Tensor, Tensor, Tensor, Tensor];
      const o = radialComposed(zs, z0s, al, ab, ab.sub(al));
      return [o.z, o.logAbsDet];
    },
  );
  return { z: out, logAbsDet };
}

/** The radial layer written with autograd ops, from α, s = α + β and β: the fused kernel's reference. */
function radialComposed(z: Tensor, z0: Tensor, alpha: Tensor, alphaPlusBeta: Tensor, beta: Tensor): FlowOutput {
  const d = z.shape[1]!;
  const diff = z.sub(z0);
  const r = sum(diff.square(), -1).sqrt(); // [N]
  const out = z.add(beta.div(r.add(alpha)).unsqueeze(1).mul(diff));
  const p = r.square().add(alpha.mul(r).mul(2)).add(alpha.mul(alphaPlusBeta));
  return {
    z: out,
    logAbsDet: r
      .add(alphaPlusBeta)
      .log()
      .mul(d - 1)
      .add(p.log())
      .sub(
        r
          .add(alpha)
          .log()
          .mul(d + 1),
      ),
  };
}

/** f⁻¹ for radial, in closed form along the ray from z0 (radialInverseKernel). */
export function radialInverse(y: Tensor, params: RadialParams, layer = "radial.inverse"): Tensor {
  const { n, d, perSample } = checkRadialParams(y, params, layer);
  const { alpha, alphaPlusBeta } = noGrad(() => constrainRadial(params.alpha, params.beta));
  const on = [y, params.z0, alpha, alphaPlusBeta].map((t) => t.storage.kernelInput);
  const [out] = getBackend().run(radialInverseKernel, on, { n, d, perSample }, y.dtype);
  return new Tensor(new Storage(out!, y.dtype), y.shape);
}

/** A radial flow layer with its own parameters (raw α̃, β̃; constrained on use). */
export class RadialFlow extends Module implements Flow {
  readonly z0: Tensor;
  readonly alpha: Tensor;
  readonly beta: Tensor;
  implementation: Implementation;
  constructor(
    readonly dim: number,
    options: {
      z0?: ArrayLike<number>;
      alpha?: number;
      beta?: number;
      random?: Random | number;
      implementation?: Implementation;
      /** The parameters' dtype (float64 by default); the points it maps must have the same. */
      dtype?: DType;
    } = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim < 1)
      throw new Error(`RadialFlow: dimension must be a positive integer, got ${dim}`);
    const dtype = checkDType("RadialFlow", options.dtype) ?? "float64";
    if (options.z0 !== undefined && options.z0.length !== dim)
      throw new Error(`RadialFlow: initial z0 has ${options.z0.length} values, the layer has dimension ${dim}`);
    this.z0 = this.addParameter(
      "z0",
      options.z0 ? tensor(Array.from(options.z0), { dtype }) : randn([dim], { random: options.random, dtype }),
    );
    this.alpha = this.addParameter("alpha", tensor([options.alpha ?? 0], { dtype }));
    this.beta = this.addParameter("beta", tensor([options.beta ?? 0], { dtype }));
    this.implementation = options.implementation ?? "fused";
  }
  forward(z: Tensor): FlowOutput {
    checkPointShape("RadialFlow", z, this.dim);
    return radial(z, { z0: this.z0, alpha: this.alpha, beta: this.beta }, this.implementation, "RadialFlow");
  }
  inverse(x: Tensor): Tensor {
    checkPointShape("RadialFlow.inverse", x, this.dim);
    return radialInverse(x, { z0: this.z0, alpha: this.alpha, beta: this.beta }, "RadialFlow.inverse");
  }
}
