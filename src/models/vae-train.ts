// Training a FlowVAE (section 6.2): minibatches of the free energy, the annealed free energy,
// early stopping on a validation split, and checkpoints that let an interrupted run continue
// exactly where it stopped. One loop serves both backends (loop.ts): trainVAE reads values
// synchronously, trainVAEAsync awaits them (webgpu).

import {
  Adam,
  checkMaxNorm,
  clipFactor,
  gradNorm,
  noGrad,
  type Optimizer,
  type OptimizerState,
  Random,
  RMSprop,
  scaleGrads,
  Tensor,
  tidy,
} from "../autograd/index.js";
import { annealedBeta, annealedEpoch } from "./anneal.js";
import { sampleBinary } from "./binarize.js";
import { type Loop, runLoop, runLoopAsync } from "./loop.js";
import { type FlowVAE, imageCount } from "./vae.js";

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
  /**
   * Clip the gradients' global norm to this before every update (clipGradNorm); default: no
   * clipping. It costs one more read per step; the result counts the clipped updates per epoch.
   */
  clipNorm?: number;
  /**
   * Read the gradients' global norm at every update (before any clipping) and summarise each
   * epoch's in the result (gradNorms); on with clipNorm. It changes no value the run computes.
   */
  recordGradNorms?: boolean;
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
   * checkpoint of a 400-unit model is tens of megabytes as JSON (484 MB with a K = 80 planar flow
   * head: 400 × 6,480 weights, with Adam's two moments and early stopping's copy); a minute's work
   * is what a crash may cost.
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

/** One epoch's gradient norms (global 2-norm of every update's gradients, before clipping). */
export interface GradNormSummary {
  median: number;
  /** the 90th percentile (nearest rank) */
  p90: number;
  max: number;
  /** the update (1-based, counted over the whole run) with the largest norm */
  maxStep: number;
}

/** Summarise one epoch's gradient norms; `firstStep` is the 1-based step of norms[0]. */
export function summariseGradNorms(norms: readonly number[], firstStep: number): GradNormSummary {
  if (norms.length === 0) throw new Error("summariseGradNorms: no norms");
  const sorted = [...norms].sort((a, b) => a - b);
  const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const n = sorted.length,
    median = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const max = sorted[n - 1]!;
  return { median, p90: rank(0.9), max, maxStep: firstStep + norms.indexOf(max) };
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
  /** clipped updates per epoch (absent in checkpoints of runs without clipping) */
  clippedSteps?: number[];
  /** per-epoch gradient norms (absent in checkpoints of runs that do not record them) */
  gradNorms?: GradNormSummary[];
  /** scoreStart's epoch 0 (absent in checkpoints of runs without it) */
  startValidationLoss?: number | null;
  seconds: number;
}

export interface TrainVAEResult {
  /** the free energy of every update */
  losses: number[];
  /** the validation −ELBO after each epoch (empty without validation) */
  validationLosses: number[];
  /** with clipNorm: how many updates of each epoch had their gradients clipped; else empty */
  clippedSteps: number[];
  /** with recordGradNorms or clipNorm: each epoch's gradient norms; else empty */
  gradNorms: GradNormSummary[];
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
  const clipNorm = options.clipNorm;
  if (clipNorm !== undefined) checkMaxNorm(clipNorm, "trainVAE");
  const readNorms = clipNorm !== undefined || options.recordGradNorms === true;
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
    validationLosses: number[] = [],
    clippedSteps: number[] = [],
    gradNorms: GradNormSummary[] = [];
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
    clippedSteps.push(...(resume.clippedSteps ?? []));
    gradNorms.push(...(resume.gradNorms ?? []));
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
      ...(clipNorm !== undefined ? { clippedSteps: [...clippedSteps] } : {}),
      ...(readNorms ? { gradNorms: [...gradNorms] } : {}),
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
    if (clipNorm !== undefined) clippedSteps.push(0);
    const epochNorms: number[] = [],
      epochStart = step + 1;
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
      if (readNorms && Number.isFinite(value)) {
        const norm = (yield { read: gradNorm(trained) })[0]!;
        if (!Number.isFinite(norm))
          throw new Error(`trainVAE: the gradients' norm became ${norm} at step ${step}; lower the learning rate`);
        epochNorms.push(norm);
        const factor = clipNorm === undefined ? 1 : clipFactor(norm, clipNorm);
        if (factor < 1) {
          scaleGrads(trained, factor);
          clippedSteps[clippedSteps.length - 1]!++;
        }
      }
      yield { update: opt };
      if (!Number.isFinite(value))
        throw new Error(`trainVAE: the free energy became ${value} at step ${step}; lower the learning rate`);
      losses.push(value);
      options.onStep?.(++step, total, value);
    }
    epochsRun = e + 1;
    if (readNorms) gradNorms.push(summariseGradNorms(epochNorms, epochStart));
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
    clippedSteps,
    gradNorms,
    epochsRun,
    bestEpoch,
    startValidationLoss,
    seconds: (performance.now() - started) / 1000,
    stoppedBy,
  };
}
