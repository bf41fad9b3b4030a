import { grad, noGrad, Random, sum, Tensor, type TypedArray } from "../autograd/index.js";

// The Langevin flow of the paper's section 3.2: dz = −∇U(z) dt + √2 dW, whose density q_t tends to
// p ∝ e^{−U}. Simulated on particles drawn from q_0 = N(0, I): Euler–Maruyama (the unadjusted
// Langevin algorithm, biased by its step), or with a Metropolis–Hastings correction (MALA), which
// leaves p exactly invariant. A particle cloud has no density to put into KL(q_t ‖ p), so the
// distance to p is measured by the kernel Stein discrepancy (kernelSteinDiscrepancy below).

export interface LangevinOptions {
  /** Particles simulated (default 1,000). */
  particles?: number;
  /** Time step h (default 0.01). */
  stepSize?: number;
  /** Steps to run (default 1,000). */
  steps?: number;
  /** Metropolis-adjusted (MALA) when true; plain Euler–Maruyama (ULA) otherwise (default). */
  adjusted?: boolean;
  /** Steps at which to keep a copy of the particles (default: the last only). */
  snapshots?: readonly number[];
  seed?: number;
  /** Called at each snapshot, for progress. */
  onSnapshot?: (step: number) => void;
}

export interface LangevinSnapshot {
  step: number;
  /** t = step · h */
  time: number;
  /** [particles, D] positions, row-major */
  particles: Float64Array;
}

export interface LangevinResult {
  snapshots: LangevinSnapshot[];
  /** Fraction of MALA proposals accepted (1 for ULA). */
  acceptance: number;
}

/** −∇U per point, and U per point, of an energy [N, D] → [N], as host arrays. */
function scoreAndEnergy(U: (z: Tensor) => Tensor, z: Tensor): { score: TypedArray; energy: TypedArray } {
  let energy: TypedArray = new Float64Array(0);
  const [g] = grad((x) => {
    const u = U(x);
    energy = noGrad(() => u.detach()).toHost().data;
    return sum(u);
  })(z);
  return { score: g!.toHost().data.map((v) => -v), energy };
}

/** Simulate the Langevin dynamics of U from N(0, I) on `particles` points of dimension `dim`. */
export function langevin(U: (z: Tensor) => Tensor, dim: number, options: LangevinOptions = {}): LangevinResult {
  const { particles: n = 1000, stepSize: h = 0.01, steps = 1000, adjusted = false, seed = 0 } = options;
  if (!Number.isInteger(n) || n < 1) throw new Error(`langevin: particles must be a positive integer, got ${n}`);
  if (!(h > 0) || !Number.isFinite(h)) throw new Error(`langevin: the step size must be a positive number, got ${h}`);
  if (!Number.isInteger(steps) || steps < 0)
    throw new Error(`langevin: steps must be a non-negative integer, got ${steps}`);
  const keep = new Set(options.snapshots ?? [steps]);
  for (const s of keep)
    if (!Number.isInteger(s) || s < 0 || s > steps)
      throw new Error(`langevin: snapshot step ${s} is not within 0…${steps}`);
  const random = new Random(seed);
  const z = Float64Array.from({ length: n * dim }, () => random.normal());
  const snapshots: LangevinSnapshot[] = [];
  const snap = (step: number) => {
    if (!keep.has(step)) return;
    snapshots.push({ step, time: step * h, particles: z.slice() });
    options.onSnapshot?.(step);
  };
  snap(0);
  const current = scoreAndEnergy(U, new Tensor(z, [n, dim]));
  let accepted = 0,
    proposed = 0;
  const noise = Math.sqrt(2 * h);
  for (let t = 1; t <= steps; t++) {
    const proposal = new Float64Array(n * dim);
    for (let i = 0; i < proposal.length; i++) proposal[i] = z[i]! + h * current.score[i]! + noise * random.normal();
    const next = scoreAndEnergy(U, new Tensor(proposal, [n, dim]));
    for (let p = 0; p < n; p++) {
      let accept = true;
      if (adjusted) {
        // log q(z | z') − log q(z' | z) for the Gaussian proposal with mean x + h·score(x) and variance 2h.
        let forward = 0,
          backward = 0;
        for (let j = 0; j < dim; j++) {
          const k = p * dim + j;
          forward += (proposal[k]! - z[k]! - h * current.score[k]!) ** 2;
          backward += (z[k]! - proposal[k]! - h * next.score[k]!) ** 2;
        }
        const logRatio = -next.energy[p]! + current.energy[p]! - (backward - forward) / (4 * h);
        accept = Math.log(random.uniform()) < logRatio;
        proposed++;
        if (accept) accepted++;
      }
      if (accept) {
        for (let j = 0; j < dim; j++) {
          const k = p * dim + j;
          z[k] = proposal[k]!;
          current.score[k] = next.score[k]!;
        }
        current.energy[p] = next.energy[p]!;
      }
    }
    for (let i = 0; i < z.length; i++) {
      if (!Number.isFinite(z[i]!))
        throw new Error(
          `langevin: particle ${Math.floor(i / dim)} became ${z[i]} at step ${t} (t = ${t * h}); the step size ${h} is too large for this energy`,
        );
    }
    snap(t);
  }
  return { snapshots, acceptance: adjusted ? accepted / Math.max(proposed, 1) : 1 };
}

export interface SteinDiscrepancy {
  /** KSD² by the U-statistic (unbiased; can be slightly negative when q = p). */
  squared: number;
  /** Its standard error (the U-statistic's first-order term, 2·sd(h̄ᵢ)/√n). */
  standardError: number;
  particles: number;
}

/**
 * The kernel Stein discrepancy of particles x_1…x_n from p ∝ e^{−U}, with the inverse multiquadric
 * kernel k(x, y) = (1 + ‖x − y‖²)^{−1/2} (Gorham and Mackey, 2017): KSD² = E[u_p(x, x′)] with
 * u_p(x, y) = s(x)ᵀs(y) k + s(x)ᵀ∇_y k + s(y)ᵀ∇_x k + tr ∇_x∇_y k and s = −∇U. It needs only ∇U (no
 * normaliser, no density of the particles), is zero exactly when the particles' law is p, and with
 * this kernel it also goes to zero only if they converge to p (for targets like these, with
 * tails at least as light as a Gaussian's up to a quadratic wall). O(n²) pairs.
 */
export function kernelSteinDiscrepancy(
  U: (z: Tensor) => Tensor,
  particles: Float64Array,
  dim: number,
): SteinDiscrepancy {
  const n = particles.length / dim;
  if (!Number.isInteger(n) || n < 2)
    throw new Error(
      `kernelSteinDiscrepancy: needs at least 2 particles of dimension ${dim}, got ${particles.length} values`,
    );
  const { score } = scoreAndEnergy(U, new Tensor(particles, [n, dim]));
  const beta = -0.5;
  const rowMeans = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let r2 = 0,
        ss = 0,
        sxr = 0,
        syr = 0;
      for (let k = 0; k < dim; k++) {
        const r = particles[i * dim + k]! - particles[j * dim + k]!,
          sx = score[i * dim + k]!,
          sy = score[j * dim + k]!;
        r2 += r * r;
        ss += sx * sy;
        sxr += sx * r;
        syr += sy * r;
      }
      const q = 1 + r2,
        kernel = q ** beta,
        dk = 2 * beta * q ** (beta - 1);
      // ∇_x k = dk·r, ∇_y k = −dk·r, tr ∇_x∇_y k = −dk·D − 4β(β − 1) q^(β−2) ‖r‖²
      const u = ss * kernel - sxr * dk + syr * dk - dk * dim - 4 * beta * (beta - 1) * q ** (beta - 2) * r2;
      total += 2 * u;
      rowMeans[i] += u;
      rowMeans[j] += u;
    }
  }
  const pairs = n * (n - 1);
  const squared = total / pairs;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (rowMeans[i]! / (n - 1) - squared) ** 2;
  variance /= n - 1;
  return { squared, standardError: 2 * Math.sqrt(variance / n), particles: n };
}
