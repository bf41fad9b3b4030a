// What each planar layer of a trained amortised posterior does to its draws: how far it moves
// them, how much volume it adds or removes (its log-det), and whether its tanh is saturated —
// where a planar layer f(z) = z + û tanh(wᵀz + b) is no longer a bend but a translation by ±û.
// And the bound with only some of the layers: which of them do the flow's work. For reading a
// trained FlowVAE's flow layer by layer (`flowgrad layers`).

import { noGrad, Random, randn, split, sum, type Tensor, tensor } from "../autograd/index.js";
import { constrainPlanar, planar } from "../flows/index.js";
import { meanAndError } from "./statistics.js";
import { type FlowVAE, repeatRows } from "./vae.js";

const average = (v: ArrayLike<number>) => meanAndError(v).mean;

/** |wᵀz + b| above this puts tanh′ below 0.071: the layer moves that draw by almost exactly ±û. */
export const SATURATED = 2;
/** A layer counts as a translation, not a bend, when this share of its draws or more is saturated. */
export const TRANSLATES = 0.9;

export interface PlanarLayerStats {
  /** Mean log|det ∂f/∂z| over the draws: > 0 spreads q's mass out, < 0 gathers it in. */
  logDet: number;
  /** Mean ‖f(z) − z‖ over the draws. */
  step: number;
  /** The fraction of draws with |wᵀz + b| > SATURATED (the layer translates them). */
  saturated: number;
  /** The fraction of digits whose draws fall on both sides of the layer's hyperplane wᵀz + b = 0. */
  bothSides: number;
  /** Mean ‖û‖ over the digits (û: u constrained so that the layer is invertible). */
  uHatNorm: number;
  /** Mean wᵀû over the digits, in (−1, ∞): the slope along w is 1 + wᵀû tanh′, so < 0 contracts and > 0 expands. */
  wDotUHat: number;
  /** Mean ‖w‖ over the digits: the steepness of the tanh across the hyperplane. */
  wNorm: number;
  /** Root-mean-square distance of a digit's û from the digits' mean û: how much the encoder varies the layer. */
  uHatSpread: number;
}

export interface PlanarLayerReport {
  layers: PlanarLayerStats[];
  /** Mean log|det| of the whole flow over the draws (the sum of the layers' logDet). */
  logDet: number;
  /** Each draw's z₀ [digits·draws, D] (draws grouped by digit) and the flow's log|det| for it. */
  z0: Float64Array;
  drawLogDet: Float64Array;
}

/**
 * Run `draws` draws per row of `images` ([n, inputs] in {0, 1}) from the encoder's q₀ through the
 * model's planar layers one at a time, and summarise each layer.
 */
export function planarLayerStats(
  model: FlowVAE,
  images: Float64Array,
  options: { draws?: number; seed?: number } = {},
): PlanarLayerReport {
  const { draws = 8, seed = 0 } = options;
  const { n, rows } = checkInputs("planarLayerStats", model, images, draws);
  const c = model.config,
    d = c.latent,
    K = c.K;
  return noGrad(() => {
    const x = tensor(images, { shape: [n, c.inputs] }).indexSelect(0, repeatRows(n, draws));
    const { mean, logStd, flowParams } = model.posterior(x);
    let z = randn([rows, d], { random: new Random(seed) })
      .mul(logStd.exp())
      .add(mean);
    const z0 = Float64Array.from(z.toHost().data);
    // The head's columns per layer: [u (D), w (D), b], as FlowVAE.drawFrom reads them.
    const [us, ws, bs] = split(flowParams!.reshape([rows, K, 2 * d + 1]), [d, d, 1], 2) as [Tensor, Tensor, Tensor];
    const drawLogDet = new Float64Array(rows);
    const layers: PlanarLayerStats[] = [];
    for (let k = 0; k < K; k++) {
      const at = (t: Tensor, width: number) => t.slice([0, k, 0], [rows, k + 1, width]).reshape([rows, width]);
      const u = at(us, d),
        w = at(ws, d),
        b = at(bs, 1).reshape([rows]);
      const { uHat, slack } = constrainPlanar(u, w);
      const a = sum(w.mul(z), 1).add(b).toHost().data;
      const out = planar(z, { u, w, b });
      const moved = sum(out.z.sub(z).square(), 1).sqrt().toHost().data;
      const logDet = out.logAbsDet.toHost().data;
      z = out.z;
      for (let r = 0; r < rows; r++) drawLogDet[r] += logDet[r]!;
      layers.push(summarise(n, draws, d, a, moved, logDet, uHat.toHost().data, w.toHost().data, slack.toHost().data));
    }
    return { layers, logDet: average(drawLogDet), z0, drawLogDet };
  });
}

/**
 * The bound −ELBO (mean over the rows of `images` and `draws` draws each) with only the planar
 * layers `keep` picks, the others set to the identity (the head outputs FlowVAE starts them at):
 * how much of the flow's work those layers do on their own. With none kept it is q₀'s bound — in
 * the flow's coordinates, so no measure of the encoder alone.
 */
export function boundWithLayers(
  model: FlowVAE,
  images: Float64Array,
  keep: (layer: number) => boolean,
  options: { draws?: number; seed?: number } = {},
): number {
  const { draws = 8, seed = 0 } = options;
  const { n, rows } = checkInputs("boundWithLayers", model, images, draws);
  const c = model.config,
    per = 2 * c.latent + 1;
  return noGrad(() => {
    const x = tensor(images, { shape: [n, c.inputs] }).indexSelect(0, repeatRows(n, draws));
    const q = model.posterior(x);
    const params = Float64Array.from(q.flowParams!.toHost().data);
    const identity = model.identityFlowParams();
    for (let k = 0; k < c.K; k++)
      if (!keep(k))
        for (let r = 0; r < rows; r++) params.set(identity.subarray(k * per, (k + 1) * per), (r * c.K + k) * per);
    const flowParams = tensor(params, { shape: [rows, c.K * per] });
    const { logQ, logJoint } = model.drawFrom(x, { ...q, flowParams }, new Random(seed));
    return logQ.sub(logJoint).mean().item();
  });
}

/** A planar model with one stochastic layer, [n, inputs] images and a whole number of draws: n and n·draws. */
function checkInputs(name: string, model: FlowVAE, images: Float64Array, draws: number): { n: number; rows: number } {
  const c = model.config;
  if (c.flow !== "planar" || c.K < 1)
    throw new Error(`${name}: the model has no planar flow (flow ${c.flow}, K = ${c.K})`);
  if (c.stochasticLayers !== 1) throw new Error(`${name}: models with one stochastic layer only`);
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`${name}: draws must be a positive integer, got ${draws}`);
  if (images.length === 0 || images.length % c.inputs !== 0)
    throw new Error(`${name}: images must be [n, ${c.inputs}] row-major, got ${images.length} values`);
  const n = images.length / c.inputs;
  return { n, rows: n * draws };
}

/** One layer's statistics from its per-draw values (rows grouped by digit, `draws` each). */
function summarise(
  n: number,
  draws: number,
  d: number,
  a: ArrayLike<number>,
  moved: ArrayLike<number>,
  logDet: ArrayLike<number>,
  uHat: ArrayLike<number>,
  w: ArrayLike<number>,
  slack: ArrayLike<number>,
): PlanarLayerStats {
  let saturated = 0,
    bothSides = 0,
    uHatNorm = 0,
    wDotUHat = 0,
    wNorm = 0;
  const centre = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const first = i * draws; // û and w depend on the digit alone: read them from its first draw
    let above = 0;
    for (let s = 0; s < draws; s++) {
      if (Math.abs(a[first + s]!) > SATURATED) saturated++;
      if (a[first + s]! > 0) above++;
    }
    if (above > 0 && above < draws) bothSides++;
    let uu = 0,
      ww = 0;
    for (let j = 0; j < d; j++) {
      const v = uHat[first * d + j]!;
      uu += v * v;
      ww += w[first * d + j]! ** 2;
      centre[j]! += v / n;
    }
    uHatNorm += Math.sqrt(uu) / n;
    wNorm += Math.sqrt(ww) / n;
    wDotUHat += (slack[first]! - 1) / n; // wᵀû = slack − 1 (constrainPlanar's slack is 1 + wᵀû)
  }
  let spread = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) spread += (uHat[i * draws * d + j]! - centre[j]!) ** 2 / n;
  return {
    logDet: average(logDet),
    step: average(moved),
    saturated: saturated / (n * draws),
    bothSides: bothSides / n,
    uHatNorm,
    wDotUHat,
    wNorm,
    uHatSpread: Math.sqrt(spread),
  };
}
