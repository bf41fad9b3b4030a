import type { Tensor } from "./tensor.js";

/**
 * Vector-Jacobian product of one op: given dL/d(output) for each of its outputs (null where no
 * gradient reached that output), return dL/d(input) for each input (null: none).
 */
export type BackwardRule = (grads: Array<Tensor | null>) => Array<Tensor | null>;

/**
 * One recorded op: its name, its inputs, its outputs (most ops have one; a fused flow layer has
 * two, the points and the log-dets) and its rule. Backward runs each node once, with the
 * gradients of all its outputs.
 */
export interface Node {
  readonly op: string;
  parents: Tensor[];
  outputs: Tensor[];
  backward: BackwardRule | null; // null once the graph is released
}

let gradEnabled = true;

/** Run fn with one of this module's switches set to `value`, and put it back afterwards (also when fn throws). */
function withSetting<T>(get: () => boolean, set: (value: boolean) => void, value: boolean, fn: () => T): T {
  const before = get();
  set(value);
  try {
    return fn();
  } finally {
    set(before);
  }
}

let anomalyDetection = false;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn without recording a graph: its results do not require grad. */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Run fn with recording on, even inside noGrad (PyTorch's enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/** Run fn with recording on (or off): a backward pass that creates a graph records its rules even inside noGrad. */
export function withGradMode<T>(on: boolean, fn: () => T): T {
  return withSetting(
    () => gradEnabled,
    (v) => (gradEnabled = v),
    on,
    fn,
  );
}

// True while a backward pass runs its rules with createGraph: a rule that cannot record itself
// (a raw kernel call, no tensor ops) checks this and refuses by name instead of returning a constant.
let creatingGraph = false;

export function isCreatingGraph(): boolean {
  return creatingGraph;
}

/** Run a backward pass's rules in createGraph mode (or not): recorded, and with isCreatingGraph() set. */
export function withCreateGraph<T>(on: boolean, fn: () => T): T {
  return withSetting(
    () => creatingGraph,
    (v) => (creatingGraph = v),
    on,
    () => withGradMode(on, fn),
  );
}

// True while a function runs whose gradient will be taken with createGraph (grad, hvp, hessian,
// jvp do that): a fused op then records its composed reference directly, which the second pass needs
// anyway, instead of running its fused kernel now and recomputing the composed ops in the backward.
let composedPreferred = false;

export function isComposedPreferred(): boolean {
  return composedPreferred && gradEnabled;
}

/** Run fn (a forward that a createGraph pass will differentiate) with fused ops recording their composed references. */
export function preferComposed<T>(on: boolean, fn: () => T): T {
  return withSetting(
    () => composedPreferred,
    (v) => (composedPreferred = v),
    on,
    fn,
  );
}

/**
 * Call at the top of a backward rule that computes its result outside the graph (a kernel on raw
 * arrays): in a createGraph pass it throws, naming the op, rather than hand back a gradient whose
 * own derivative would silently be zero.
 */
export function firstOrderOnly(op: string): void {
  if (creatingGraph) {
    throw new Error(
      `backward: op "${op}" has a first-order backward rule only; its gradient cannot be differentiated again (createGraph). Write it with tensor ops, or give it a rule for the second pass`,
    );
  }
}

/** When on, every op checks its outputs and gradients and names the first to produce NaN or Infinity. */
export function detectAnomaly(on = true): void {
  anomalyDetection = on;
}

export function isAnomalyDetectionEnabled(): boolean {
  return anomalyDetection;
}

/** The op whose backward rule is running, so anomalies inside a rule are blamed on that op. */
let ruleOf: string | null = null;

export function runningRuleOf<T>(op: string, fn: () => T): T {
  const before = ruleOf;
  ruleOf = op;
  try {
    return fn();
  } finally {
    ruleOf = before;
  }
}

/** Throw naming the op if data holds a NaN or an Infinity (used only in anomaly mode). */
export function checkFinite(op: string, phase: "forward" | "backward", data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      const where = ruleOf !== null ? `the backward of op "${ruleOf}"` : `the ${phase} of op "${op}"`;
      throw new Error(`detectAnomaly: ${where} produced ${Number.isNaN(v) ? "NaN" : v} at flat index ${i}`);
    }
  }
}
