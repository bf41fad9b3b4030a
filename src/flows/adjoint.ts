import {
  enableGrad,
  firstOrderOnly,
  fromOpMulti,
  gradients,
  noGrad,
  ones,
  recordedOps,
  sum,
  Tensor,
  zeros,
} from "../autograd/index.js";
import type { FlowOutput } from "./flow.js";
import type { OdeFunction, Solution, SolveStats } from "./ode.js";

// The adjoint method (Chen et al. 2018, "Neural ODEs", section 2): the gradient of a continuous
// flow without a graph of the solver's steps. The forward solve keeps only z(T) and the log-det;
// the backward pass solves a second ODE from T back to 0 for the state z(t) (run backwards), its
// adjoint a(t) = ∂L/∂z(t) and the parameters' gradient, so memory does not grow with the number
// of steps — at the price of one more solve, and of gradients that match backpropagation through
// the steps only to the solver's accuracy (both approximate the exact flow's).
//
// With the log-det l carried along (dl/dt = tr ∂f/∂z), the adjoint of l is the constant ∂L/∂l(T),
// and for every t from T to 0:
//   da/dt  = −aᵀ ∂f/∂z − a_l ∂tr/∂z,     a(T) = ∂L/∂z(T)
//   da_θ/dt = −aᵀ ∂f/∂θ − a_l ∂tr/∂θ,    a_θ(T) = 0
// so a(0) is the gradient for z(0) and a_θ(0) the parameters'.

export interface AdjointProblem {
  /** Who is solving, for error messages. */
  name: string;
  /** f(z, t) and tr(∂f/∂z) per point; differentiable in z and the parameters when grad is on. */
  dynamics: (z: Tensor, t: number) => { dz: Tensor; trace: Tensor };
  /** Every tensor the dynamics depend on that needs a gradient (a module's parameters). */
  parameters: readonly Tensor[];
  /** The solver, from t0 to t1 (t1 < t0 backwards), for both passes. */
  solve: (f: OdeFunction, y0: Tensor[], t0: number, t1: number) => Solution;
  /** The flow's time: the forward pass runs from 0 to T. */
  T: number;
  /** Called with what the forward and the backward solve cost. */
  onStats?: (pass: "forward" | "backward", stats: SolveStats) => void;
}

/** z(T) and log|det ∂z(T)/∂z(0)| from z(0), recorded as one op whose gradient is the adjoint solve. */
export function solveWithAdjoint(z: Tensor, problem: AdjointProblem): FlowOutput {
  const { dynamics, solve, T, onStats } = problem;
  const parameters = problem.parameters.filter((p) => p.requiresGrad);
  checkDependencies(z, problem, parameters);
  const n = z.shape[0]!;
  const forward = noGrad(() =>
    solve(
      (t, [zt]) => {
        const { dz, trace } = dynamics(zt!, t);
        return [dz, trace];
      },
      [z.detach(), zeros([n], { dtype: z.dtype })],
      0,
      T,
    ),
  );
  onStats?.("forward", forward.stats);
  const [zT, logAbsDet] = forward.y as [Tensor, Tensor];
  const [zOut, logDetOut] = fromOpMulti(
    "continuousFlowAdjoint",
    [
      [zT.storage, zT.shape],
      [logAbsDet.storage, logAbsDet.shape],
    ],
    [z, ...parameters],
    ([gz, gl]) => {
      firstOrderOnly("continuousFlowAdjoint");
      const aT = gz ?? zeros(zT.shape, { dtype: z.dtype });
      const aLogDet = gl ?? zeros([n], { dtype: z.dtype }); // constant in t: f does not depend on l
      const augmented: OdeFunction = (t, [zt, a]) => {
        const leaf = new Tensor(zt!.storage, zt!.shape, true);
        const wrt = [leaf, ...parameters];
        const { dz, products } = enableGrad(() => {
          const { dz, trace } = dynamics(leaf, t);
          const total = sum(dz.mul(a!)).add(sum(trace.mul(aLogDet)));
          const g = total.requiresGrad
            ? gradients(total, ones([], { dtype: total.dtype }), { wrt, wrtAsLeaves: true })
            : new Map();
          return { dz: dz.detach(), products: wrt.map((x) => g.get(x) ?? zeros(x.shape, { dtype: x.dtype })) };
        });
        return [dz, ...products.map((p) => p.neg())];
      };
      const back = noGrad(() =>
        solve(augmented, [zT, aT, ...parameters.map((p) => zeros(p.shape, { dtype: p.dtype }))], T, 0),
      );
      onStats?.("backward", back.stats);
      return back.y.slice(1); // a(0) for z, then each parameter's a_θ(0)
    },
  );
  return { z: zOut!, logAbsDet: logDetOut! };
}

/**
 * The adjoint differentiates the dynamics with respect to z and `parameters` only: a tensor that
 * needs a gradient and reaches the vector field some other way (closed over) would silently get
 * none. One evaluation at t = 0, walked back to its leaves, says so first.
 */
function checkDependencies(z: Tensor, { name, dynamics }: AdjointProblem, parameters: readonly Tensor[]): void {
  const leaf = new Tensor(z.storage, z.shape, true);
  const allowed = new Set<Tensor>([leaf, ...parameters]);
  const { dz, trace } = enableGrad(() => dynamics(leaf, 0));
  const reached = [dz, trace, ...recordedOps([dz, trace]).flatMap((op) => op.parents)];
  const hidden = reached.find((t) => t.requiresGrad && !t.node && !allowed.has(t));
  if (hidden)
    throw new Error(
      `${name}: with gradient "adjoint" the vector field depends on a tensor of shape [${hidden.shape.join(", ")}] that requires grad and is not one of the flow's parameters, so it would get no gradient; pass every such tensor in options.parameters, or use gradient "backprop"`,
    );
}
