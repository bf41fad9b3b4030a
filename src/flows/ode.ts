import { addN, noGrad, type Tensor } from "../autograd/index.js";

// ODE solvers for continuous-time flows, written with tensor ops: the solution is an ordinary
// autograd graph, so training can backpropagate through the solver's steps (or solve the adjoint
// ODE instead: adjoint.ts). The state is a list of tensors (a CNF's points and its log-det).

export type OdeState = Tensor[];
/** dy/dt = f(t, y), one tensor of derivatives per state tensor. */
export type OdeFunction = (t: number, y: OdeState) => OdeState;

export interface SolveStats {
  /** Evaluations of f. */
  evaluations: number;
  /** Accepted steps. */
  steps: number;
  /** Steps an adaptive solver tried and rejected. */
  rejected: number;
}

export interface Solution {
  y: OdeState;
  stats: SolveStats;
}

/** y + Σ_i c_i k_i, per state tensor (terms with c_i = 0 left out). */
function combine(y: OdeState, coefficients: readonly number[], ks: readonly OdeState[]): OdeState {
  return y.map((yj, j) => {
    const terms = [yj, ...coefficients.flatMap((c, i) => (c === 0 ? [] : [ks[i]![j]!.mul(c)]))];
    return terms.length === 1 ? yj : addN(terms);
  });
}

/** Throw, saying where, if a state holds NaN or ±Infinity (values on the host only). */
function checkFiniteState(solver: string, y: OdeState, t: number, step: number): void {
  for (const tensor of y) {
    if (tensor.storage.onDevice) continue;
    const data = tensor.data;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v - v !== 0)
        throw new Error(
          `${solver}: the state became ${v} at t = ${t} (step ${step}); the dynamics blow up there — a smaller learning rate, a shorter time, or tighter tolerances`,
        );
    }
  }
}

function checkInterval(solver: string, t0: number, t1: number): void {
  if (!Number.isFinite(t0) || !Number.isFinite(t1))
    throw new Error(`${solver}: the time interval must be finite, got [${t0}, ${t1}]`);
}

/** Classic fourth-order Runge–Kutta with `steps` equal steps from t0 to t1 (t1 < t0 integrates backwards). */
export function rk4(f: OdeFunction, y0: OdeState, t0: number, t1: number, steps: number): Solution {
  checkInterval("rk4", t0, t1);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`rk4: steps must be a positive integer, got ${steps}`);
  const h = (t1 - t0) / steps;
  let y = y0;
  for (let n = 0; n < steps; n++) {
    const t = t0 + n * h;
    const k1 = f(t, y);
    const k2 = f(t + h / 2, combine(y, [h / 2], [k1]));
    const k3 = f(t + h / 2, combine(y, [h / 2], [k2]));
    const k4 = f(t + h, combine(y, [h], [k3]));
    y = combine(y, [h / 6, h / 3, h / 3, h / 6], [k1, k2, k3, k4]);
    checkFiniteState("rk4", y, t + h, n + 1);
  }
  return { y, stats: { evaluations: 4 * steps, steps, rejected: 0 } };
}

export interface Dopri5Options {
  /** Relative tolerance per element (default 1e-6). */
  rtol?: number;
  /** Absolute tolerance per element (default 1e-8). */
  atol?: number;
  /** Most steps, accepted or not, before giving up with an error (default 10,000). */
  maxSteps?: number;
  /** First step size to try (default a tenth of the interval). */
  firstStep?: number;
}

// Dormand–Prince 5(4): the fifth-order solution is kept (local extrapolation), the embedded
// fourth-order one measures the error; the last stage is the next step's first (FSAL).
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
const B5 = A[6]!;
const B4 = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];
const E = B5.map((b, i) => b - B4[i]!).concat([-B4[6]!]);

/**
 * Adaptive Dormand–Prince 5(4) from t0 to t1: a step is accepted when the RMS over every state
 * element of err / (atol + rtol·max(|y|, |y_new|)) is at most 1, and the next step is scaled by
 * 0.9·err^(−1/5) (between 0.2× and 10×). The step sizes are chosen from values and held constant
 * by autograd. Past maxSteps, or when the step underflows, it stops with an error that says where.
 */
export function dopri5(f: OdeFunction, y0: OdeState, t0: number, t1: number, options: Dopri5Options = {}): Solution {
  checkInterval("dopri5", t0, t1);
  const { rtol = 1e-6, atol = 1e-8, maxSteps = 10_000 } = options;
  if (!(rtol >= 0 && atol >= 0 && rtol + atol > 0))
    throw new Error(`dopri5: rtol and atol must be non-negative and not both 0, got ${rtol} and ${atol}`);
  if (!Number.isInteger(maxSteps) || maxSteps < 1)
    throw new Error(`dopri5: maxSteps must be a positive integer, got ${maxSteps}`);
  const span = t1 - t0,
    direction = Math.sign(span) || 1;
  const stats: SolveStats = { evaluations: 0, steps: 0, rejected: 0 };
  if (span === 0) return { y: y0, stats };
  const evaluate = (t: number, y: OdeState): OdeState => {
    stats.evaluations++;
    return f(t, y);
  };
  let t = t0,
    y = y0,
    h = direction * Math.min(Math.abs(options.firstStep ?? span / 10), Math.abs(span));
  let k1 = evaluate(t, y);
  for (let attempt = 0; ; attempt++) {
    if (attempt >= maxSteps) {
      throw new Error(
        `dopri5: did not reach t = ${t1} within ${maxSteps} steps at rtol ${rtol}, atol ${atol} (reached t = ${t}); loosen the tolerances, raise maxSteps, or shorten the time`,
      );
    }
    if (direction * (t + h - t1) > 0) h = t1 - t; // land on t1
    if (Math.abs(h) <= 1e-12 * Math.abs(span) || t + h === t) {
      throw new Error(
        `dopri5: the step size underflowed to ${h} at t = ${t} (rtol ${rtol}, atol ${atol}); the dynamics are too stiff or not smooth there`,
      );
    }
    const ks: OdeState[] = [k1];
    for (let s = 1; s < 6; s++)
      ks.push(
        evaluate(
          t + C[s]! * h,
          combine(
            y,
            A[s]!.map((a) => a * h),
            ks,
          ),
        ),
      );
    const next = combine(
      y,
      B5.map((b) => b * h),
      ks,
    );
    const k7 = evaluate(t + h, next);
    const error = noGrad(() =>
      errorNorm(
        combine(
          next.map((n) => n.mul(0)),
          E.map((e) => e * h),
          [...ks, k7],
        ),
        y,
        next,
        rtol,
        atol,
      ),
    );
    if (!Number.isFinite(error)) {
      checkFiniteState("dopri5", next, t + h, stats.steps + 1);
      throw new Error(`dopri5: the error estimate became ${error} at t = ${t}`);
    }
    if (error <= 1) {
      t = Math.abs(t1 - (t + h)) <= 1e-14 * Math.abs(span) ? t1 : t + h;
      y = next;
      k1 = k7;
      stats.steps++;
      if (t === t1) return { y, stats };
    } else {
      stats.rejected++;
    }
    h *= Math.min(10, Math.max(0.2, 0.9 * (error === 0 ? 10 : error ** -0.2)));
  }
}

/** RMS over every element of err / (atol + rtol·max(|y|, |y_new|)), read on the host. */
function errorNorm(err: OdeState, y: OdeState, next: OdeState, rtol: number, atol: number): number {
  let sum = 0,
    count = 0;
  err.forEach((e, j) => {
    // The step-size control reads the error estimate on the host: a transfer on a device, by name.
    const ed = e.toHost().data,
      yd = y[j]!.toHost().data,
      nd = next[j]!.toHost().data;
    for (let i = 0; i < ed.length; i++) {
      const scale = atol + rtol * Math.max(Math.abs(yd[i]!), Math.abs(nd[i]!));
      sum += (ed[i]! / scale) ** 2;
    }
    count += ed.length;
  });
  return Math.sqrt(sum / Math.max(count, 1));
}
