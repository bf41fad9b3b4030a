// K planar layers as one kernel each way (planarChain in planar-chain.ts): the per-layer kernels of
// planar-kernels.ts run K times, each through the graph, allocating its outputs and gradients;
// here one loop takes every point through all K layers. Parameters are shared (rows of [K, d]) or
// per sample ([n, K, d], the VAE's amortised flows). The math of each layer is planarForwardLoop's
// and planarBackwardLoop's, in the same order, so the gradients are bit for bit those of K
// separate layers. CPU only: on a device backend the chain runs per layer.

import type { CustomKernel, TypedArray } from "../kernels/index.js";

/** n points of dimension d through K layers whose parameters are rows of [K, d] and [K], or per sample [n, K, d] and [n, K]. */
export interface ChainArgs {
  n: number;
  d: number;
  K: number;
  perSample: boolean;
}

/**
 * Forward: z_{k+1} = z_k + û_k tanh(w_kᵀz_k + b_k), log|det| = Σ_k log(h² + (1 − h²) slack_k),
 * layer by layer over all points (as K calls of planarForwardLoop would go, without their
 * allocations). `saved` keeps every layer's input and its h = tanh(·) ([K, n, d + 1]) for the backward.
 */
function planarChainForwardLoop(
  z: TypedArray,
  uHat: TypedArray,
  w: TypedArray,
  b: TypedArray,
  sp: TypedArray,
  { n, d, K, perSample }: ChainArgs,
  out: TypedArray,
  logAbsDet: TypedArray,
  saved: TypedArray,
): void {
  if (d === 2 && !perSample) return planarChainForward2D(z, uHat, w, b, sp, n, K, out, logAbsDet, saved);
  out.set(z);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < n; i++) {
      const zo = i * d,
        so = (k * n + i) * (d + 1),
        s = perSample ? i * K + k : k, // this point's layer-k parameter set
        po = s * d;
      let a = b[s]!;
      for (let j = 0; j < d; j++) {
        saved[so + j] = out[zo + j]!;
        a += w[po + j]! * out[zo + j]!;
      }
      const h = Math.tanh(a),
        h2 = h * h;
      saved[so + d] = h;
      for (let j = 0; j < d; j++) out[zo + j] = out[zo + j]! + uHat[po + j]! * h;
      logAbsDet[i] = logAbsDet[i]! + Math.log(h2 + (1 - h2) * sp[s]!);
    }
  }
}

/**
 * Backward, from the last layer to the first: with g = dL/dz_{k+1} and γ = dL/dlog|det| (the same
 * for every layer, since the log-dets add), as in planarBackwardLoop:
 *   ga = h' ûᵀg + γ 2h h' (1 − σ₊)/Q,  dû_k = Σ h g,  dw_k = Σ ga z_k,  db_k = Σ ga,  dσ₊_k = Σ γ h'/Q,
 * and g ← g + ga w_k is dL/dz_k (kept in gz, in place).
 */
function planarChainBackwardLoop(
  uHat: TypedArray,
  w: TypedArray,
  sp: TypedArray,
  saved: TypedArray,
  gOut: TypedArray | null,
  gLogAbsDet: TypedArray | null,
  { n, d, K, perSample }: ChainArgs,
  gz: TypedArray,
  gu: TypedArray,
  gw: TypedArray,
  gb: TypedArray,
  gsp: TypedArray,
): void {
  if (d === 2 && !perSample && gOut && gLogAbsDet)
    return planarChainBackward2D(uHat, w, sp, saved, gOut, gLogAbsDet, n, K, gz, gu, gw, gb, gsp);
  if (gOut) gz.set(gOut);
  for (let k = K - 1; k >= 0; k--) {
    for (let i = 0; i < n; i++) {
      const zo = i * d,
        so = (k * n + i) * (d + 1),
        s = perSample ? i * K + k : k,
        po = s * d,
        h = saved[so + d]!,
        hp = 1 - h * h,
        slack = sp[s]!;
      let ug = 0;
      for (let j = 0; j < d; j++) ug += uHat[po + j]! * gz[zo + j]!;
      const gamma = gLogAbsDet ? gLogAbsDet[i]! / (h * h + hp * slack) : 0; // γ / Q
      const ga = hp * ug + 2 * h * hp * (1 - slack) * gamma;
      for (let j = 0; j < d; j++) {
        gu[po + j] += h * gz[zo + j]!;
        gw[po + j] += ga * saved[so + j]!;
        gz[zo + j] = gz[zo + j]! + ga * w[po + j]!;
      }
      gb[s] += ga;
      gsp[s] += hp * gamma;
    }
  }
}

// The paper's 2-D fits: the loops above with the D-axis unrolled, as planarForward2D in planar-kernels.ts.

function planarChainForward2D(
  z: TypedArray,
  uHat: TypedArray,
  w: TypedArray,
  b: TypedArray,
  sp: TypedArray,
  n: number,
  K: number,
  out: TypedArray,
  logAbsDet: TypedArray,
  saved: TypedArray,
): void {
  // Layer by layer over all points (the parameters stay in locals), the points updated in place.
  out.set(z);
  for (let k = 0; k < K; k++) {
    const w0 = w[2 * k]!,
      w1 = w[2 * k + 1]!,
      u0 = uHat[2 * k]!,
      u1 = uHat[2 * k + 1]!,
      bk = b[k]!,
      s = sp[k]!,
      zs = 3 * n * k;
    for (let i = 0; i < n; i++) {
      const z0 = out[2 * i]!,
        z1 = out[2 * i + 1]!;
      const h = Math.tanh(w0 * z0 + w1 * z1 + bk),
        h2 = h * h;
      saved[zs + 3 * i] = z0;
      saved[zs + 3 * i + 1] = z1;
      saved[zs + 3 * i + 2] = h;
      out[2 * i] = z0 + u0 * h;
      out[2 * i + 1] = z1 + u1 * h;
      logAbsDet[i] = logAbsDet[i]! + Math.log(h2 + (1 - h2) * s);
    }
  }
}

function planarChainBackward2D(
  uHat: TypedArray,
  w: TypedArray,
  sp: TypedArray,
  saved: TypedArray,
  gOut: TypedArray,
  gLogAbsDet: TypedArray,
  n: number,
  K: number,
  gz: TypedArray,
  gu: TypedArray,
  gw: TypedArray,
  gb: TypedArray,
  gsp: TypedArray,
): void {
  gz.set(gOut); // dL/dz_K, carried back to dL/dz_0 in place
  for (let k = K - 1; k >= 0; k--) {
    const w0 = w[2 * k]!,
      w1 = w[2 * k + 1]!,
      u0 = uHat[2 * k]!,
      u1 = uHat[2 * k + 1]!,
      s = sp[k]!,
      zs = 3 * n * k;
    let gu0 = 0,
      gu1 = 0,
      gw0 = 0,
      gw1 = 0,
      gb0 = 0,
      gs = 0;
    for (let i = 0; i < n; i++) {
      const z0 = saved[zs + 3 * i]!,
        z1 = saved[zs + 3 * i + 1]!,
        h = saved[zs + 3 * i + 2]!,
        g0 = gz[2 * i]!,
        g1 = gz[2 * i + 1]!;
      const hp = 1 - h * h;
      const gamma = gLogAbsDet[i]! / (h * h + hp * s);
      const ga = hp * (u0 * g0 + u1 * g1) + 2 * h * hp * (1 - s) * gamma;
      gz[2 * i] = g0 + ga * w0;
      gz[2 * i + 1] = g1 + ga * w1;
      gu0 += h * g0;
      gu1 += h * g1;
      gw0 += ga * z0;
      gw1 += ga * z1;
      gb0 += ga;
      gs += hp * gamma;
    }
    gu[2 * k] = gu0;
    gu[2 * k + 1] = gu1;
    gw[2 * k] = gw0;
    gw[2 * k + 1] = gw1;
    gb[k] = gb0;
    gsp[k] = gs;
  }
}

/** [z, û, w, b, slack] → [z_K, Σ log|det|, the layers' inputs (saved for the backward)]. */
export const planarChainForwardKernel: CustomKernel<ChainArgs> = {
  name: "planarChainForward",
  outputs: ({ n, d, K }) => [n * d, n, K * n * (d + 1)],
  work: ({ n, d, K }) => n * d * K,
  cpu: ([z, uHat, w, b, sp], args, [out, logAbsDet, saved]) =>
    planarChainForwardLoop(z!, uHat!, w!, b!, sp!, args, out!, logAbsDet!, saved!),
};

/** [z, û, w, b, slack, saved, dL/dz_K, dL/dΣlog|det|] → the gradients of z, û, w, b and the slack. */
export const planarChainBackwardKernel: CustomKernel<ChainArgs> = {
  name: "planarChainBackward",
  outputs: ({ n, d, K, perSample }) => {
    const sets = perSample ? n * K : K;
    return [n * d, sets * d, sets * d, sets, sets];
  },
  work: ({ n, d, K }) => n * d * K,
  cpu: ([, uHat, w, , sp, saved, gOut, gLd], args, [gz, gu, gw, gb, gsp]) =>
    planarChainBackwardLoop(uHat!, w!, sp!, saved!, gOut ?? null, gLd ?? null, args, gz!, gu!, gw!, gb!, gsp!),
};
