import {
  Adam,
  Linear,
  logsumexp,
  MLP,
  Module,
  noGrad,
  type Optimizer,
  type OptimizerState,
  Random,
  RMSprop,
  randn,
  split,
  sum,
  Tensor,
  tidy,
} from "../autograd/index.js";
import { NICE, normalLogProb, planarChain, radial, SLACK_FLOOR } from "../flows/index.js";
import { annealedBeta, annealedEpoch } from "./anneal.js";
import { sampleBinary } from "./binarize.js";
import type { FlowKind } from "./fit2d.js";
import { type Loop, runLoop, runLoopAsync } from "./loop.js";

// Deep latent Gaussian models with flow posteriors (section 6.2): an encoder gives μ, log σ and
// the parameters of K flow layers per data point (amortised, Algorithm 1); a decoder gives
// Bernoulli logits. One stochastic layer is the VAE; two is a DLGM with L = 2.
// NICE posteriors are not amortised: their K coupling networks (and the final scaling) are shared
// by every digit, as in NICE itself, and act on z₀ = μ(x) + σ(x)·ε, whose μ and σ are amortised.

export interface VAEConfig {
  /** Pixels per example (784 for MNIST). */
  inputs: number;
  /** Dimension of z (z₁ for two layers); 40 in the paper. */
  latent: number;
  /** Dimension of z₂ when stochasticLayers = 2. */
  latent2: number;
  hidden: number;
  /** Flow layers in q(z|x) (NICE: coupling layers); 0 is the diagonal-Gaussian DLGM. */
  K: number;
  flow: FlowKind;
  /** NICE only: hidden layer sizes of each coupling network (one layer of 50 units by default). */
  niceHidden: readonly number[];
  stochasticLayers: 1 | 2;
  seed: number;
  /**
   * "identity": every flow layer starts as the identity map for every input (its head outputs
   * start constant, at parameters where the layer does nothing), so each K starts from the same
   * q(z|x) family as K = 0; "random": from the small random head like μ and log σ.
   */
  flowInit: "identity" | "random";
  /**
   * "readout": the flow parameters are a linear read-out of the encoder's features, and their
   * gradient does not flow back into the shared encoder layers (so the K·(2D+1) flow outputs do not
   * compete with μ and log σ for its units); "shared": it does, like μ and log σ; "global": not
   * amortised at all — one set of flow parameters for every digit (the head's bias; its weights
   * stay zero and get no gradient), shared across digits as NICE's couplings are.
   */
  flowHead: "readout" | "shared" | "global";
}

export const DEFAULT_VAE: VAEConfig = {
  inputs: 784,
  latent: 40,
  latent2: 20,
  hidden: 200,
  K: 10,
  flow: "planar",
  niceHidden: [50],
  stochasticLayers: 1,
  seed: 0,
  flowInit: "identity",
  flowHead: "readout",
};

const LOG_2PI = Math.log(2 * Math.PI);

/** ln N(z; 0, I) per row. */
function standardNormalLogProb(z: Tensor): Tensor {
  return sum(z.square(), 1)
    .mul(-0.5)
    .sub(0.5 * z.shape[1]! * LOG_2PI);
}

/** ln Bernoulli(x; sigmoid(logits)) per row: Σ x·l − softplus(l). */
function bernoulliLogProb(x: Tensor, logits: Tensor): Tensor {
  return sum(x.mul(logits).sub(logits.softplus()), 1);
}

/** Per-example terms of one draw z ~ q(z|x): ln q(z|x) and ln p(x, z). */
export interface Draw {
  logQ: Tensor;
  logJoint: Tensor;
}

export class FlowVAE extends Module {
  readonly config: VAEConfig;
  readonly encoder: MLP;
  /** μ and log σ of q(z₀|x) from the encoder's features. */
  readonly head: Linear;
  /** The K flow layers' parameters from the encoder's features (planar, radial; null otherwise). */
  readonly flowParamsHead: Linear | null;
  readonly decoder: MLP;
  readonly prior: MLP | null;
  readonly upper: MLP | null;
  /** The NICE posterior's flow (flow "nice", K > 0), shared by every data point. */
  readonly nice: NICE | null;
  constructor(config: Partial<VAEConfig> = {}) {
    super();
    this.config = { ...DEFAULT_VAE, ...config };
    const c = this.config;
    for (const key of ["inputs", "latent", "latent2", "hidden"] as const) {
      if (!Number.isInteger(c[key]) || c[key] < 1)
        throw new Error(`FlowVAE: ${key} must be a positive integer, got ${c[key]}`);
    }
    if (!Number.isInteger(c.K) || c.K < 0) throw new Error(`FlowVAE: K must be a non-negative integer, got ${c.K}`);
    if (c.flow !== "planar" && c.flow !== "radial" && c.flow !== "nice")
      throw new Error(`FlowVAE: unknown flow "${String(c.flow)}"; choose planar, radial or nice`);
    if (!Array.isArray(c.niceHidden) || !c.niceHidden.every((h) => Number.isInteger(h) && h >= 1))
      throw new Error(`FlowVAE: niceHidden must be a list of positive integers, got ${JSON.stringify(c.niceHidden)}`);
    if (c.flowHead !== "readout" && c.flowHead !== "shared" && c.flowHead !== "global")
      throw new Error(`FlowVAE: flowHead must be "readout", "shared" or "global", got ${String(c.flowHead)}`);
    if (c.flowInit !== "identity" && c.flowInit !== "random")
      throw new Error(`FlowVAE: flowInit must be "identity" or "random", got ${String(c.flowInit)}`);
    if (c.stochasticLayers !== 1 && c.stochasticLayers !== 2)
      throw new Error(`FlowVAE: stochasticLayers must be 1 or 2, got ${String(c.stochasticLayers)}`);
    const random = new Random(c.seed);
    // The encoder's last layer has no activation of its own (MLP), so the head applies one softplus.
    this.encoder = this.addModule("encoder", new MLP([c.inputs, c.hidden, c.hidden], "softplus", { random }));
    this.head = this.addModule("head", new Linear(c.hidden, 2 * c.latent, { random }));
    this.decoder = this.addModule("decoder", new MLP([c.latent, c.hidden, c.hidden, c.inputs], "softplus", { random }));
    // Two stochastic layers: p(z₁|z₂) and q(z₂|z₁), both diagonal Gaussians from MLPs.
    this.prior =
      c.stochasticLayers === 2
        ? this.addModule("prior", new MLP([c.latent2, c.hidden, 2 * c.latent], "softplus", { random }))
        : null;
    this.upper =
      c.stochasticLayers === 2
        ? this.addModule("upper", new MLP([c.latent, c.hidden, 2 * c.latent2], "softplus", { random }))
        : null;
    // Layers that output means and log σ start small, so every Gaussian starts near N(·, I): with
    // full-size weights, log σ of one layer feeds the next and exp(log σ) can overflow at step 0.
    this.nice =
      c.flow === "nice" && c.K > 0
        ? this.addModule(
            "nice",
            new NICE(c.latent, c.K, {
              hidden: c.niceHidden,
              random,
              init: c.flowInit === "identity" ? "identity" : "random",
            }),
          )
        : null;
    // Made last, so that every other parameter starts where it does with K = 0 (the same seed).
    const flowOutputs = c.K * this.flowParamsPerLayer();
    this.flowParamsHead =
      flowOutputs > 0 ? this.addModule("flowParamsHead", new Linear(c.hidden, flowOutputs, { random })) : null;
    const outputLayers = [this.head, this.flowParamsHead, this.prior?.layers.at(-1), this.upper?.layers.at(-1)];
    for (const layer of outputLayers) if (layer) layer.weight.data.forEach((v, i, a) => (a[i] = 0.1 * v));
    if (c.flowInit === "identity") this.startFlowsAtIdentity();
    if (c.flowHead === "global") this.flowParamsHead?.weight.data.fill(0); // unused: kept zero so a saved model says so
  }

  /**
   * Zero the head's weights for the flow parameters and set their biases where each layer is the
   * identity. Planar: w = e_j and u = softplus⁻¹(1 − SLACK_FLOOR)·e_j, so the slack softplus(wᵀu) +
   * SLACK_FLOOR is 1, m(wᵀu) = 0 and û = 0 (to rounding).
   * Radial: α̃ = β̃ (so β = 0) and z0 = 0.
   */
  private startFlowsAtIdentity(): void {
    if (!this.flowParamsHead) return; // NICE: its couplings start at the identity themselves
    this.flowParamsHead.weight.data.fill(0);
    this.flowParamsHead.bias.data.set(this.identityFlowParams());
  }

  /** The flow head's outputs [K·(per layer)] at which every layer is the identity (startFlowsAtIdentity). */
  identityFlowParams(): Float64Array {
    const c = this.config,
      d = c.latent,
      per = this.flowParamsPerLayer();
    const out = new Float64Array(c.K * per);
    if (c.flow !== "planar") return out;
    for (let k = 0; k < c.K; k++) {
      const offset = k * per,
        j = k % d;
      out[offset + j] = Math.log(Math.expm1(1 - SLACK_FLOOR)); // u
      out[offset + d + j] = 1; // w
    }
    return out;
  }

  /** The parameters of the flow part of q(z|x): the flow head (planar, radial) or NICE's couplings. */
  flowParameters(): Tensor[] {
    return [...(this.flowParamsHead?.parameters() ?? []), ...(this.nice?.parameters() ?? [])];
  }

  /** The generative model's parameters: the decoder p(x|z), and with two stochastic layers the prior network p(z₁|z₂). */
  generativeParameters(): Tensor[] {
    return [...this.decoder.parameters(), ...(this.prior?.parameters() ?? [])];
  }

  /**
   * Take every parameter but the flow's from `trained` (a model of the same sizes, any flow and K):
   * its encoder, μ and log σ head and generative model; the flow keeps its own start (the identity,
   * with flowInit "identity"), so this model's q(z|x) starts as `trained`'s diagonal part.
   * With `flow: true` its K′ ≤ K flow layers too, as this model's first K′ (startFlowFrom).
   */
  startFrom(trained: FlowVAE, options: { flow?: boolean } = {}): void {
    const sizes = ["inputs", "latent", "latent2", "hidden", "stochasticLayers"] as const;
    const differ = sizes.filter((k) => trained.config[k] !== this.config[k]);
    if (differ.length)
      throw new Error(
        `FlowVAE.startFrom: the trained model differs in ${differ.map((k) => `${k} (${trained.config[k]}, here ${this.config[k]})`).join(", ")}`,
      );
    const flow = new Set(this.flowParameters());
    const theirs = new Map(trained.namedParameters());
    // Same sizes, so the same non-flow parameters, of the same shapes.
    for (const [name, t] of this.namedParameters())
      if (!flow.has(t)) t.toHost().data.set(theirs.get(name)!.toHost().data);
    if (options.flow) this.startFlowFrom(trained);
  }

  /**
   * Grow a trained flow: its K′ layers become this model's first K′ and the other K − K′ keep their
   * start, so with flowInit "identity" this model's q(z|x) starts as `trained`'s, to rounding.
   * Planar and radial: the first K′ layers' columns of the flow head; NICE: the first K′ couplings
   * and the final scaling (after the new couplings, which start at the identity).
   */
  private startFlowFrom(trained: FlowVAE): void {
    const mine = this.config,
      theirs = trained.config,
      K0 = theirs.K;
    if (K0 === 0) return; // a diagonal Gaussian: no flow to take
    if (theirs.flow !== mine.flow || K0 > mine.K || theirs.flowHead !== mine.flowHead)
      throw new Error(
        `FlowVAE.startFrom: a ${theirs.flow} flow with K = ${K0} (head "${theirs.flowHead}") cannot start a ${mine.flow} flow with K = ${mine.K} (head "${mine.flowHead}"); the flow and its head must match, and its K be at most this one's`,
      );
    if (this.nice && trained.nice) {
      if (JSON.stringify(theirs.niceHidden) !== JSON.stringify(mine.niceHidden))
        throw new Error(
          `FlowVAE.startFrom: NICE couplings of hidden sizes ${JSON.stringify(theirs.niceHidden)} cannot start ${JSON.stringify(mine.niceHidden)}`,
        );
      const from = new Map(trained.nice.namedParameters());
      for (const [name, t] of this.nice.namedParameters()) {
        const [layer, ...rest] = name.split(".");
        // The scaling is the last layer of either flow: number K′ there, K here.
        const source = Number(layer) === mine.K ? [K0, ...rest].join(".") : Number(layer) < K0 ? name : null;
        if (source !== null) t.toHost().data.set(from.get(source)!.toHost().data);
      }
      return;
    }
    const head = this.flowParamsHead!,
      from = trained.flowParamsHead!;
    // Weights are [hidden, outputs] and the first K′ layers' outputs come first in either head.
    const columns = from.outFeatures,
      source = from.weight.toHost().data,
      target = head.weight.toHost().data;
    for (let r = 0; r < head.inFeatures; r++)
      target.set(source.subarray(r * columns, (r + 1) * columns), r * head.outFeatures);
    head.bias.toHost().data.set(from.bias.toHost().data);
  }

  /** Head outputs per flow layer: planar (u, w, b), radial (z0, α̃, β̃); none for NICE (not amortised). */
  private flowParamsPerLayer(): number {
    const d = this.config.latent;
    if (this.config.flow === "nice") return 0;
    return this.config.flow === "planar" ? 2 * d + 1 : d + 2;
  }

  /** The flow layers' parameters per row of the encoder's features [B, hidden] (config.flowHead says how). */
  private flowParams(hidden: Tensor): Tensor | undefined {
    const head = this.flowParamsHead;
    if (!head) return undefined;
    const how = this.config.flowHead;
    // "global": the same parameters for every row, so only the bias learns.
    if (how === "global") return head.bias.broadcastTo([hidden.shape[0]!, head.outFeatures]);
    // "readout": the flow columns read the encoder's features without sending gradient back into them.
    return head.forward(how === "readout" ? hidden.detach() : hidden);
  }

  /** One reparameterised draw per row of x ([B, inputs] in {0, 1}). */
  draw(x: Tensor, random: Random): Draw {
    return this.drawFrom(x, this.posterior(x), random);
  }

  /** The encoder's q(z|x) per row of x: μ, log σ and the flow's parameters (drawFrom's layout). */
  posterior(x: Tensor): { mean: Tensor; logStd: Tensor; flowParams: Tensor | undefined } {
    const d = this.config.latent;
    const hidden = this.encoder.forward(x).softplus();
    const [mean, logStd] = split(this.head.forward(hidden), [d, d], 1) as [Tensor, Tensor];
    return { mean, logStd, flowParams: this.flowParams(hidden) };
  }

  /**
   * One draw per row of x from q(z|x) given its parameters per row: z₀ ~ N(mean, exp(logStd)²),
   * then the flow, whose per-row parameters (planar, radial) are laid out as the flow head's
   * outputs [B, K·(per layer)]. draw() gives the encoder's; fitLocalPosteriors fits them per digit.
   */
  drawFrom(x: Tensor, q: { mean: Tensor; logStd: Tensor; flowParams?: Tensor | undefined }, random: Random): Draw {
    const c = this.config,
      d = c.latent;
    const { mean, logStd, flowParams } = q;
    const eps = randn([x.shape[0]!, d], { random, dtype: x.dtype });
    let z = eps.mul(logStd.exp()).add(mean);
    let logQ = normalLogProb(z, mean, logStd);
    if (this.nice) {
      const out = this.nice.forward(z);
      z = out.z;
      logQ = logQ.sub(out.logAbsDet);
    }
    if (flowParams && c.flow === "planar") {
      // The K layers as one op. The head's columns are [u_k (D), w_k (D), b_k] per layer: one split
      // of [B, K, 2D + 1] (whose backward is one concat, where three column gathers would scatter
      // into three [B, K·(2D + 1)] arrays and add them).
      const B = x.shape[0]!;
      const [u, w, b] = split(flowParams.reshape([B, c.K, 2 * d + 1]), [d, d, 1], 2) as [Tensor, Tensor, Tensor];
      const out = planarChain(z, { u, w, b: b.reshape([B, c.K]) });
      z = out.z;
      logQ = logQ.sub(out.logAbsDet);
    } else if (flowParams) {
      const params = split(flowParams, Array.from({ length: c.K }, () => [d, 1, 1]).flat(), 1);
      for (let k = 0; k < c.K; k++) {
        const [z0, alpha, beta] = params.slice(3 * k, 3 * k + 3) as [Tensor, Tensor, Tensor];
        const out = radial(z, { z0, alpha: alpha.reshape([-1]), beta: beta.reshape([-1]) });
        z = out.z;
        logQ = logQ.sub(out.logAbsDet);
      }
    }
    let logJoint = bernoulliLogProb(x, this.decoder.forward(z));
    if (this.prior && this.upper) {
      // q(z₂|z₁) and p(z₁|z₂) p(z₂)
      const [m2, s2] = split(this.upper.forward(z), [c.latent2, c.latent2], 1) as [Tensor, Tensor];
      const z2 = randn([x.shape[0]!, c.latent2], { random, dtype: x.dtype }).mul(s2.exp()).add(m2);
      logQ = logQ.add(normalLogProb(z2, m2, s2));
      const [m1, s1] = split(this.prior.forward(z2), [d, d], 1) as [Tensor, Tensor];
      logJoint = logJoint.add(normalLogProb(z, m1, s1)).add(standardNormalLogProb(z2));
    } else {
      logJoint = logJoint.add(standardNormalLogProb(z));
    }
    return { logQ, logJoint };
  }

  /** The (annealed) free energy per example, averaged: E[ln q − β ln p(x, z)]; β = 1 is the negative ELBO. */
  freeEnergy(x: Tensor, random: Random, beta = 1): Tensor {
    const { logQ, logJoint } = this.draw(x, random);
    return logQ.sub(logJoint.mul(beta)).mean();
  }

  /** −ln p(x) per example by importance sampling with S draws from q: −(logsumexp_s(ln p − ln q) − ln S). */
  negLogLikelihood(x: Tensor, samples: number, random: Random): Float64Array {
    return Float64Array.from(this.negLogLikelihoodTensor(x, samples, random).toHost().data);
  }

  /** negLogLikelihood as a tensor [B], without a graph (where it stays on a device until read). */
  negLogLikelihoodTensor(x: Tensor, samples: number, random: Random): Tensor {
    const B = x.shape[0]!;
    return noGrad(() => {
      // Repeat each example S times (rows grouped by example), draw once, reduce over the S axis.
      const { logQ, logJoint } = this.draw(x.indexSelect(0, repeatRows(B, samples)), random);
      const logW = logJoint.sub(logQ).reshape([B, samples]);
      return logsumexp(logW, 1).sub(Math.log(samples)).neg();
    });
  }
}

/** Row indices that repeat each of n rows `times` times, grouped by row (for indexSelect). */
export function repeatRows(n: number, times: number): Int32Array {
  const idx = new Int32Array(n * times);
  for (let r = 0; r < n; r++) idx.fill(r, r * times, (r + 1) * times);
  return idx;
}

export interface TrainVAEOptions {
  /** The most passes over the training images (fewer when early stopping ends training first). */
  epochs: number;
  batchSize?: number;
  lr?: number;
  optimizer?: "adam" | "rmsprop";
  /** The flow's parameters (FlowVAE.flowParameters) step at this multiple of lr (default 1). */
  flowLrScale?: number;
  /**
   * Updates over which β rises from 0.01 to 1 (the annealed free energy); 0 = no annealing. Early
   * stopping waits for β to reach 1: `patience` counts from the first epoch trained at β = 1 at
   * the earliest, since the validation bound (at β = 1) is not what the annealed steps minimise.
   */
  annealSteps?: number;
  seed?: number;
  /**
   * "fixed" (default): the images are already in {0, 1}. "dynamic": they are grey intensities in
   * [0, 1] and every minibatch is a fresh Bernoulli draw of them (stochastic binarisation).
   */
  binarize?: "fixed" | "dynamic";
  /**
   * Held-out images in {0, 1}. After every epoch their mean −ELBO is measured (the same draws each
   * time, so epochs are compared on equal terms) and the parameters of the best epoch are restored
   * when training ends: early stopping.
   */
  validation?: Float64Array;
  /** With validation: stop after this many epochs without a better validation bound (default: never). */
  patience?: number;
  /**
   * With validation: score the parameters the run starts with as epoch 0, so that a run from
   * trained parameters (FlowVAE.startFrom) keeps them when no epoch beats them (bestEpoch 0);
   * without it early stopping compares the run's own epochs only, and keeps the best of those
   * even when it is worse than the start.
   */
  scoreStart?: boolean;
  /**
   * Train q(z|x) alone: the generative model (FlowVAE.generativeParameters) stays as it is, so runs
   * that start from one trained model (FlowVAE.startFrom) share one p(x|z) whatever their flow.
   */
  fixedGenerative?: boolean;
  /**
   * Called after every epoch with everything needed to continue exactly from there (save it, and
   * pass it back as `resume` after an interruption); `resume` continues such a run: the remaining
   * epochs give the same parameters, bit for bit, as an uninterrupted run (on one backend).
   */
  checkpoint?: (state: TrainingCheckpoint) => void;
  /**
   * At most one checkpoint per this many seconds of training (default 0: every epoch). A
   * checkpoint of a 400-unit model is tens of megabytes; a minute's work is what a crash may cost.
   */
  checkpointSeconds?: number;
  resume?: TrainingCheckpoint;
  /**
   * Stop after the epoch in which this many seconds of training (resumed time included) have
   * passed, whatever the validation bound does; the result says so (stoppedBy "time"). For a run
   * that must end in a time slot: its model is then the best so far, not a converged one.
   */
  maxSeconds?: number;
  onStep?: (step: number, totalSteps: number, loss: number) => void;
  /** After every epoch: its validation −ELBO and the best so far; null without validation. */
  onEpoch?: (epoch: number, validationLoss: number | null, best: BestSoFar | null) => void;
}

/** The best validation bound so far, its epoch, and the epoch early stopping counts its patience from. */
export interface BestSoFar {
  loss: number;
  epoch: number;
  /** the best epoch, or the last epoch of annealing (annealSteps) while that is later */
  countsFrom: number;
}

/** A training run after some epoch (TrainVAEOptions.checkpoint). Plain JSON. */
export interface TrainingCheckpoint {
  format: "flowgrad.training-checkpoint";
  epochsRun: number;
  step: number;
  parameters: ReturnType<FlowVAE["stateDict"]>;
  optimizer: OptimizerState;
  random: number[];
  order: number[];
  losses: number[];
  validationLosses: number[];
  best: number | null;
  bestEpoch: number;
  bestParams: number[][] | null;
  /** scoreStart's epoch 0 (absent in checkpoints of runs without it) */
  startValidationLoss?: number | null;
  seconds: number;
}

export interface TrainVAEResult {
  /** the free energy of every update */
  losses: number[];
  /** the validation −ELBO after each epoch (empty without validation) */
  validationLosses: number[];
  epochsRun: number;
  /** the epoch (1-based) whose parameters the model holds at the end; 0: the start (scoreStart) */
  bestEpoch: number;
  /** with scoreStart: the validation −ELBO of the parameters the run started with; else null */
  startValidationLoss: number | null;
  seconds: number;
  /**
   * Why training ended: early stopping (`patience` epochs without a better validation bound: the
   * run converged in that sense), the epoch budget, or `maxSeconds`.
   */
  stoppedBy: "early-stopping" | "epochs" | "time";
}

/** Rows of an images array: it must hold whole images of `pixels` values. */
function imageCount(images: Float64Array, pixels: number, who: string): number {
  if (images.length === 0 || images.length % pixels !== 0)
    throw new Error(`${who}: ${images.length} values are not whole images of ${pixels} pixels`);
  return images.length / pixels;
}

/** Mean −ELBO (one draw per image) over the rows of `images`, without a graph (a loop: see loop.ts). */
function* meanNegativeElbo(model: FlowVAE, images: Float64Array, random: Random): Loop<number> {
  const P = model.config.inputs,
    count = imageCount(images, P, "validation"),
    chunk = 500;
  let total = 0;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const x = new Tensor(images.subarray(start * P, (start + n) * P), [n, P]);
    total += (yield { read: tidy(() => noGrad(() => model.freeEnergy(x, random))) })[0]! * n;
  }
  return total / count;
}

/** Train on the rows of `images` ([n, inputs], row-major) by minimising the free energy with minibatches. */
export function trainVAE(model: FlowVAE, images: Float64Array, options: TrainVAEOptions): TrainVAEResult {
  return runLoop(trainLoop(model, images, options));
}

/**
 * trainVAE for backends that read values only asynchronously (gpu.js webgpu): the same steps, each
 * awaiting its loss; the updates run on the device too, so parameters and optimizer state stay there
 * between steps and come back to the host when training ends.
 */
export function trainVAEAsync(model: FlowVAE, images: Float64Array, options: TrainVAEOptions): Promise<TrainVAEResult> {
  return runLoopAsync(trainLoop(model, images, options));
}

/** Hold the fixed parameters still (fixedGenerative) while trainSteps trains the rest, and give them back after. */
function* trainLoop(model: FlowVAE, images: Float64Array, options: TrainVAEOptions): Loop<TrainVAEResult> {
  const fixed = options.fixedGenerative ? model.generativeParameters() : [];
  // Fixed parameters take no gradient (their backward work is skipped); z's still flows through them.
  for (const p of fixed) p.requireGrad(false);
  try {
    return yield* trainSteps(model, images, options, fixed);
  } finally {
    for (const p of fixed) p.requireGrad(true);
  }
}

function* trainSteps(
  model: FlowVAE,
  images: Float64Array,
  options: TrainVAEOptions,
  fixed: Tensor[],
): Loop<TrainVAEResult> {
  const {
    epochs,
    batchSize = 100,
    lr = 1e-3,
    optimizer = "adam",
    annealSteps = 0,
    seed = 1,
    binarize = "fixed",
    validation,
    patience = Infinity,
    flowLrScale = 1,
  } = options;
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`epochs must be a positive integer, got ${epochs}`);
  if (binarize !== "fixed" && binarize !== "dynamic")
    throw new Error(`trainVAE: binarize must be "fixed" or "dynamic", got ${String(binarize)}`);
  if (!(patience >= 1)) throw new Error(`trainVAE: patience must be at least 1 epoch, got ${patience}`);
  if (options.maxSeconds !== undefined && !(options.maxSeconds > 0))
    throw new Error(`trainVAE: maxSeconds must be a positive number of seconds, got ${options.maxSeconds}`);
  const P = model.config.inputs,
    count = imageCount(images, P, "trainVAE");
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > count)
    throw new Error(`trainVAE: batch size must be an integer from 1 to ${count}, got ${batchSize}`);
  if (validation) imageCount(validation, P, "trainVAE validation");
  const random = new Random(seed);
  const trained = model.parameters().filter((p) => !fixed.includes(p));
  const opt: Optimizer = optimizer === "adam" ? new Adam(trained, { lr }) : new RMSprop(trained, { lr, momentum: 0.9 });
  if (flowLrScale !== 1) opt.scaleLearningRate(model.flowParameters(), flowLrScale);
  const batches = Math.floor(count / batchSize),
    total = epochs * batches;
  // Early stopping's patience starts at the first epoch trained at β = 1 at the earliest.
  const annealedFrom = annealedEpoch(annealSteps, batches);
  const order = Int32Array.from({ length: count }, (_, i) => i);
  const losses: number[] = [],
    validationLosses: number[] = [];
  const grey = new Float64Array(batchSize * P);
  let best = Infinity,
    bestEpoch = epochs,
    bestParams: Float64Array[] | null = null,
    epochsRun = 0,
    startValidationLoss: number | null = null;
  let started = performance.now();
  let step = 0;
  const resume = options.resume;
  if (resume) {
    if (resume.format !== "flowgrad.training-checkpoint" || resume.order.length !== count)
      throw new Error(`trainVAE: the checkpoint is not of this run (${count} training images)`);
    model.loadStateDict(resume.parameters);
    opt.loadState(resume.optimizer);
    random.setState(resume.random);
    order.set(resume.order);
    losses.push(...resume.losses);
    validationLosses.push(...resume.validationLosses);
    best = resume.best ?? Infinity;
    bestEpoch = resume.bestEpoch;
    startValidationLoss = resume.startValidationLoss ?? null;
    bestParams = resume.bestParams ? resume.bestParams.map((p) => Float64Array.from(p)) : null;
    epochsRun = resume.epochsRun;
    step = resume.step;
    started -= resume.seconds * 1000;
  }
  let stoppedBy: TrainVAEResult["stoppedBy"] = "epochs";
  const overTime = (): boolean => {
    if (options.maxSeconds === undefined || performance.now() - started < options.maxSeconds * 1000) return false;
    stoppedBy = "time";
    return true;
  };
  let lastCheckpoint = performance.now();
  const saveCheckpoint = function* (): Loop<void> {
    if (!options.checkpoint) return;
    if (performance.now() - lastCheckpoint < (options.checkpointSeconds ?? 0) * 1000) return;
    lastCheckpoint = performance.now();
    yield { toHost: model.parameters() };
    yield { stateToHost: opt };
    options.checkpoint({
      format: "flowgrad.training-checkpoint",
      epochsRun,
      step,
      parameters: model.stateDict(),
      optimizer: opt.saveState(),
      random: random.getState(),
      order: Array.from(order),
      losses: [...losses],
      validationLosses: [...validationLosses],
      best: Number.isFinite(best) ? best : null,
      bestEpoch,
      bestParams: bestParams ? bestParams.map((p) => Array.from(p)) : null,
      startValidationLoss,
      seconds: (performance.now() - started) / 1000,
    });
  };
  // Every epoch's validation bound (and the start's) on the same draws, so they compare.
  const validationBound = (images: Float64Array) => meanNegativeElbo(model, images, new Random(seed + 7919));
  // Early stopping's copy of the parameters it would keep, on the host.
  const parametersNow = function* (): Loop<Float64Array[]> {
    yield { toHost: model.parameters() };
    return model.parameters().map((p) => Float64Array.from(p.toHost().data));
  };
  if (validation && options.scoreStart && !resume) {
    startValidationLoss = yield* validationBound(validation); // epoch 0: the start
    best = startValidationLoss;
    bestEpoch = 0;
    bestParams = yield* parametersNow();
  }
  for (let e = epochsRun; e < epochs; e++) {
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(random.uniform() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let b = 0; b < batches; b++) {
      const batch = new Float64Array(batchSize * P);
      const rows = binarize === "dynamic" ? grey : batch;
      for (let r = 0; r < batchSize; r++)
        rows.set(images.subarray(order[b * batchSize + r]! * P, (order[b * batchSize + r]! + 1) * P), r * P);
      if (binarize === "dynamic") sampleBinary(grey, random, batch);
      const beta = annealSteps > 0 ? annealedBeta(step, annealSteps) : 1;
      // tidy: on a GPU backend the step's tensors live in textures, freed when the step ends.
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = model.freeEnergy(new Tensor(batch, [batchSize, P]), random, beta);
        l.backward();
        return l;
      });
      const value = (yield { read: loss })[0]!;
      yield { update: opt };
      if (!Number.isFinite(value))
        throw new Error(`trainVAE: the free energy became ${value} at step ${step}; lower the learning rate`);
      losses.push(value);
      options.onStep?.(++step, total, value);
    }
    epochsRun = e + 1;
    if (!validation) {
      options.onEpoch?.(epochsRun, null, null);
      yield* saveCheckpoint();
      if (overTime()) break;
      continue;
    }
    const v = yield* validationBound(validation);
    validationLosses.push(v);
    const improved = v < best;
    if (improved) {
      best = v;
      bestEpoch = epochsRun;
    }
    const countsFrom = Math.max(bestEpoch, annealedFrom);
    options.onEpoch?.(epochsRun, v, { loss: best, epoch: bestEpoch, countsFrom });
    if (improved) bestParams = yield* parametersNow();
    else if (epochsRun - countsFrom >= patience) {
      stoppedBy = "early-stopping";
      break;
    }
    yield* saveCheckpoint();
    if (overTime()) break;
  }
  if (bestParams) {
    yield { toHost: model.parameters() };
    model.parameters().forEach((p, i) => p.data.set(bestParams[i]!));
  } else bestEpoch = epochsRun;
  return {
    losses,
    validationLosses,
    epochsRun,
    bestEpoch,
    startValidationLoss,
    seconds: (performance.now() - started) / 1000,
    stoppedBy,
  };
}

export interface VAEEvaluation {
  /** mean test −ELBO (one draw per example), nats */
  negativeElbo: number;
  /** mean test −ln p(x) by importance sampling, nats */
  negLogLikelihood: number;
  /** its standard error over the test examples */
  standardError: number;
  samples: number;
  examples: number;
}

/** An evaluation with −ln p(x) of every example, for paired comparisons of models on the same examples. */
export interface VAEEvaluationDetail extends VAEEvaluation {
  perExample: Float64Array;
}

/**
 * Test −ELBO (one draw per example) and −ln p(x) by importance sampling with `samples` draws per
 * example, in chunks of about 2,000 draws.
 */
export function evaluateVAE(
  model: FlowVAE,
  images: Float64Array,
  samples = 200,
  seed = 99,
  onProgress?: (done: number, total: number) => void,
): VAEEvaluationDetail {
  return runLoop(evaluationLoop(model, images, samples, seed, onProgress));
}

/** evaluateVAE for backends that read values only asynchronously (gpu.js webgpu): the same draws, on the device. */
export function evaluateVAEAsync(
  model: FlowVAE,
  images: Float64Array,
  samples = 200,
  seed = 99,
  onProgress?: (done: number, total: number) => void,
): Promise<VAEEvaluationDetail> {
  return runLoopAsync(evaluationLoop(model, images, samples, seed, onProgress));
}

function* evaluationLoop(
  model: FlowVAE,
  images: Float64Array,
  samples: number,
  seed: number,
  onProgress?: (done: number, total: number) => void,
): Loop<VAEEvaluationDetail> {
  const P = model.config.inputs,
    random = new Random(seed),
    count = imageCount(images, P, "evaluateVAE");
  if (!Number.isInteger(samples) || samples < 1)
    throw new Error(`evaluateVAE: samples must be a positive integer, got ${samples}`);
  const chunk = Math.max(1, Math.floor(2000 / samples));
  const perExample = new Float64Array(count);
  let elbo = 0;
  for (let start = 0; start < count; start += chunk) {
    const n = Math.min(chunk, count - start);
    const x = new Tensor(images.slice(start * P, (start + n) * P), [n, P]);
    perExample.set(yield { read: tidy(() => model.negLogLikelihoodTensor(x, samples, random)) }, start);
    elbo += (yield { read: tidy(() => noGrad(() => model.freeEnergy(x, random))) })[0]! * n;
    onProgress?.(Math.min(count, start + n), count);
  }
  const { mean, standardError } = meanAndError(perExample);
  return { negativeElbo: elbo / count, negLogLikelihood: mean, standardError, samples, examples: count, perExample };
}

/**
 * Mean and its standard error, s/√n with the sample standard deviation s (n − 1 in its
 * denominator); two passes, so a spread small against the mean is not lost to cancellation.
 */
export function meanAndError(values: ArrayLike<number>): { mean: number; standardError: number } {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i]! - mean) ** 2;
  return { mean, standardError: n > 1 ? Math.sqrt(squares / (n - 1) / n) : 0 };
}

/**
 * b − a over the same examples, with the standard error of that mean difference: much smaller
 * than either model's own error when both do well and badly on the same examples.
 */
export function pairedDifference(a: Float64Array, b: Float64Array): { mean: number; standardError: number } {
  if (a.length !== b.length || a.length === 0)
    throw new Error(`pairedDifference: needs two equally long, non-empty lists, got ${a.length} and ${b.length}`);
  return meanAndError(b.map((v, i) => v - a[i]!));
}

/** Decode z ~ p(z) (through p(z₁|z₂) for two layers) into pixel probabilities, [n, inputs]. */
export function sampleDigits(model: FlowVAE, n: number, seed = 0): Float64Array {
  const random = new Random(seed),
    c = model.config;
  return noGrad(() => {
    let z: Tensor;
    if (model.prior) {
      const z2 = randn([n, c.latent2], { random });
      const [m1, s1] = split(model.prior.forward(z2), [c.latent, c.latent], 1) as [Tensor, Tensor];
      z = randn([n, c.latent], { random }).mul(s1.exp()).add(m1);
    } else {
      z = randn([n, c.latent], { random });
    }
    return Float64Array.from(model.decoder.forward(z).sigmoid().toHost().data);
  });
}
