// The floor for the paper's 2-D workload: K planar layers fitted to U1, written by hand as plain
// loops over Float64Arrays — forward, the hand-derived backward, and Adam — with no autograd at all.
// flowgrad's fused training step is measured against this (bench/flows.bench.ts).
import type { Random } from "../../src/autograd/index.js";

const LOG_2PI = Math.log(2 * Math.PI);
const SLACK_FLOOR = 1e-8; // as in src/flows/planar-kernels.ts

export class HandWrittenPlanarU1 {
  /** Raw parameters per layer, laid out [u0, u1, w0, w1, b] × K. */
  readonly params: Float64Array;
  readonly grads: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  // Work buffers, reused every step: layer inputs z_k (K+1)×N×2, and per-layer û, slack.
  private readonly zs: Float64Array;
  private readonly uHat: Float64Array;
  private readonly slack: Float64Array;
  private readonly coef: Float64Array;
  private readonly g: Float64Array;

  constructor(
    readonly K: number,
    readonly N: number,
    initial: Float64Array,
    readonly lr = 1e-3,
  ) {
    this.params = Float64Array.from(initial);
    this.grads = new Float64Array(5 * K);
    this.m = new Float64Array(5 * K);
    this.v = new Float64Array(5 * K);
    this.zs = new Float64Array((K + 1) * N * 2);
    this.uHat = new Float64Array(2 * K);
    this.slack = new Float64Array(K);
    this.coef = new Float64Array(K);
    this.g = new Float64Array(N * 2);
  }

  /** One step on fresh base samples from rng: returns the annealed free energy before the update. */
  step(rng: Random, beta: number, update = true): number {
    const { K, N, params: p, zs, uHat, slack, coef, g, grads } = this;
    for (let i = 0; i < 2 * N; i++) zs[i] = rng.normal();
    // Constrained û per layer: û = u + (m(wᵀu) − wᵀu) w/‖w‖², slack = softplus(wᵀu) + floor.
    for (let k = 0; k < K; k++) {
      const o = 5 * k,
        u0 = p[o]!,
        u1 = p[o + 1]!,
        w0 = p[o + 2]!,
        w1 = p[o + 3]!;
      const wu = w0 * u0 + w1 * u1,
        ww = w0 * w0 + w1 * w1;
      const sp = (wu > 0 ? wu + Math.log1p(Math.exp(-wu)) : Math.log1p(Math.exp(wu))) + SLACK_FLOOR;
      const c = (sp - 1 - wu) / (ww > 0 ? ww : 1);
      slack[k] = sp;
      coef[k] = c;
      uHat[2 * k] = u0 + c * w0;
      uHat[2 * k + 1] = u1 + c * w1;
    }
    // Forward: log q0 − Σ log|det| accumulates into `loss`.
    let loss = 0;
    for (let i = 0; i < N; i++) {
      const a0 = zs[2 * i]!,
        a1 = zs[2 * i + 1]!;
      loss += -0.5 * (a0 * a0 + a1 * a1) - LOG_2PI;
    }
    for (let k = 0; k < K; k++) {
      const o = 5 * k,
        w0 = p[o + 2]!,
        w1 = p[o + 3]!,
        b = p[o + 4]!,
        uh0 = uHat[2 * k]!,
        uh1 = uHat[2 * k + 1]!,
        sp = slack[k]!;
      const zin = k * 2 * N,
        zout = zin + 2 * N;
      for (let i = 0; i < N; i++) {
        const z0 = zs[zin + 2 * i]!,
          z1 = zs[zin + 2 * i + 1]!;
        const h = Math.tanh(w0 * z0 + w1 * z1 + b),
          h2 = h * h;
        zs[zout + 2 * i] = z0 + uh0 * h;
        zs[zout + 2 * i + 1] = z1 + uh1 * h;
        loss -= Math.log(h2 + (1 - h2) * sp);
      }
    }
    // U1 at z_K and its gradient, scaled by β/N, seeds the backward pass.
    const zK = K * 2 * N;
    for (let i = 0; i < N; i++) {
      const x = zs[zK + 2 * i]!,
        y = zs[zK + 2 * i + 1]!;
      const r = Math.sqrt(x * x + y * y);
      const A = -0.5 * ((x - 2) / 0.6) ** 2,
        B = -0.5 * ((x + 2) / 0.6) ** 2,
        mx = Math.max(A, B);
      const eA = Math.exp(A - mx),
        eB = Math.exp(B - mx);
      loss += beta * (0.5 * ((r - 2) / 0.4) ** 2 - (mx + Math.log(eA + eB)));
      const radial = (r - 2) / 0.16 / r;
      const dx = radial * x + (eA * ((x - 2) / 0.36) + eB * ((x + 2) / 0.36)) / (eA + eB);
      g[2 * i] = (beta * dx) / N;
      g[2 * i + 1] = (beta * radial * y) / N;
    }
    // Backward through the layers, last first; each log-det enters the loss with weight −1/N.
    grads.fill(0);
    const gamma = -1 / N;
    for (let k = K - 1; k >= 0; k--) {
      const o = 5 * k,
        w0 = p[o + 2]!,
        w1 = p[o + 3]!,
        b = p[o + 4]!,
        uh0 = uHat[2 * k]!,
        uh1 = uHat[2 * k + 1]!,
        sp = slack[k]!;
      const zin = k * 2 * N;
      let gu0 = 0,
        gu1 = 0,
        gw0 = 0,
        gw1 = 0,
        gb = 0,
        gsp = 0;
      for (let i = 0; i < N; i++) {
        const z0 = zs[zin + 2 * i]!,
          z1 = zs[zin + 2 * i + 1]!,
          g0 = g[2 * i]!,
          g1 = g[2 * i + 1]!;
        const h = Math.tanh(w0 * z0 + w1 * z1 + b),
          hp = 1 - h * h;
        const gq = gamma / (h * h + hp * sp);
        const ga = hp * (uh0 * g0 + uh1 * g1) + 2 * h * hp * (1 - sp) * gq;
        g[2 * i] = g0 + ga * w0;
        g[2 * i + 1] = g1 + ga * w1;
        gu0 += h * g0;
        gu1 += h * g1;
        gw0 += ga * z0;
        gw1 += ga * z1;
        gb += ga;
        gsp += hp * gq;
      }
      // Through the constraint: û = u + c w, c = (slack − 1 − wᵀu)/‖w‖², slack = softplus(wᵀu) + floor.
      const u0 = p[o]!,
        u1 = p[o + 1]!,
        wu = w0 * u0 + w1 * u1,
        ww = w0 * w0 + w1 * w1,
        c = coef[k]!;
      const sig = 1 / (1 + Math.exp(-wu));
      const gc = gu0 * w0 + gu1 * w1;
      const dcdwu = ww > 0 ? (sig - 1) / ww : sig - 1,
        dcdww = ww > 0 ? -c / ww : 0;
      const gwu = gc * dcdwu + gsp * sig;
      grads[o] = gu0 + gwu * w0;
      grads[o + 1] = gu1 + gwu * w1;
      grads[o + 2] = gw0 + gu0 * c + gwu * u0 + gc * dcdww * 2 * w0;
      grads[o + 3] = gw1 + gu1 * c + gwu * u1 + gc * dcdww * 2 * w1;
      grads[o + 4] = gb;
    }
    if (update) this.adam();
    return loss / N;
  }

  private adam(): void {
    const b1 = 0.9,
      b2 = 0.999,
      eps = 1e-8;
    this.t++;
    const c1 = 1 - b1 ** this.t,
      c2 = 1 - b2 ** this.t;
    for (let i = 0; i < this.params.length; i++) {
      const gi = this.grads[i]!;
      this.m[i] = b1 * this.m[i]! + (1 - b1) * gi;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * gi * gi;
      this.params[i] -= ((this.lr / c1) * this.m[i]!) / (Math.sqrt(this.v[i]! / c2) + eps);
    }
  }
}
