import {
  Adam,
  noGrad,
  type Optimizer,
  Random,
  RMSprop,
  Tensor,
  type TypedArray,
  tensor,
  tidy,
} from "../autograd/index.js";
import {
  augmentedEnergy,
  CNF,
  type ContinuousFlowOptions,
  FlowDistribution,
  FlowInputError,
  HamiltonianFlow,
  type Implementation,
  NICE,
  PlanarChain,
  RadialFlow,
  Sequential,
} from "../flows/index.js";
import { annealedBeta } from "./anneal.js";
import { fittedEnergy, type TargetName } from "./densities.js";
import { type Loop, runLoop, runLoopAsync } from "./loop.js";

/** The VAE's posterior flows: planar and radial are amortised (their parameters come from the encoder), NICE is not. */
export type FlowKind = "planar" | "radial" | "nice";
/** The 2-D fits take the continuous and Hamiltonian flows too (the VAE's amortised flows are planar or radial). */
export type Flow2DKind = FlowKind | "cnf" | "hamiltonian";
/** The CNF's solver, trace and gradient for a 2-D fit (see ContinuousFlowOptions). */
export type CNF2DOptions = Pick<ContinuousFlowOptions, "solver" | "steps" | "rtol" | "atol" | "trace" | "gradient">;

/**
 * q_K for the 2-D experiments: base N(0, I) (fixed, as in the paper) through K flow layers; for
 * "cnf" through a continuous flow whose vector field is an MLP 3-K-K-2 (K hidden units per layer);
 * for "hamiltonian" through K leapfrog steps on (z, ρ) of the target's energy (`target` needed),
 * a distribution on 4 coordinates whose first two are z.
 */
export function makeFlow2D(
  kind: Flow2DKind,
  K: number,
  random: Random,
  implementation: Implementation = "fused",
  cnf: CNF2DOptions = {},
  target?: TargetName,
): FlowDistribution {
  if (!Number.isInteger(K) || K < 1) throw new Error(`K must be a positive integer, got ${K}`);
  if (kind === "cnf") return new FlowDistribution(new CNF(2, { ...cnf, hidden: [K, K], random }), { fixedBase: true });
  if (kind === "hamiltonian") {
    if (!target) throw new Error("makeFlow2D: a Hamiltonian flow moves along the target's energy; name the target");
    // Its base is learned too (as the encoder gives q0 in Hamiltonian VAEs): leapfrog steps alone move N(0, I) little.
    return new FlowDistribution(new HamiltonianFlow(2, fittedEnergy(target), { K, random }));
  }
  // NICE: K coupling layers, each shifting one coordinate by an MLP of the other, then the scaling.
  if (kind === "nice") return new FlowDistribution(new NICE(2, K, { hidden: [32, 32], random }), { fixedBase: true });
  if (kind !== "planar" && kind !== "radial")
    throw new Error(`unknown flow "${String(kind)}"; choose planar, radial, nice, cnf or hamiltonian`);
  // Planar: the K layers as one PlanarChain (one op each way on the CPU), the same flow as K PlanarFlows.
  if (kind === "planar")
    return new FlowDistribution(new PlanarChain(2, K, { random, implementation }), { fixedBase: true });
  const layers = Array.from({ length: K }, () => new RadialFlow(2, { random, implementation }));
  return new FlowDistribution(new Sequential(layers), { fixedBase: true });
}

/**
 * F = E_q0[ln q0(z0) − Σ ln|det| + β U(z_K)], estimated with n reparameterised samples: drawn from
 * `random`, or the caller's own standard-normal base draws `eps` [n, D] (pushed through the base and
 * the flow by q.pushForward), so that several models can be scored on the same draws.
 */
export function freeEnergy(
  q: FlowDistribution,
  U: (z: Tensor) => Tensor,
  n: number,
  beta: number,
  random: Random | Tensor,
): Tensor {
  if (random instanceof Tensor && random.shape[0] !== n)
    throw new Error(`freeEnergy: n is ${n} but the base draws eps have ${random.shape[0]} rows`);
  const { z, logProb } = random instanceof Tensor ? q.pushForward(random) : q.sample(n, random);
  return logProb.add(U(z).mul(beta)).mean();
}

export interface Fit2DOptions {
  target: TargetName;
  flow: Flow2DKind;
  /** Flow layers (planar, radial), or the CNF's hidden units per layer. */
  K: number;
  steps: number;
  /** For flow "cnf": its solver and trace. */
  cnf?: CNF2DOptions;
  batchSize?: number;
  lr?: number;
  optimizer?: "adam" | "rmsprop";
  /** Steps over which β rises from 0.01 to 1; default: a third of the steps, at most 10,000. */
  annealSteps?: number;
  /** "cosine" (default) lowers the learning rate to lr/20 along a half cosine; "constant" keeps it. */
  schedule?: "cosine" | "constant";
  seed?: number;
  implementation?: Implementation;
  onStep?: (step: number, loss: number, beta: number) => void;
}

export interface Fit2DResult {
  q: FlowDistribution;
  losses: number[];
  seconds: number;
}

/** The fit as a loop (see loop.ts): fit2D runs it synchronously, fit2DAsync with await. */
function* fitLoop(options: Fit2DOptions): Loop<Fit2DResult> {
  const {
    target,
    flow,
    K,
    steps,
    batchSize = 500,
    lr = 1e-2,
    optimizer = "adam",
    seed = 0,
    implementation = "fused",
  } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  const annealSteps = options.annealSteps ?? Math.min(10_000, Math.max(1, Math.floor(steps / 3)));
  const random = new Random(seed);
  const q = makeFlow2D(flow, K, random, implementation, options.cnf, target);
  const { U } = scoringEnergy(q, target); // a Hamiltonian flow's q lives on (z, ρ): its energy is augmented
  const opt: Optimizer =
    optimizer === "adam" ? new Adam(q.parameters(), { lr }) : new RMSprop(q.parameters(), { lr, momentum: 0.9 });
  const losses: number[] = [];
  const started = performance.now();
  // The divergence guard's yardstick: q's free energy (β = 1) before any update, on samples of a
  // stream of its own, so the fit's own random numbers, and so its results, are as without it.
  const startValue = (yield {
    read: tidy(() => noGrad(() => freeEnergy(q, U, batchSize, 1, new Random(seed + 104_729)))),
  })[0]!;
  const window: number[] = [];
  for (let t = 0; t < steps; t++) {
    const beta = annealedBeta(t, annealSteps);
    if (options.schedule !== "constant") opt.lr = lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * t) / steps)));
    // tidy: on a GPU backend the step's tensors live on the device, freed when the step ends.
    let loss: Tensor;
    try {
      loss = tidy(() => {
        opt.zeroGrad();
        const l = freeEnergy(q, U, batchSize, beta, random);
        l.backward();
        return l;
      });
    } catch (error) {
      // Parameters the layers refuse (non-finite, or too large for float64) after an update: it diverged.
      if (t > 0 && error instanceof FlowInputError && error.what === "parameters") {
        throw new Error(
          `fit ${target}: diverged: the update of step ${t - 1} left parameters the flow cannot use (${error.message}); lower the learning rate (it was ${lr}) or use fewer layers (K = ${K})`,
        );
      }
      throw error;
    }
    const value = (yield { read: loss })[0]!;
    yield { update: opt };
    if (!Number.isFinite(value))
      throw new Error(`fit ${target}: the free energy became ${value} at step ${t}; lower the learning rate`);
    if (beta === 1) {
      window.push(value);
      if (window.length > DIVERGENCE_WINDOW) window.shift();
      const mean = window.reduce((a, b) => a + b, 0) / window.length;
      if (window.length === DIVERGENCE_WINDOW && diverged(mean, startValue)) {
        throw new Error(
          `fit ${target}: diverged: the free energy rose from ${startValue.toFixed(3)} before training to ${mean.toFixed(3)} (mean of steps ${t - DIVERGENCE_WINDOW + 1}–${t}); lower the learning rate (it was ${lr})`,
        );
      }
    }
    losses.push(value);
    options.onStep?.(t, value, beta);
  }
  // A fit too short to fill the window is judged on the full-β steps it has.
  const tail = window.length > 0 ? window.reduce((a, b) => a + b, 0) / window.length : null;
  if (tail !== null && window.length < DIVERGENCE_WINDOW && diverged(tail, startValue)) {
    throw new Error(
      `fit ${target}: diverged: the free energy rose from ${startValue.toFixed(3)} before training to ${tail.toFixed(3)} (mean of the last ${window.length} steps); lower the learning rate (it was ${lr})`,
    );
  }
  return { q, losses, seconds: (performance.now() - started) / 1000 };
}

/** Steps of the full (β = 1) free energy averaged by the divergence guard. */
const DIVERGENCE_WINDOW = 100;

/**
 * A fit has diverged when, with β at 1, its free energy averaged over DIVERGENCE_WINDOW steps is
 * above where it started by more than 10 nats plus 10 %: training lowers F = KL(q‖p) − ln Z, so a
 * fit that ends above its start made q worse, and what it would report is no result.
 */
export function diverged(meanFreeEnergy: number, startFreeEnergy: number): boolean {
  return meanFreeEnergy > startFreeEnergy + 10 + 0.1 * Math.abs(startFreeEnergy);
}

/** Fit q_K to p ∝ exp(−U) by minimising the annealed free energy. */
export function fit2D(options: Fit2DOptions): Fit2DResult {
  return runLoop(fitLoop(options));
}

/**
 * fit2D for backends that read values only asynchronously (gpu.js webgpu): the same steps, each
 * awaiting its loss; the updates run on the device too, so parameters and optimizer state stay there
 * between steps and come back to the host when training ends.
 */
export function fit2DAsync(options: Fit2DOptions): Promise<Fit2DResult> {
  return runLoopAsync(fitLoop(options));
}

/**
 * ln Z = ln ∫ exp(−U(z)) dz of the fitted energy (fittedEnergy: U2–U4 with their box wall), by the
 * midpoint rule on a gridSize² grid over (−half, half)². The default (−5, 5)² holds all but a
 * negligible part of the mass (beyond it U1 and the walls exceed 12 nats above their minimum).
 */
export function logPartition(target: TargetName, gridSize = 1250, half = 5): number {
  return runLoop(logPartitionLoop(target, gridSize, half));
}

/** logPartition for backends that read values only asynchronously (gpu.js webgpu). */
export function logPartitionAsync(target: TargetName, gridSize = 1250, half = 5): Promise<number> {
  return runLoopAsync(logPartitionLoop(target, gridSize, half));
}

function* logPartitionLoop(target: TargetName, gridSize: number, half: number): Loop<number> {
  const U = fittedEnergy(target);
  const h = (2 * half) / gridSize;
  let max = -Infinity;
  const rows: TypedArray[] = [];
  for (let i = 0; i < gridSize; i++) {
    const x = -half + (i + 0.5) * h;
    const points = new Float64Array(2 * gridSize);
    for (let j = 0; j < gridSize; j++) {
      points[2 * j] = x;
      points[2 * j + 1] = -half + (j + 0.5) * h;
    }
    const negU = yield { read: tidy(() => noGrad(() => U(tensor(points, { shape: [gridSize, 2] })).neg())) };
    rows.push(negU);
    for (const v of negU) if (v > max) max = v;
  }
  let s = 0;
  for (const row of rows) for (const v of row) s += Math.exp(v - max);
  return max + Math.log(s * h * h);
}

/**
 * The energy q is scored against, and what its normaliser adds to ln Z: the target's, or for a
 * distribution on (z, ρ) (a Hamiltonian flow) U(z) + ½‖ρ‖², whose normaliser is Z·2π in 2-D.
 */
export function scoringEnergy(
  q: FlowDistribution,
  target: TargetName,
): { U: (z: Tensor) => Tensor; logZOffset: number; augmented: boolean } {
  const U = fittedEnergy(target);
  if (q.flow.dim === 2) return { U, logZOffset: 0, augmented: false };
  if (q.flow.dim === 4 && q.flow instanceof HamiltonianFlow)
    return { U: augmentedEnergy(U, 2), logZOffset: Math.log(2 * Math.PI), augmented: true };
  throw new Error(`the 2-D fits score distributions on 2 coordinates (or 4 for a Hamiltonian flow), got ${q.flow.dim}`);
}

export interface KLEstimate {
  /**
   * KL(q_K ‖ p) = F + ln Z, in nats. For a Hamiltonian flow (augmented) it is KL on (z, ρ), an upper
   * bound on KL(q(z) ‖ p(z)) (the marginal's KL plus that of ρ given z).
   */
  kl: number;
  /** Whether kl is the augmented-space upper bound (Hamiltonian flows). */
  augmented: boolean;
  /** standard error of the Monte Carlo estimate of F */
  standardError: number;
  freeEnergy: number;
  logZ: number;
  samples: number;
}

/** KL(q ‖ p) = E_q[ln q(z) + U(z)] + ln Z, with F estimated from `samples` draws (in batches). */
export function estimateKL(
  q: FlowDistribution,
  target: TargetName,
  logZ: number,
  samples = 100_000,
  seed = 12345,
): KLEstimate {
  return runLoop(klLoop(q, target, logZ, samples, seed));
}

/** estimateKL for backends that read values only asynchronously (gpu.js webgpu): the same draws, on the device. */
export function estimateKLAsync(
  q: FlowDistribution,
  target: TargetName,
  logZ: number,
  samples = 100_000,
  seed = 12345,
): Promise<KLEstimate> {
  return runLoopAsync(klLoop(q, target, logZ, samples, seed));
}

function* klLoop(
  q: FlowDistribution,
  target: TargetName,
  logZ: number,
  samples: number,
  seed: number,
): Loop<KLEstimate> {
  const { U, logZOffset, augmented } = scoringEnergy(q, target);
  const random = new Random(seed);
  let sum = 0,
    sumSq = 0,
    n = 0;
  while (n < samples) {
    const m = Math.min(10_000, samples - n);
    const values = yield {
      read: tidy(() =>
        noGrad(() => {
          const { z, logProb } = q.sample(m, random);
          return logProb.add(U(z));
        }),
      ),
    };
    for (const v of values) {
      sum += v;
      sumSq += v * v;
    }
    n += m;
  }
  const mean = sum / n,
    variance = Math.max(0, sumSq / n - mean * mean);
  return {
    kl: mean + logZ + logZOffset,
    augmented,
    standardError: Math.sqrt(variance / n),
    freeEnergy: mean,
    logZ: logZ + logZOffset,
    samples: n,
  };
}
