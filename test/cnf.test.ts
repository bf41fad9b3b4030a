import { describe, expect, it } from "vitest";
import * as ag from "../src/autograd/index.js";
import { Random, type Tensor } from "../src/autograd/index.js";
import { CNF, ContinuousFlow, dopri5, FlowDistribution, jacobian, logAbsDet, rk4 } from "../src/flows/index.js";
import { estimateKL, fit2D, fittedEnergy, freeEnergy, logPartition, makeFlow2D } from "../src/models/index.js";
import { expectClose, expectGradcheck, randomTensor } from "./helpers.js";

const rng = new Random(31);
const T = (shape: number[], scale = 1) => randomTensor(rng, shape).mul(scale).detach();

/** e^M for a small matrix, by scaling and squaring a Taylor series (plain numbers, independent of the engine). */
function expm(m: number[][]): number[][] {
  const norm = Math.max(...m.map((row) => row.reduce((s, v) => s + Math.abs(v), 0)));
  const squarings = Math.max(0, Math.ceil(Math.log2(norm + 1)) + 4),
    scale = 2 ** -squarings;
  const mul = (a: number[][], b: number[][]) =>
    a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
  let term: number[][] = m.map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
  let result: number[][] = term.map((row) => [...row]);
  for (let k = 1; k < 30; k++) {
    term = mul(
      term,
      m.map((row) => row.map((v) => (v * scale) / k)),
    );
    result = result.map((row, i) => row.map((v, j) => v + term[i]![j]!));
  }
  for (let s = 0; s < squarings; s++) result = mul(result, result);
  return result;
}

describe("ODE solvers against closed-form solutions", () => {
  // dy/dt = A y for y = (position, velocity) of an oscillator: y(t) = (cos t, −sin t) from (1, 0).
  const oscillator = (_t: number, [y]: Tensor[]) => [
    y!.matmul(
      ag.tensor([
        [0, -1],
        [1, 0],
      ]),
    ),
  ];
  it("rk4 converges at fourth order: halving the step divides the error by about 16", () => {
    const error = (steps: number) => {
      const { y } = rk4(oscillator, [ag.tensor([[1, 0]])], 0, 2, steps);
      return Math.hypot(y[0]!.data[0]! - Math.cos(2), y[0]!.data[1]! + Math.sin(2));
    };
    const ratio = error(20) / error(40);
    expect(ratio).toBeGreaterThan(14);
    expect(ratio).toBeLessThan(18);
  });
  it("dopri5 meets its tolerance, adapts its steps, and integrates backwards in time", () => {
    const forward = dopri5(oscillator, [ag.tensor([[1, 0]])], 0, 10, { rtol: 1e-9, atol: 1e-12 });
    expectClose(forward.y[0]!.data, [Math.cos(10), -Math.sin(10)], 0, 1e-7);
    expect(forward.stats.steps).toBeGreaterThan(10);
    expect(forward.stats.evaluations).toBe(1 + 6 * (forward.stats.steps + forward.stats.rejected)); // FSAL: 6 new stages a step
    const back = dopri5(oscillator, forward.y, 10, 0, { rtol: 1e-9, atol: 1e-12 });
    expectClose(back.y[0]!.data, [1, 0], 0, 1e-6);
  });
  it("dopri5 stops with an error naming the tolerance and the time reached: past maxSteps, a blow-up, an underflowing step", () => {
    expect(() => dopri5(oscillator, [ag.tensor([[1, 0]])], 0, 100, { rtol: 1e-12, atol: 1e-14, maxSteps: 20 })).toThrow(
      /dopri5: did not reach t = 100 within 20 steps at rtol 1e-12, atol 1e-14 \(reached t = [\d.]+\)/,
    );
    // dy/dt = y² from y = 1 blows up at t = 1.
    const blowUp = (_t: number, [y]: Tensor[]) => [y!.square()];
    expect(() => dopri5(blowUp, [ag.tensor([1])], 0, 2, { maxSteps: 100_000 })).toThrow(
      /dopri5: (the step size underflowed to .* at t = (0\.99|1\.00)\d*|the state became (Infinity|NaN) at t = )/,
    );
    expect(() => rk4(blowUp, [ag.tensor([1])], 0, 2, 10)).toThrow(
      /rk4: the state became (Infinity|NaN) at t = [\d.]+ \(step \d+\); the dynamics blow up/,
    );
    expect(() => rk4(oscillator, [ag.tensor([[1, 0]])], 0, 1, 0)).toThrow(
      /rk4: steps must be a positive integer, got 0/,
    );
    expect(() => dopri5(oscillator, [ag.tensor([[1, 0]])], 0, Infinity)).toThrow(
      /dopri5: the time interval must be finite/,
    );
  });
});

describe("continuous flows", () => {
  const A = [
    [0.3, -0.8, 0.1],
    [0.5, -0.2, 0.4],
    [-0.6, 0.2, 0.1],
  ];
  const linear = (trace: "exact" | "hutchinson", solver: "rk4" | "dopri5" = "rk4") =>
    new ContinuousFlow(3, (z) => z.matmul(ag.tensor(A).transpose()), {
      trace,
      solver,
      steps: 40,
      rtol: 1e-10,
      atol: 1e-12,
      random: 4,
    });
  it("linear dynamics dz/dt = A z: z(1) = e^A z(0), and log|det| = tr(A) exactly", () => {
    const z0 = T([5, 3]);
    const eA = expm(A);
    for (const solver of ["rk4", "dopri5"] as const) {
      const { z, logAbsDet } = linear("exact", solver).forward(z0);
      const expected = Array.from({ length: 5 }, (_, p) =>
        eA.map((row) => row.reduce((s, v, j) => s + v * z0.data[p * 3 + j]!, 0)),
      ).flat();
      expectClose(z.data, expected, 1e-7, 1e-8);
      expectClose(logAbsDet.data, new Array(5).fill(0.3 - 0.2 + 0.1), 1e-12, 1e-12);
    }
  });
  it("Hutchinson's trace is unbiased: over many points its mean is tr(A), within its standard error", () => {
    const n = 4000;
    const { logAbsDet } = linear("hutchinson").forward(T([n, 3]));
    const values = Array.from(logAbsDet.data),
      mean = values.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
    expect(sd).toBeGreaterThan(0.1); // one probe per point: each value is noisy
    expect(Math.abs(mean - 0.2)).toBeLessThan((4 * sd) / Math.sqrt(n));
  });
  it("a CNF's log-det matches the general-Jacobian baseline (full Jacobian of the whole solve, then LU) in float64", () => {
    const cnf = new CNF(3, { hidden: [16], solver: "dopri5", rtol: 1e-11, atol: 1e-13, random: 2 });
    const z = T([4, 3]);
    const { logAbsDet: analytic } = cnf.forward(z);
    const brute = logAbsDet(jacobian((x) => cnf.forward(x).z, z).detach());
    expectClose(analytic.data, brute.data, 1e-7, 1e-8);
    expect(cnf.lastStats!.steps).toBeGreaterThan(1);
  });
  it("inverse integrates backwards: f⁻¹(f(z)) = z to the solver's tolerance", () => {
    const cnf = new CNF(2, { hidden: [16, 16], solver: "dopri5", rtol: 1e-9, atol: 1e-11, random: 5 });
    const z = T([20, 2]);
    expectClose(cnf.inverse(cnf.forward(z).z).data, z.data, 1e-6, 1e-7);
  });
  it("gradients through a short RK4 solve (vector field, trace and all) pass gradcheck, parameters and points", () => {
    const f = (z: Tensor, w1: Tensor, w2: Tensor, c: Tensor) => {
      const flow = new ContinuousFlow(2, (x, t) => x.matmul(w1).add(c.mul(t)).tanh().matmul(w2), { steps: 3 });
      const out = flow.forward(z);
      return out.z.square().sum(1).add(out.logAbsDet);
    };
    expectGradcheck(f, [T([3, 2]), T([2, 4], 0.7), T([4, 2], 0.7), T([4], 0.5)]);
  });
  it("in a FlowDistribution: ln q of samples equals ln q through the inverse", () => {
    const q = new FlowDistribution(new CNF(2, { hidden: [8], solver: "dopri5", rtol: 1e-9, atol: 1e-11, random: 3 }));
    const { z, logProb } = q.sample(50, 7);
    expectClose(q.logProb(z.detach()).data, logProb.data, 1e-6, 1e-6);
  });
  it("bad input is an error that says what is wrong", () => {
    const wrongShape = new ContinuousFlow(2, (z) => z.sum(1, true), {});
    expect(() => wrongShape.forward(T([3, 2]))).toThrow(
      /ContinuousFlow: the vector field must map \[N, 2\] to \[N, 2\], got \[3, 1\]/,
    );
    expect(() => new CNF(2).forward(T([3, 3]))).toThrow(
      /ContinuousFlow: expected points of shape \[N, 2\], got \[3, 3\]/,
    );
    expect(() => new CNF(2, { solver: "euler" as never })).toThrow(/unknown solver "euler"/);
    expect(() => new CNF(2, { T: -1 })).toThrow(/T must be a positive finite time, got -1/);
    const explosive = new ContinuousFlow(1, (z) => z.square().mul(50), { steps: 4 });
    expect(() => explosive.forward(ag.tensor([[2]]))).toThrow(/rk4: the state became (Infinity|NaN)/);
  });
});

describe("fitting a CNF to the paper's 2-D densities", () => {
  it("a flow whose dimension does not match the target is an error that says so", () => {
    const q = new FlowDistribution(new CNF(3, { hidden: [4], steps: 1 }));
    expect(() => freeEnergy(q, fittedEnergy("U1"), 10, 1, new Random(0))).toThrow(
      /energy: expected points of shape \[N, 2\], got \[10, 3\]/,
    );
    expect(() => estimateKL(q, "U1", 0, 100)).toThrow(
      /the 2-D fits score distributions on 2 coordinates \(or 4 for a Hamiltonian flow\), got 3/,
    );
  });
  it("fit2D with flow \"cnf\" (exact trace, then Hutchinson's) lowers KL(q‖p) on U1 well below the base distribution's", () => {
    const logZ = logPartition("U1", 600);
    const before = estimateKL(makeFlow2D("cnf", 8, new Random(0)), "U1", logZ, 5000);
    for (const trace of ["exact", "hutchinson"] as const) {
      const { q, losses } = fit2D({
        target: "U1",
        flow: "cnf",
        K: 8,
        cnf: { steps: 4, trace },
        steps: 150,
        batchSize: 50,
        lr: 0.02,
        seed: 0,
      });
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(estimateKL(q, "U1", logZ, 5000).kl).toBeLessThan(before.kl / 2);
    }
  }, 60_000);
});

describe('the adjoint method (gradient: "adjoint")', () => {
  const z0 = T([6, 2]);
  const loss = (out: { z: Tensor; logAbsDet: Tensor }) => out.z.square().sum().add(out.logAbsDet.mul(3).sum());
  /** The flow's output for points that require grad. */
  function forwardOf(options: ConstructorParameters<typeof CNF>[1]) {
    const cnf = new CNF(2, { hidden: [8, 8], random: 5, ...options });
    const z = z0.detach().requireGrad(true);
    return { cnf, z, out: cnf.forward(z) };
  }
  /** L = Σ|z(T)|² + 3 Σ log|det|, and its gradient for the points and every parameter, flattened. */
  function gradientOf(options: ConstructorParameters<typeof CNF>[1]) {
    const { cnf, z, out } = forwardOf(options);
    loss(out).backward();
    return { cnf, grads: [z.grad!, ...cnf.parameters().map((p) => p.grad!)].flatMap((g) => Array.from(g.data)) };
  }
  const gap = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

  it("equals backpropagation through the steps to RK4's order: halving the step divides the gap by about 16", () => {
    for (const trace of ["exact", "hutchinson"] as const) {
      const gapAt = (steps: number) =>
        gap(gradientOf({ steps, trace, gradient: "adjoint" }).grads, gradientOf({ steps, trace }).grads);
      const [g10, g20, g40] = [gapAt(10), gapAt(20), gapAt(40)];
      expect(g40).toBeLessThan(1e-6); // the gradients themselves are of size 1–20
      expect(g10 / g20).toBeGreaterThan(12);
      expect(g20 / g40).toBeGreaterThan(12);
      expect(g20 / g40).toBeLessThan(20);
    }
  });

  it("matches central differences of the flow itself (RK4 with 60 steps), points and parameters", () => {
    const { grads } = gradientOf({ hidden: [4], steps: 40, gradient: "adjoint" });
    const reference = new CNF(2, { hidden: [4], random: 5, steps: 60 });
    const numeric: number[] = [];
    const h = 1e-5;
    for (const x of [z0, ...reference.parameters()]) {
      for (let i = 0; i < x.size; i++) {
        const keep = x.data[i]!;
        const at = (v: number) => {
          x.data[i] = v;
          return ag.noGrad(() => loss(reference.forward(z0)).item());
        };
        numeric.push((at(keep + h) - at(keep - h)) / (2 * h));
        x.data[i] = keep;
      }
    }
    expect(numeric.length).toBe(grads.length);
    expectClose(grads, numeric, 1e-6, 1e-6);
  });

  it("keeps one op in the graph whatever the steps, where backpropagation keeps every step's", () => {
    /** Ops reachable from the flow's outputs: what the backward pass holds on to. */
    const opsHeld = (steps: number, gradient: "backprop" | "adjoint") => {
      const { out } = forwardOf({ steps, gradient });
      return ag.recordedOps([out.z, out.logAbsDet]).length;
    };
    expect(opsHeld(5, "adjoint")).toBe(1);
    expect(opsHeld(40, "adjoint")).toBe(1);
    expect(opsHeld(40, "backprop")).toBeGreaterThan(6 * opsHeld(5, "backprop"));
  });

  it("reports what each pass cost, and is an ordinary solve where no gradient is recorded", () => {
    const { cnf } = gradientOf({ steps: 7, gradient: "adjoint" });
    expect(cnf.lastStats!.evaluations).toBe(28);
    expect(cnf.lastBackwardStats!.evaluations).toBe(28);
    const plain = new CNF(2, { hidden: [8, 8], random: 5, steps: 7 });
    expectClose(ag.noGrad(() => cnf.forward(z0)).z.data, ag.noGrad(() => plain.forward(z0)).z.data, 0, 0);
  });

  it("bad use is an error that says what is wrong: a tensor it cannot see, a second derivative, an unknown option", () => {
    const w = T([2, 2]).requireGrad(true);
    const closedOver = new ContinuousFlow(2, (z) => z.matmul(w).tanh(), { gradient: "adjoint", steps: 2 });
    expect(() => closedOver.forward(T([3, 2]))).toThrow(
      /ContinuousFlow: with gradient "adjoint" the vector field depends on a tensor of shape \[2, 2\] that requires grad and is not one of the flow's parameters/,
    );
    const listed = new ContinuousFlow(2, (z) => z.matmul(w).tanh(), { gradient: "adjoint", steps: 2, parameters: [w] });
    listed
      .forward(T([3, 2]))
      .z.sum()
      .backward();
    expect(w.grad!.data.some((v) => v !== 0)).toBe(true);
    const flow = new CNF(2, { hidden: [4], steps: 2, gradient: "adjoint" });
    const z = T([3, 2]).requireGrad(true);
    expect(() => ag.grad((x: Tensor) => flow.forward(x).z.sum(), { createGraph: true })(z)).toThrow(
      /op "continuousFlowAdjoint" has a first-order backward rule only/,
    );
    expect(() => new CNF(2, { gradient: "checkpoint" as never })).toThrow(
      /unknown gradient "checkpoint"; choose backprop or adjoint/,
    );
  });
});
