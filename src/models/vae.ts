import { Linear, logsumexp, MLP, Module, noGrad, Random, randn, split, sum, type Tensor } from "../autograd/index.js";
import { NICE, normalLogProb, planarChain, radial, SLACK_FLOOR } from "../flows/index.js";
import type { FlowKind } from "./fit2d.js";

// Deep latent Gaussian models with flow posteriors (section 6.2): an encoder gives μ, log σ and
// the parameters of K flow layers per data point (amortised, Algorithm 1); a decoder gives
// Bernoulli logits. One stochastic layer is the VAE; two is a DLGM with L = 2.
// NICE posteriors are not amortised: their K coupling networks (and the final scaling) are shared
// by every digit, as in NICE itself, and act on z₀ = μ(x) + σ(x)·ε, whose μ and σ are amortised.
// Training is in vae-train.ts, scoring by importance sampling in vae-evaluate.ts.

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

/** Rows of an images array: it must hold whole images of `pixels` values. */
export function imageCount(images: Float64Array, pixels: number, who: string): number {
  if (images.length === 0 || images.length % pixels !== 0)
    throw new Error(`${who}: ${images.length} values are not whole images of ${pixels} pixels`);
  return images.length / pixels;
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
