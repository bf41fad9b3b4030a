// Posteriors fitted per digit for a fixed generative model (no encoder): each digit gets its own
// q₀ = N(μ, σ²) and, with K > 0, its own K planar layers, fitted by Adam on that digit's bound.
// With the amortised encoder out of the picture, the bound measures what the posterior family can
// do — the paper's claim "for the same generative model" — and its distance from the encoder's
// bound is the amortisation gap (Cremer, Li & Duvenaud, "Inference Suboptimality in VAEs", 2018).

import { Adam, logsumexp, noGrad, Random, Tensor, tidy } from "../autograd/index.js";
import { FlowVAE, repeatRows } from "./vae.js";

export interface LocalPosteriorOptions {
  /** Planar layers per digit (0: the diagonal Gaussian alone). */
  K: number;
  /** Adam updates; the last third at a tenth of lr, so the bound settles. */
  steps: number;
  /** Draws per digit per update. */
  samples?: number;
  lr?: number;
  seed?: number;
  /** Draws per digit for the final bound (its noise falls as 1/√evalSamples). */
  evalSamples?: number;
  onStep?: (step: number, steps: number, loss: number) => void;
}

export interface LocalPosteriorFit {
  /** Each digit's −ELBO under its fitted posterior, from evalSamples draws. */
  negativeElbo: Float64Array;
  /** Each digit's −ln p(x) by importance sampling from its fitted posterior, from the same draws. */
  negLogLikelihood: Float64Array;
  /** Each digit's −ELBO under the encoder's q₀ (where the fit starts), from as many draws. */
  encoderNegativeElbo: Float64Array;
  /** The mean free energy of every update. */
  losses: number[];
}

/** Draws per digit per evaluation pass. */
const EVAL_CHUNK = 50;

/**
 * Fit a posterior per row of `images` ([n, inputs] in {0, 1}) for `model`'s decoder, which stays
 * fixed: q₀ starts at the encoder's μ and log σ for that digit, the planar layers at the identity
 * (so every K starts at the bound of the encoder's diagonal q₀; a model with its own flow is fitted without it).
 */
export function fitLocalPosteriors(
  model: FlowVAE,
  images: Float64Array,
  options: LocalPosteriorOptions,
): LocalPosteriorFit {
  const { K, steps, samples = 8, lr = 1e-2, seed = 0, evalSamples = 500, onStep } = options;
  const c = model.config,
    P = c.inputs;
  if (c.stochasticLayers !== 1) throw new Error("fitLocalPosteriors: models with one stochastic layer only");
  if (!Number.isInteger(K) || K < 0) throw new Error(`fitLocalPosteriors: K must be a whole number ≥ 0, got ${K}`);
  for (const [key, v] of [
    ["steps", steps],
    ["samples", samples],
    ["evalSamples", evalSamples],
  ] as const)
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`fitLocalPosteriors: ${key} must be a positive integer, got ${v}`);
  if (images.length === 0 || images.length % P !== 0)
    throw new Error(`fitLocalPosteriors: ${images.length} values are not whole images of ${P} pixels`);
  const n = images.length / P;
  const x = new Tensor(Float64Array.from(images), [n, P]);
  // Per-digit planar parameters, laid out as a planar model's flow head outputs (FlowVAE.drawFrom).
  const planar = new FlowVAE({ ...c, K, flow: "planar", flowHead: "readout", flowInit: "identity" });
  planar.startFrom(model);
  // Leaves of their own, starting at the encoder's values for each digit.
  const { mean, logStd } = noGrad(() => {
    const q0 = model.posterior(x);
    return { mean: q0.mean.detach().requireGrad(), logStd: q0.logStd.detach().requireGrad() };
  });
  const identity = planar.identityFlowParams();
  const flow =
    K > 0
      ? new Tensor(
          Float64Array.from({ length: n * identity.length }, (_, i) => identity[i % identity.length]!),
          [n, identity.length],
        ).requireGrad()
      : undefined;
  const params = flow ? [mean, logStd, flow] : [mean, logStd];
  // The decoder is fixed: no gradient for its weights, only through it to z.
  const decoder = planar.generativeParameters();
  for (const p of decoder) p.requireGrad(false);
  const random = new Random(seed);
  /** ln q − ln p(x, z) for `draws` draws per digit, [n, draws] (a graph unless under noGrad). */
  const freeEnergies = (draws: number) => {
    const idx = repeatRows(n, draws);
    const { logQ, logJoint } = planar.drawFrom(
      x.indexSelect(0, idx),
      { mean: mean.indexSelect(0, idx), logStd: logStd.indexSelect(0, idx), flowParams: flow?.indexSelect(0, idx) },
      random,
    );
    return logQ.sub(logJoint).reshape([n, draws]);
  };
  // In chunks of draws (all at once would hold n·evalSamples rows of the decoder), gathered per
  // digit; then the mean free energy, and −ln p(x) = −ln mean exp(−free energy).
  const evaluate = () => {
    const all = new Float64Array(n * evalSamples);
    for (let done = 0; done < evalSamples; done += EVAL_CHUNK) {
      const draws = Math.min(EVAL_CHUNK, evalSamples - done);
      const f = tidy(() => noGrad(() => Float64Array.from(freeEnergies(draws).toHost().data)));
      for (let r = 0; r < n; r++) all.set(f.subarray(r * draws, (r + 1) * draws), r * evalSamples + done);
    }
    return tidy(() => {
      const free = new Tensor(all, [n, evalSamples]);
      const nll = logsumexp(free.neg(), 1).sub(Math.log(evalSamples)).neg();
      return { elbo: Float64Array.from(free.mean(1).toHost().data), nll: Float64Array.from(nll.toHost().data) };
    });
  };
  const encoderNegativeElbo = evaluate().elbo; // the flow is the identity until the first update
  const opt = new Adam(params, { lr });
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    if (step === Math.ceil((2 * steps) / 3)) opt.lr = lr / 10;
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = freeEnergies(samples).mean();
      l.backward();
      return l.item();
    });
    opt.step();
    if (!Number.isFinite(loss))
      throw new Error(`fitLocalPosteriors: the free energy became ${loss} at update ${step}; lower lr`);
    losses.push(loss);
    onStep?.(step + 1, steps, loss);
  }
  const fitted = evaluate();
  return { negativeElbo: fitted.elbo, negLogLikelihood: fitted.nll, encoderNegativeElbo, losses };
}
