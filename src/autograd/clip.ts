// Gradient clipping by the global norm (PyTorch's clip_grad_norm_): every gradient is scaled by the
// same factor, so one outsized minibatch gradient cannot throw the parameters far while the
// update's direction is kept.
import { noGrad } from "./graph.js";
import { keepStorage } from "./storage.js";
import type { Tensor } from "./tensor.js";
import { tidy } from "./tidy.js";

function withGrads(params: Iterable<Tensor>): Tensor[] {
  return [...params].filter((p) => p.grad !== null);
}

/**
 * The 2-norm of all the parameters' gradients together, √(Σ_p Σ_i g_pi²), as a scalar tensor
 * (no graph; on a device it stays there until read). Parameters without a gradient count as zero.
 */
export function gradNorm(params: Iterable<Tensor>): Tensor {
  const grads = withGrads(params).map((p) => p.grad!);
  if (grads.length === 0) throw new Error("gradNorm: none of the parameters has a gradient (call backward() first)");
  return tidy(() =>
    noGrad(() =>
      grads
        .map((g) => g.square().sum())
        .reduce((total, s) => total.add(s))
        .sqrt(),
    ),
  );
}

/** Multiply every parameter's gradient by `factor`, replacing it (no graph). */
export function scaleGrads(params: Iterable<Tensor>, factor: number): void {
  if (!Number.isFinite(factor) || factor < 0)
    throw new Error(`scaleGrads: factor must be a finite number ≥ 0, got ${factor}`);
  for (const p of withGrads(params)) {
    const scaled = noGrad(() => p.grad!.mul(factor));
    // The new gradient outlives any tidy() it was made in, as backward()'s gradients do.
    keepStorage(scaled.storage);
    p.zeroGrad();
    p.grad = scaled;
  }
}

/** The factor clipGradNorm scales by: 1 at or below maxNorm, maxNorm / norm above it. */
export function clipFactor(norm: number, maxNorm: number): number {
  return norm > maxNorm ? maxNorm / norm : 1;
}

/** Throw unless `maxNorm` is a usable clipping threshold (a positive finite number). */
export function checkMaxNorm(maxNorm: number, caller: string): void {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm))
    throw new Error(`${caller}: the clipping norm must be a positive finite number, got ${maxNorm}`);
}

/**
 * Clip the gradients' global norm to at most maxNorm: where gradNorm(params) exceeds it, every
 * gradient is scaled by maxNorm / norm. Returns the norm before clipping. It reads the norm back,
 * synchronously; on a backend that reads only asynchronously (webgpu) read gradNorm() and call
 * scaleGrads() (the training loop does that). A non-finite norm is an error, not a silent step.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  checkMaxNorm(maxNorm, "clipGradNorm");
  const list = [...params];
  const norm = gradNorm(list).toHost().data[0]!;
  if (!Number.isFinite(norm)) throw new Error(`clipGradNorm: the gradients' norm is ${norm}`);
  const factor = clipFactor(norm, maxNorm);
  if (factor < 1) scaleGrads(list, factor);
  return norm;
}
