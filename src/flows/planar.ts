import {
  type DType,
  Module,
  noGrad,
  type Random,
  randn,
  Storage,
  sum,
  Tensor,
  tensor,
  where,
} from "../autograd/index.js";
import { checkDType } from "../autograd/validate.js";
import { getBackend } from "../kernels/index.js";
import { checkLayerParams, checkPointShape, type Flow, FlowInputError, type FlowOutput, fusedOp } from "./flow.js";
import {
  type PointsArgs,
  planarBackwardKernel,
  planarConstraintBackwardKernel,
  planarConstraintKernel,
  planarForwardKernel,
  planarInverseKernel,
  planarSlackError,
  planarSlackResidual,
  SLACK_FLOOR,
  solveMonotone,
} from "./planar-kernels.js";

/** Raw (unconstrained) planar parameters: shared u, w of [D] and b of [] or [1], or per sample [N, D], [N, D], [N]. */
export interface PlanarParams {
  u: Tensor;
  w: Tensor;
  b: Tensor;
}

export type Implementation = "fused" | "composed";

/**
 * The paper's re-parameterisation (appendix A.1): û = u + [m(wᵀu) − wᵀu] w / ‖w‖² with
 * m(x) = −1 + softplus(x), so wᵀû = m(wᵀu) > −1 and the layer is invertible. Also returns the
 * slack 1 + wᵀû = softplus(wᵀu) > 0 computed directly, because 1 + wᵀû recomputed from û rounds to
 * 0 or below when wᵀu ≪ −1. The slack carries a floor of SLACK_FLOOR = 1e-8 (added, so gradients
 * stay smooth), because softplus itself underflows to 0 below wᵀu ≈ −745 and float64 cannot hold
 * a û whose 1 + wᵀû is much smaller than û's own rounding; it moves m by 1e-8. At w = 0 the layer
 * is a translation: no correction, and a slack of 1. Composed from autograd ops: the readable
 * reference for the fused kernel.
 */
export function constrainPlanarComposed(u: Tensor, w: Tensor): { uHat: Tensor; slack: Tensor } {
  const wu = sum(w.mul(u), -1),
    ww = sum(w.mul(w), -1);
  // At w = 0 the layer is a translation (determinant 1): its slack is 1, not softplus(0).
  const slack = where(ww.gt(0), wu.softplus().add(SLACK_FLOOR), 1);
  const safe = where(ww.gt(0), ww, 1);
  // û = (u − (wᵀu/‖w‖²) w) + ((slack − 1)/‖w‖²) w: the same û as u + c w, without its cancellation.
  const column = (t: Tensor) => (u.rank === 2 ? t.unsqueeze(1) : t);
  let uHat = u.sub(column(wu.div(safe)).mul(w)).add(column(slack.sub(1).div(safe)).mul(w));
  // Refined as the fused kernel refines it (on host float64 values): a constant nudge along w.
  if (u.dtype === "float64" && !uHat.storage.onDevice && !w.storage.onDevice) {
    const rows = u.rank === 2 ? u.shape[0]! : 1,
      d = u.shape[u.rank - 1]!;
    const residual = planarSlackResidual(
      uHat.data,
      w.data,
      slack.rank === 0 ? slack.reshape([1]).data : slack.data,
      rows,
      d,
    );
    const nudge = new Tensor(
      residual.map((r, i) => (ww.data[i]! > 0 ? r / ww.data[i]! : 0)),
      u.rank === 2 ? [rows, 1] : [1],
    );
    uHat = uHat.add(nudge.mul(w.detach()));
  }
  return { uHat, slack: slack.rank === 0 ? slack.reshape([1]) : slack };
}

/**
 * The same constraint as one fused op (planar-kernels.ts), with its hand-written backward. Second
 * derivatives: a createGraph pass differentiates constrainPlanarComposed instead (fusedOp).
 */
export function constrainPlanar(
  u: Tensor,
  w: Tensor,
  implementation: Implementation = "fused",
): { uHat: Tensor; slack: Tensor } {
  if (u.rank !== w.rank || u.shape.some((s, i) => s !== w.shape[i]) || u.rank < 1 || u.rank > 2) {
    throw new Error(
      `planar: parameters u [${u.shape.join(", ")}] and w [${w.shape.join(", ")}] must have one shape, [D] or [N, D]`,
    );
  }
  const d = u.shape[u.rank - 1]!,
    rows = u.rank === 2 ? u.shape[0]! : 1;
  if (implementation === "composed") return checkSlack(constrainPlanarComposed(u, w), u, w, rows, d);
  const [uHat, slack] = fusedOp(
    "planarConstraint",
    [u.shape, [rows]],
    u.dtype,
    [u, w],
    { forward: planarConstraintKernel, backward: planarConstraintBackwardKernel, args: { rows, d } },
    (u, w) => {
      const c = constrainPlanarComposed(u, w);
      return [c.uHat, c.slack];
    },
  );
  return checkSlack({ uHat, slack }, u, w, rows, d);
}

export { SLACK_FLOOR, solveMonotone };

/** How far 1 + wᵀû of the map applied may be from the slack its log-det uses: at most 0.01 nats of log-det. */
export const SLACK_TOLERANCE = 1e-2;

/**
 * Refuse parameters for which float64 cannot hold a û whose 1 + wᵀû is the slack the log-det is
 * computed with (|u| and |w| so large that û's rounding alone moves wᵀû by more than the slack, e.g.
 * ≈ 1e6 with the constraint active): the log-det would not describe the map. Checked on host float64
 * values; float32 and device values carry their own rounding (~1e-7 relative) and are not checked.
 */
function checkSlack(
  c: { uHat: Tensor; slack: Tensor },
  u: Tensor,
  w: Tensor,
  rows: number,
  d: number,
): { uHat: Tensor; slack: Tensor } {
  if (u.dtype !== "float64" || c.uHat.storage.onDevice || c.slack.storage.onDevice || w.storage.onDevice) return c;
  const errors = planarSlackError(c.uHat.data, w.data, c.slack.data, rows, d);
  for (let r = 0; r < rows; r++) {
    if (!(errors[r]! <= SLACK_TOLERANCE)) {
      const norm = (t: Tensor) => Math.hypot(...Array.from(t.data.subarray(r * d, r * d + d)));
      throw new FlowInputError(
        `planar: parameters${rows > 1 ? ` of row ${r}` : ""} too large for float64 (‖u‖ = ${norm(u).toExponential(2)}, ‖w‖ = ${norm(w).toExponential(2)}): the û that float64 can hold has 1 + wᵀû off by ${(100 * errors[r]!).toPrecision(3)} % from the ${c.slack.data[r]!.toExponential(3)} its log-det uses, so the log-det would not describe the map; rescale u and w, or lower the learning rate`,
        "parameters",
      );
    }
  }
  return c;
}

/** û alone (see constrainPlanar). */
export function constrainPlanarU(u: Tensor, w: Tensor): Tensor {
  return constrainPlanar(u, w).uHat;
}

function checkPlanarParams(z: Tensor, p: PlanarParams, layer: string): { n: number; d: number; perSample: boolean } {
  return checkLayerParams(layer, z, { u: p.u, w: p.w }, { b: p.b });
}

/**
 * One planar layer f(z) = z + û tanh(wᵀz + b) with log|det ∂f/∂z| = log|1 + ûᵀψ(z)|, ψ = tanh'(wᵀz + b) w,
 * evaluated as log(h² + (1 − h²)(1 + wᵀû)), h = tanh(wᵀz + b), which is the same number without cancellation.
 * "composed" builds it from autograd ops (the readable reference); "fused" (the default) runs one
 * kernel forward and the hand-written backward of planar-kernels.ts. Second derivatives of the
 * fused layer come from planarComposed: differentiated in a createGraph pass, or recorded in the
 * forward by hvp, hessian, jvp and nested grad (fusedOp).
 */
export function planar(
  z: Tensor,
  params: PlanarParams,
  implementation: Implementation = "fused",
  layer = "planar",
): FlowOutput {
  const { n, d, perSample } = checkPlanarParams(z, params, layer);
  const { uHat, slack } = constrainPlanar(params.u, params.w, implementation);
  return planarConstrained(z, uHat, params.w, params.b, slack, implementation, { n, d, perSample });
}

/** The planar layer from constrained parameters (û and the slack of constrainPlanar), checked by the caller. */
export function planarConstrained(
  z: Tensor,
  uHat: Tensor,
  w: Tensor,
  b: Tensor,
  slack: Tensor,
  implementation: Implementation,
  args: PointsArgs,
): FlowOutput {
  if (implementation === "composed") return planarComposed(z, uHat, w, b, slack);
  const [out, logAbsDet] = fusedOp(
    "planar",
    [z.shape, [args.n]],
    z.dtype,
    [z, uHat, w, b, slack],
    { forward: planarForwardKernel, backward: planarBackwardKernel, args },
    (...xs) => {
      const o = planarComposed(...(xs as [Tensor, Tensor, Tensor, Tensor, Tensor]));
      return [o.z, o.logAbsDet];
    },
  );
  return { z: out, logAbsDet };
}

/** The planar layer written with autograd ops, from the constrained parameters: the fused kernel's reference. */
function planarComposed(z: Tensor, uHat: Tensor, w: Tensor, b: Tensor, slack: Tensor): FlowOutput {
  const a = sum(z.mul(w), -1).add(b); // [N]
  const h = a.tanh(),
    h2 = h.square();
  const out = z.add(h.unsqueeze(1).mul(uHat));
  return { z: out, logAbsDet: h2.add(h2.neg().add(1).mul(slack)).log() };
}

/**
 * f⁻¹ for planar: with s = wᵀz, wᵀf(z) = s + wᵀû tanh(s + b), which is strictly increasing in s
 * because wᵀû > −1. Solve it for s by Newton's method kept inside a shrinking bracket (bisection
 * when a Newton step leaves it), then z = y − û tanh(s + b).
 */
export function planarInverse(y: Tensor, params: PlanarParams, layer = "planar.inverse"): Tensor {
  const { n, d, perSample } = checkPlanarParams(y, params, layer);
  const constrained = noGrad(() => constrainPlanar(params.u, params.w));
  const on = [y, constrained.uHat, params.w, params.b, constrained.slack].map((t) => t.storage.kernelInput);
  const [out] = getBackend().run(planarInverseKernel, on, { n, d, perSample }, y.dtype);
  return new Tensor(new Storage(out!, y.dtype), y.shape);
}

/** A planar flow layer with its own parameters (stored raw; the constraint is applied on use). */
export class PlanarFlow extends Module implements Flow {
  readonly u: Tensor;
  readonly w: Tensor;
  readonly b: Tensor;
  implementation: Implementation;
  constructor(
    readonly dim: number,
    options: {
      u?: ArrayLike<number>;
      w?: ArrayLike<number>;
      b?: number;
      random?: Random | number;
      implementation?: Implementation;
      /** The parameters' dtype (float64 by default); the points it maps must have the same. */
      dtype?: DType;
    } = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim < 1)
      throw new Error(`PlanarFlow: dimension must be a positive integer, got ${dim}`);
    const dtype = checkDType("PlanarFlow", options.dtype) ?? "float64";
    const init = (name: "u" | "w", given?: ArrayLike<number>): Tensor => {
      // N(0, 0.1²), scaled on the host: parameters start on the host whatever the backend.
      if (given === undefined)
        return tensor(
          Array.from(randn([dim], { random: options.random }).data, (v) => 0.1 * v),
          { dtype },
        );
      if (given.length !== dim)
        throw new Error(`PlanarFlow: initial ${name} has ${given.length} values, the layer has dimension ${dim}`);
      return tensor(Array.from(given), { dtype });
    };
    this.u = this.addParameter("u", init("u", options.u));
    this.w = this.addParameter("w", init("w", options.w));
    this.b = this.addParameter("b", tensor([options.b ?? 0], { dtype }));
    this.implementation = options.implementation ?? "fused";
  }
  /** û, the constrained u actually used (wᵀû > −1). */
  uHat(): Tensor {
    return constrainPlanarU(this.u, this.w);
  }
  forward(z: Tensor): FlowOutput {
    checkPointShape("PlanarFlow", z, this.dim);
    return planar(z, { u: this.u, w: this.w, b: this.b }, this.implementation, "PlanarFlow");
  }
  inverse(x: Tensor): Tensor {
    checkPointShape("PlanarFlow.inverse", x, this.dim);
    return planarInverse(x, { u: this.u, w: this.w, b: this.b }, "PlanarFlow.inverse");
  }
}
