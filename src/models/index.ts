/** flowgrad/models: the paper's 2-D target densities and fits (6.1), and DLGMs with flow posteriors (6.2). */
export { ENERGIES, TARGETS, BOX_HALF_WIDTH, energy, fittedEnergy, type TargetName } from "./densities.js";
export { viridis, gridPoints, blankImage, drawDensity, drawGrey, type Image } from "./heatmap.js";
export {
  makeFlow2D,
  scoringEnergy,
  annealedBeta,
  freeEnergy,
  fit2D,
  fit2DAsync,
  logPartition,
  logPartitionAsync,
  estimateKL,
  estimateKLAsync,
  type FlowKind,
  type Flow2DKind,
  type CNF2DOptions,
  type Fit2DOptions,
  type Fit2DResult,
  type KLEstimate,
} from "./fit2d.js";
export {
  FlowVAE,
  DEFAULT_VAE,
  trainVAE,
  trainVAEAsync,
  evaluateVAE,
  evaluateVAEAsync,
  pairedDifference,
  sampleDigits,
  type VAEConfig,
  type TrainVAEOptions,
  type TrainVAEResult,
  type VAEEvaluation,
  type VAEEvaluationDetail,
  type Draw,
} from "./vae.js";
export { sampleBinary } from "./binarize.js";
export { runLoop, runLoopAsync, type Loop, type LoopRequest } from "./loop.js";
export {
  langevin,
  kernelSteinDiscrepancy,
  type LangevinOptions,
  type LangevinResult,
  type LangevinSnapshot,
  type SteinDiscrepancy,
} from "./langevin.js";
