/** flowgrad/models: the paper's 2-D target densities and the fits of section 6.1. */
export { ENERGIES, TARGETS, BOX_HALF_WIDTH, energy, fittedEnergy, type TargetName } from "./densities.js";
export { viridis, gridPoints, blankImage, drawDensity, drawGrey, type Image } from "./heatmap.js";
export { makeFlow2D, annealedBeta, freeEnergy, fit2D, logPartition, estimateKL, type FlowKind, type Fit2DOptions, type Fit2DResult, type KLEstimate } from "./fit2d.js";
