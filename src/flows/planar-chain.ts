import { type DType, Module, noGrad, type Random, randn, split, type Tensor, tensor } from "../autograd/index.js";
import { checkDType } from "../autograd/validate.js";
import { getBackend } from "../kernels/index.js";
import { checkFiniteParameter, checkPointShape, checkPoints, type Flow, type FlowOutput, fusedOp } from "./flow.js";
import { constrainPlanar, type Implementation, planarConstrained, planarInverse } from "./planar.js";
import { type ChainArgs, planarChainBackwardKernel, planarChainForwardKernel } from "./planar-chain-kernels.js";

/**
 * K planar layers f_K ∘ … ∘ f_1 with their parameters stacked as rows (u, w: [K, D], b: [K]): the
 * same flow as a Sequential of K PlanarFlows (the same parameters from the same seed, the same
 * gradients bit for bit), run as one op. On the CPU, "fused" is one kernel forward and one
 * backward for the whole chain (planar-chain-kernels.ts), one constraint op for all K rows, and
 * three parameters for the optimizer instead of 3K: the per-layer graph work is what separated the
 * paper's K = 32 step from a hand-written loop. On a device backend each layer runs its own fused
 * op (their gpu.js programs); "composed" builds every layer from autograd ops.
 */
export class PlanarChain extends Module implements Flow {
  readonly u: Tensor;
  readonly w: Tensor;
  readonly b: Tensor;
  implementation: Implementation;
  constructor(
    readonly dim: number,
    readonly K: number,
    options: {
      /** Row-major [K, D] initial values (u, w) and K biases; random N(0, 0.1²) u and w otherwise. */
      u?: ArrayLike<number>;
      w?: ArrayLike<number>;
      b?: ArrayLike<number>;
      random?: Random | number;
      implementation?: Implementation;
      dtype?: DType;
    } = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim < 1)
      throw new Error(`PlanarChain: dimension must be a positive integer, got ${dim}`);
    if (!Number.isInteger(K) || K < 1) throw new Error(`PlanarChain: K must be a positive integer, got ${K}`);
    const dtype = checkDType("PlanarChain", options.dtype) ?? "float64";
    const given = (name: string, values: ArrayLike<number> | undefined, size: number): number[] | null => {
      if (values === undefined) return null;
      if (values.length !== size)
        throw new Error(
          `PlanarChain: initial ${name} has ${values.length} values, expected ${size} (K = ${K}, D = ${dim})`,
        );
      return Array.from(values);
    };
    let u = given("u", options.u, K * dim),
      w = given("w", options.w, K * dim);
    if (!u || !w) {
      // Drawn layer by layer, u then w, as K PlanarFlows made one after another draw them.
      const ru: number[] = [],
        rw: number[] = [];
      for (let k = 0; k < K; k++) {
        ru.push(...Array.from(randn([dim], { random: options.random }).data, (v) => 0.1 * v));
        rw.push(...Array.from(randn([dim], { random: options.random }).data, (v) => 0.1 * v));
      }
      u ??= ru;
      w ??= rw;
    }
    const rows = (values: number[]) =>
      tensor(
        Array.from({ length: K }, (_, k) => values.slice(k * dim, (k + 1) * dim)),
        { dtype },
      );
    this.u = this.addParameter("u", rows(u));
    this.w = this.addParameter("w", rows(w));
    this.b = this.addParameter("b", tensor(given("b", options.b, K) ?? new Array<number>(K).fill(0), { dtype }));
    this.implementation = options.implementation ?? "fused";
  }

  forward(z: Tensor): FlowOutput {
    checkPointShape("PlanarChain", z, this.dim);
    return planarChain(z, { u: this.u, w: this.w, b: this.b }, this.implementation, "PlanarChain");
  }

  inverse(x: Tensor): Tensor {
    checkPointShape("PlanarChain.inverse", x, this.dim);
    const [us, ws, bs] = noGrad(() => [this.u, this.w, this.b].map((t) => rowsOf(t, this.K, false)));
    for (let k = this.K - 1; k >= 0; k--)
      x = planarInverse(x, { u: us![k]!, w: ws![k]!, b: bs![k]! }, "PlanarChain.inverse");
    return x;
  }
}

/** Layer k's parameters for each k: rows of [K, D] or [K] (as [D], [1]), or per sample, [N, K, D] or [N, K] (as [N, D], [N]). */
function rowsOf(t: Tensor, K: number, perSample: boolean): Tensor[] {
  const axis = perSample ? 1 : 0;
  return split(t, new Array<number>(K).fill(1), axis).map((r) => {
    if (perSample) return r.reshape(t.rank === 3 ? [t.shape[0]!, t.shape[2]!] : [t.shape[0]!]);
    return t.rank === 2 ? r.reshape([t.shape[1]!]) : r;
  });
}

/**
 * Raw parameters of K planar layers: shared, u and w of [K, D] and b of [K]; or per sample (an
 * inference network's, one set per point), u and w of [N, K, D] and b of [N, K].
 */
export interface PlanarChainParams {
  u: Tensor;
  w: Tensor;
  b: Tensor;
}

/**
 * K planar layers applied in turn: z_K and Σ_k log|det|. Parameters are constrained once for all
 * K (or N·K) sets (constrainPlanar); then, on the CPU, one fused op each way.
 */
export function planarChain(
  z: Tensor,
  params: PlanarChainParams,
  implementation: Implementation = "fused",
  layer = "planarChain",
): FlowOutput {
  const { u, w, b } = params;
  if (z.rank !== 2) throw new Error(`${layer}: expected points of shape [N, D], got [${z.shape.join(", ")}]`);
  const [n, d] = z.shape as [number, number];
  const perSample = u.rank === 3;
  const K = (perSample ? u.shape[1] : u.shape[0]) ?? 0;
  const sets = perSample ? [n, K] : [K];
  const fits = (t: Tensor, shape: readonly number[]) =>
    t.rank === shape.length && t.shape.every((s, i) => s === shape[i]);
  for (const [key, t, shape] of [
    ["u", u, [...sets, d]],
    ["w", w, [...sets, d]],
    ["b", b, sets],
  ] as const) {
    if (!fits(t, shape) || K < 1)
      throw new Error(
        `${layer}: parameter ${key} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}] with K ≥ 1 layers for points [${n}, ${d}] (${perSample ? "per-sample" : "shared"} parameters)`,
      );
    if (t.dtype !== z.dtype) throw new Error(`${layer}: parameter ${key} is ${t.dtype}, points are ${z.dtype}`);
    checkFiniteParameter(layer, key, t);
  }
  checkPoints(layer, z, d);
  const flat = (t: Tensor) => (perSample ? t.reshape([n * K, d]) : t);
  const constrained = constrainPlanar(flat(u), flat(w), implementation);
  const uHat = constrained.uHat.reshape(u.shape),
    slack = constrained.slack.reshape(sets);
  if (implementation === "composed" || getBackend().keepsOnDevice)
    return layerByLayer(z, uHat, w, b, slack, K, perSample, implementation);
  const args: ChainArgs = { n, d, K, perSample };
  const [out, logAbsDet] = fusedOp(
    "planarChain",
    [z.shape, [n]],
    z.dtype,
    [z, uHat, w, b, slack],
    { forward: planarChainForwardKernel, backward: planarChainBackwardKernel, args },
    (z, uHat, w, b, slack) => {
      const o = layerByLayer(z!, uHat!, w!, b!, slack!, K, perSample, "composed");
      return [o.z, o.logAbsDet];
    },
  );
  // One kernel for all K layers, so no layer sees the next one's input: check the output instead.
  if (!out.storage.onDevice) {
    const data = out.data;
    for (let i = 0; i < data.length; i++) {
      if (data[i]! - data[i]! !== 0)
        throw new Error(
          `${layer}: the ${K} planar layers turned finite points into non-finite ones (${data[i]} at point ${Math.floor(i / d)}); the flow overflowed — fewer layers, a smaller learning rate, or smaller parameters`,
        );
    }
  }
  return { z: out, logAbsDet };
}

/** The chain as K single-layer ops (fused: their own kernels; composed: autograd ops): the chain kernels' reference. */
function layerByLayer(
  z: Tensor,
  uHat: Tensor,
  w: Tensor,
  b: Tensor,
  slack: Tensor,
  K: number,
  perSample: boolean,
  implementation: Implementation,
): FlowOutput {
  const [us, ws, bs, ss] = [uHat, w, b, slack].map((t) => rowsOf(t, K, perSample)) as Tensor[][];
  const n = z.shape[0]!,
    d = z.shape[1]!;
  let logAbsDet: Tensor | null = null;
  for (let k = 0; k < K; k++) {
    const o = planarConstrained(z, us![k]!, ws![k]!, bs![k]!, ss![k]!, implementation, { n, d, perSample });
    z = o.z;
    logAbsDet = logAbsDet ? logAbsDet.add(o.logAbsDet) : o.logAbsDet;
  }
  return { z, logAbsDet: logAbsDet! };
}
