// Scoring a trained FlowVAE: the test −ELBO and −ln p(x) by importance sampling, per example so
// that two models scored on the same digits can be compared paired (statistics.ts).

import { noGrad, Random, Tensor, tidy } from "../autograd/index.js";
import { type Loop, runLoop, runLoopAsync } from "./loop.js";
import { meanAndError } from "./statistics.js";
import { type FlowVAE, imageCount } from "./vae.js";

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
