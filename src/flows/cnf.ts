import {
  addN,
  concat,
  full,
  isGradEnabled,
  MLP,
  Module,
  noGrad,
  Random,
  sum,
  type Tensor,
  vjpFunction,
  zeros,
} from "../autograd/index.js";
import { solveWithAdjoint } from "./adjoint.js";
import { checkPoints, type Flow, type FlowOutput } from "./flow.js";
import { dopri5, type OdeFunction, rk4, type Solution, type SolveStats } from "./ode.js";

// A continuous normalizing flow (neural ODE; the paper's section 3.2 taken to continuous time,
// FFJORD's estimator): z(T) from dz/dt = f(z, t) started at z(0) = z, with
// log|det ∂z(T)/∂z(0)| = ∫₀ᵀ tr(∂f/∂z) dt integrated alongside (the instantaneous change of variables).

export type TraceEstimator = "exact" | "hutchinson";

export interface ContinuousFlowOptions {
  /** The time the flow runs for (default 1). */
  T?: number;
  /** "rk4" (fixed steps, default) or "dopri5" (adaptive). */
  solver?: "rk4" | "dopri5";
  /** RK4 steps (default 10). */
  steps?: number;
  /** dopri5 tolerances and its most steps (defaults 1e-6, 1e-8, 10,000). */
  rtol?: number;
  atol?: number;
  maxSteps?: number;
  /**
   * tr(∂f/∂z): "exact" takes D vector-Jacobian products per evaluation (O(D²) for an MLP);
   * "hutchinson" one, εᵀ(∂f/∂z)ε with a probe ε drawn once per solve, unbiased (FFJORD).
   */
  trace?: TraceEstimator;
  /** Hutchinson's probe: ±1 entries (default) or standard normal ones. */
  probe?: "rademacher" | "gaussian";
  /** Generator for the probes (default: seeded 0). */
  random?: Random | number;
  /**
   * How training gets the gradient: "backprop" (default) records every step of the solver and
   * backpropagates through them (memory grows with the steps; exact for the discretised flow);
   * "adjoint" keeps no steps and solves the adjoint ODE backwards (adjoint.ts: memory constant in
   * the steps, one more solve, gradients exact to the solver's accuracy).
   */
  gradient?: "backprop" | "adjoint";
  /**
   * With gradient "adjoint": every tensor the vector field depends on that needs a gradient
   * (default: the flow's own parameters(); a field that closes over other tensors must list them).
   */
  parameters?: Tensor[];
}

/**
 * A flow given by a vector field f(z, t): [N, D] → [N, D]. `field` is any function of tensors
 * (its parameters may be a module's or closed over); CNF below is the MLP case.
 */
export class ContinuousFlow extends Module implements Flow {
  readonly T: number;
  readonly solver: "rk4" | "dopri5";
  readonly trace: TraceEstimator;
  readonly gradient: "backprop" | "adjoint";
  /** What the last forward or inverse cost: evaluations of f, steps accepted and rejected. */
  lastStats: SolveStats | null = null;
  /** What the last adjoint backward pass cost (gradient "adjoint"). */
  lastBackwardStats: SolveStats | null = null;
  private readonly options: ContinuousFlowOptions;
  private readonly random: Random;

  constructor(
    readonly dim: number,
    readonly field: (z: Tensor, t: number) => Tensor,
    options: ContinuousFlowOptions = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim < 1)
      throw new Error(`ContinuousFlow: dimension must be a positive integer, got ${dim}`);
    this.T = options.T ?? 1;
    if (!(this.T > 0) || !Number.isFinite(this.T))
      throw new Error(`ContinuousFlow: T must be a positive finite time, got ${this.T}`);
    this.solver = options.solver ?? "rk4";
    if (this.solver !== "rk4" && this.solver !== "dopri5")
      throw new Error(`ContinuousFlow: unknown solver "${String(this.solver)}"; choose rk4 or dopri5`);
    this.trace = options.trace ?? "exact";
    if (this.trace !== "exact" && this.trace !== "hutchinson")
      throw new Error(`ContinuousFlow: unknown trace estimator "${String(this.trace)}"; choose exact or hutchinson`);
    this.gradient = options.gradient ?? "backprop";
    if (this.gradient !== "backprop" && this.gradient !== "adjoint")
      throw new Error(`ContinuousFlow: unknown gradient "${String(this.gradient)}"; choose backprop or adjoint`);
    this.options = options;
    this.random = options.random instanceof Random ? options.random : new Random(options.random ?? 0);
  }

  /** f(z, t) and tr(∂f/∂z) per point (exact, or Hutchinson's with the probe given). */
  fieldAndTrace(z: Tensor, t: number, probe: Tensor | null): { dz: Tensor; trace: Tensor } {
    // Training differentiates the trace with respect to the parameters: a second derivative, so
    // the products are recorded (createGraph) while a graph is being recorded, and are constants otherwise.
    const { value: dz, pullback } = vjpFunction((x) => this.field(x, t), z, { createGraph: isGradEnabled() });
    if (dz.rank !== 2 || dz.shape[0] !== z.shape[0] || dz.shape[1] !== this.dim) {
      throw new Error(
        `ContinuousFlow: the vector field must map [N, ${this.dim}] to [N, ${this.dim}], got [${dz.shape.join(", ")}]`,
      );
    }
    const n = z.shape[0]!;
    if (probe) return { dz, trace: sum(pullback(probe).mul(probe), -1) };
    const diagonal: Tensor[] = [];
    for (let i = 0; i < this.dim; i++) {
      const unit = zeros([n, this.dim], { dtype: z.dtype });
      for (let p = 0; p < n; p++) unit.data[p * this.dim + i] = 1;
      diagonal.push(
        pullback(unit)
          .slice([0, i], [n, i + 1])
          .reshape([n]),
      ); // ∂f_i/∂z_i at every point
    }
    return { dz, trace: diagonal.length === 1 ? diagonal[0]! : addN(diagonal) };
  }

  forward(z: Tensor): FlowOutput {
    checkPoints("ContinuousFlow", z, this.dim);
    const n = z.shape[0]!;
    const probe = this.trace === "hutchinson" ? this.drawProbe(n, z.dtype) : null;
    if (this.gradient === "adjoint" && isGradEnabled()) {
      return solveWithAdjoint(z, {
        name: "ContinuousFlow",
        dynamics: (zt, t) => this.fieldAndTrace(zt, t, probe), // the same probe in both passes
        parameters: this.options.parameters ?? this.parameters(),
        solve: (f, y0, t0, t1) => this.integrate(f, y0, t0, t1),
        T: this.T,
        onStats: (pass, stats) => {
          if (pass === "forward") this.lastStats = stats;
          else this.lastBackwardStats = stats;
        },
      });
    }
    const f: OdeFunction = (t, [zt]) => {
      const { dz, trace } = this.fieldAndTrace(zt!, t, probe);
      return [dz, trace];
    };
    const solution = this.integrate(f, [z, zeros([n], { dtype: z.dtype })], 0, this.T);
    this.lastStats = solution.stats;
    const [zT, logAbsDet] = solution.y;
    return { z: zT!, logAbsDet: logAbsDet! };
  }

  /** z(0) from z(T): the same equation integrated backwards in time, without a graph. */
  inverse(x: Tensor): Tensor {
    checkPoints("ContinuousFlow.inverse", x, this.dim);
    const solution = noGrad(() => this.integrate((t, [zt]) => [this.field(zt!, t)], [x], this.T, 0));
    this.lastStats = solution.stats;
    return solution.y[0]!;
  }

  private integrate(f: OdeFunction, y0: Tensor[], t0: number, t1: number): Solution {
    const o = this.options;
    return this.solver === "rk4"
      ? rk4(f, y0, t0, t1, o.steps ?? 10)
      : dopri5(f, y0, t0, t1, { rtol: o.rtol, atol: o.atol, maxSteps: o.maxSteps });
  }

  private drawProbe(n: number, dtype: Tensor["dtype"]): Tensor {
    const probe = zeros([n, this.dim], { dtype });
    const gaussian = this.options.probe === "gaussian";
    for (let i = 0; i < probe.size; i++)
      probe.data[i] = gaussian ? this.random.normal() : this.random.uniform() < 0.5 ? -1 : 1;
    return probe;
  }
}

/** CNF: the vector field is an MLP of (z, t) with tanh (smooth, as the trace's gradient needs). */
export class CNF extends ContinuousFlow {
  readonly net: MLP;
  constructor(
    dim: number,
    options: ContinuousFlowOptions & { hidden?: readonly number[]; random?: Random | number } = {},
  ) {
    const random = options.random instanceof Random ? options.random : new Random(options.random ?? 0);
    const net = new MLP([dim + 1, ...(options.hidden ?? [32, 32]), dim], "tanh", { random });
    super(dim, (z, t) => net.forward(concat([z, full([z.shape[0]!, 1], t, { dtype: z.dtype })], 1)), {
      ...options,
      random,
    });
    this.net = this.addModule("net", net);
  }
}
