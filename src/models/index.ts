/** flowgrad/models: the paper's 2-D target densities and fits (6.1), and DLGMs with flow posteriors (6.2). */

export { annealedBeta, annealedEpoch } from "./anneal.js";
export { sampleBinary } from "./binarize.js";
export { BOX_HALF_WIDTH, ENERGIES, energy, fittedEnergy, TARGETS, type TargetName } from "./densities.js";
export {
  type CNF2DOptions,
  estimateKL,
  estimateKLAsync,
  type Fit2DOptions,
  type Fit2DResult,
  type Flow2DKind,
  type FlowKind,
  fit2D,
  fit2DAsync,
  freeEnergy,
  type KLEstimate,
  logPartition,
  logPartitionAsync,
  makeFlow2D,
  scoringEnergy,
} from "./fit2d.js";
export {
  blankImage,
  drawDensity,
  drawGrey,
  gridPoints,
  type Image,
  labelledGrid,
  type PanelGrid,
  viridis,
} from "./heatmap.js";
export {
  kernelSteinDiscrepancy,
  type LangevinOptions,
  type LangevinResult,
  type LangevinSnapshot,
  langevin,
  type SteinDiscrepancy,
} from "./langevin.js";
export { fitLocalPosteriors, type LocalPosteriorFit, type LocalPosteriorOptions } from "./local-posterior.js";
export { type Loop, type LoopRequest, runLoop, runLoopAsync } from "./loop.js";
export {
  boundWithLayers,
  type PlanarLayerReport,
  type PlanarLayerStats,
  planarLayerStats,
  SATURATED,
  TRANSLATES,
} from "./planar-layer-stats.js";
export { meanAndError, pairedDifference } from "./statistics.js";
export { drawText, textWidth } from "./text.js";
export { DEFAULT_VAE, type Draw, FlowVAE, sampleDigits, type VAEConfig } from "./vae.js";
export { evaluateVAE, evaluateVAEAsync, type VAEEvaluation, type VAEEvaluationDetail } from "./vae-evaluate.js";
export {
  type BestSoFar,
  type GradNormSummary,
  summariseGradNorms,
  type TrainingCheckpoint,
  type TrainVAEOptions,
  type TrainVAEResult,
  trainVAE,
  trainVAEAsync,
} from "./vae-train.js";
