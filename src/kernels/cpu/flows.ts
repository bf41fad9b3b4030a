import type { TypedArray } from "../types.js";

// Fused planar and radial flow layers: one pass over the batch computes the transformed points and
// the log-determinants; the backward passes are the hand-derived vector-Jacobian products.
// Parameters are shared ([D], scalars) or per sample ([N, D], [N]) — `perSample` says which.
// Gradients of shared parameters are summed over the batch.

/** log(1 + eˣ) and 1/(1 + e⁻ˣ) without overflow (the same math as kernels/elementwise.ts). */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * Added to softplus(wᵀu) so 1 + wᵀû stays positive when softplus underflows (wᵀu < −745), and so
 * that float64 can hold a û with 1 + wᵀû at the slack: û's own rounding moves wᵀû by about
 * 2⁻⁵³ Σ|w_j û_j|, which at 1e-8 stays within 1 % of the floor up to Σ|w_j û_j| ≈ 1e6 (|u|, |w| ≈ 1e3).
 */
export const SLACK_FLOOR = 1e-8;

/**
 * The planar constraint (appendix A.1) for `rows` parameter sets (1 shared, or N per sample):
 * slack = softplus(wᵀu) + SLACK_FLOOR = 1 + wᵀû, c = (slack − 1 − wᵀu)/‖w‖², û = u + c w.
 * ‖w‖ = 0 uses 1 in place of ‖w‖² (then c·w = 0: a translation needs no correction), and its
 * slack is 1: the map is then z + û tanh(b), of determinant 1 (softplus(0) would not describe it).
 * Computed as û = (u − (wᵀu/‖w‖²) w) + ((slack − 1)/‖w‖²) w, which loses nothing when u is nearly
 * parallel to w (where u + c w cancels to 0 for |u|, |w| ≈ 1e8), then refined once: the residual
 * slack − (1 + wᵀû), computed in double-double, is put back along w, so 1 + wᵀû equals the slack
 * the log-det uses as closely as û's float64 components allow (planarSlackError measures what is left).
 */
export function planarConstraint(
  u: TypedArray,
  w: TypedArray,
  rows: number,
  d: number,
  uHat: TypedArray,
  slack: TypedArray,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let wu = 0,
      ww = 0;
    for (let j = 0; j < d; j++) {
      wu += w[o + j]! * u[o + j]!;
      ww += w[o + j]! * w[o + j]!;
    }
    const sp = softplus(wu) + SLACK_FLOOR;
    const safe = ww > 0 ? ww : 1,
      along = wu / safe,
      target = (sp - 1) / safe;
    for (let j = 0; j < d; j++) uHat[o + j] = ww > 0 ? u[o + j]! - along * w[o + j]! + target * w[o + j]! : u[o + j]!;
    if (ww > 0) {
      const residual = sp - onePlusDot(w, uHat, o, d);
      for (let j = 0; j < d; j++) uHat[o + j] = uHat[o + j]! + (residual / ww) * w[o + j]!;
    }
    slack[r] = ww > 0 ? sp : 1;
  }
}

/**
 * |1 + wᵀû − slack| / slack for each row: how far the map actually applied (its Jacobian's
 * determinant factor 1 + (1 − h²) wᵀû) is from the slack its log-det is computed with, with 1 + wᵀû
 * of the float64 values evaluated in double-double (no rounding of its own to speak of).
 */
export function planarSlackError(
  uHat: TypedArray,
  w: TypedArray,
  slack: TypedArray,
  rows: number,
  d: number,
): Float64Array {
  return planarSlackResidual(uHat, w, slack, rows, d).map((r, i) => Math.abs(r) / slack[i]!);
}

/** slack − (1 + wᵀû) for each row, 1 + wᵀû in double-double: what a refinement puts back along w. */
export function planarSlackResidual(
  uHat: TypedArray,
  w: TypedArray,
  slack: TypedArray,
  rows: number,
  d: number,
): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) out[r] = slack[r]! - onePlusDot(w, uHat, r * d, d);
  return out;
}

/** 1 + Σ x_j y_j over one row, in double-double arithmetic (Ogita, Rump and Oishi's Dot2). */
function onePlusDot(x: TypedArray, y: TypedArray, o: number, d: number): number {
  let hi = 1,
    lo = 0;
  for (let j = 0; j < d; j++) {
    const a = x[o + j]!,
      b = y[o + j]!;
    const p = a * b;
    // The product's rounding error exactly (Dekker's split of a and b into 26-bit halves).
    const ca = 134217729 * a,
      ah = ca - (ca - a),
      al = a - ah;
    const cb = 134217729 * b,
      bh = cb - (cb - b),
      bl = b - bh;
    const pErr = ah * bh - p + ah * bl + al * bh + al * bl;
    // hi + p with its rounding error exactly (Knuth's two-sum).
    const s = hi + p,
      bb = s - hi,
      sErr = hi - (s - bb) + (p - bb);
    hi = s;
    lo += sErr + pErr;
  }
  return hi + lo;
}

/**
 * Its backward: with gc = gûᵀw, σ = sigmoid(wᵀu), ∂c/∂(wᵀu) = (σ − 1)/‖w‖², ∂c/∂‖w‖² = −c/‖w‖² and
 * g_wu = gc ∂c/∂(wᵀu) + g_slack σ:  du = gû + g_wu w,  dw = c gû + g_wu u + 2 gc ∂c/∂‖w‖² w.
 */
export function planarConstraintBackward(
  u: TypedArray,
  w: TypedArray,
  rows: number,
  d: number,
  gUHat: TypedArray | null,
  gSlack: TypedArray | null,
  gu: TypedArray,
  gw: TypedArray,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let wu = 0,
      ww = 0,
      gc = 0;
    for (let j = 0; j < d; j++) {
      wu += w[o + j]! * u[o + j]!;
      ww += w[o + j]! * w[o + j]!;
      if (gUHat) gc += gUHat[o + j]! * w[o + j]!;
    }
    const sp = softplus(wu) + SLACK_FLOOR;
    const safe = ww > 0 ? ww : 1;
    const c = (sp - 1 - wu) / safe;
    const sigma = sigmoid(wu);
    const dcdww = ww > 0 ? -c / ww : 0;
    const gwu = (gc * (sigma - 1)) / safe + (gSlack && ww > 0 ? gSlack[r]! : 0) * sigma; // at w = 0 the slack is the constant 1
    for (let j = 0; j < d; j++) {
      const gj = gUHat ? gUHat[o + j]! : 0;
      gu[o + j] += gj + gwu * w[o + j]!;
      gw[o + j] += c * gj + gwu * u[o + j]! + 2 * gc * dcdww * w[o + j]!;
    }
  }
}

/**
 * Planar: a = wᵀz + b, h = tanh(a), z' = z + û h, and with wᵀû = m(wᵀu) = −1 + σ₊ (σ₊ = softplus(wᵀu)),
 * 1 + ûᵀψ = 1 + (1 − h²) wᵀû = h² + (1 − h²) σ₊: a sum of non-negative terms, so the log-det never
 * sees the cancellation of 1 + wᵀû when wᵀû is within rounding of −1.
 */
export function planarForward(
  z: TypedArray,
  uHat: TypedArray,
  w: TypedArray,
  b: TypedArray,
  sp: TypedArray,
  n: number,
  d: number,
  perSample: boolean,
  out: TypedArray,
  logAbsDet: TypedArray,
): void {
  if (d === 2 && !perSample) return planarForward2D(z, uHat, w, b, sp, n, out, logAbsDet);
  for (let i = 0; i < n; i++) {
    const zo = i * d,
      po = perSample ? zo : 0,
      s = perSample ? i : 0;
    let a = b[s]!;
    for (let j = 0; j < d; j++) a += w[po + j]! * z[zo + j]!;
    const h = Math.tanh(a),
      h2 = h * h;
    for (let j = 0; j < d; j++) out[zo + j] = z[zo + j]! + uHat[po + j]! * h;
    logAbsDet[i] = Math.log(h2 + (1 - h2) * sp[s]!);
  }
}

/**
 * Planar backward. With g = dL/dz' and γ = dL/dlog|det| (either may be null), h' = 1 − h²,
 * Q = h² + h' σ₊ and ga = dL/da = h' ûᵀg + γ 2h h' (1 − σ₊) / Q:
 *   dz = g + ga w,  dû = h g,  dw = ga z,  db = ga,  dσ₊ = γ h' / Q.
 * Gradients are added into gz, gu, gw, gb, gsp.
 */
export function planarBackward(
  z: TypedArray,
  uHat: TypedArray,
  w: TypedArray,
  b: TypedArray,
  sp: TypedArray,
  n: number,
  d: number,
  perSample: boolean,
  gOut: TypedArray | null,
  gLogAbsDet: TypedArray | null,
  gz: TypedArray,
  gu: TypedArray,
  gw: TypedArray,
  gb: TypedArray,
  gsp: TypedArray,
): void {
  if (d === 2 && !perSample && gOut && gLogAbsDet)
    return planarBackward2D(z, uHat, w, b, sp, n, gOut, gLogAbsDet, gz, gu, gw, gb, gsp);
  for (let i = 0; i < n; i++) {
    const zo = i * d,
      po = perSample ? zo : 0,
      s = perSample ? i : 0;
    let a = b[s]!,
      ug = 0;
    for (let j = 0; j < d; j++) {
      a += w[po + j]! * z[zo + j]!;
      if (gOut) ug += uHat[po + j]! * gOut[zo + j]!;
    }
    const h = Math.tanh(a),
      hp = 1 - h * h,
      spi = sp[s]!;
    const gamma = gLogAbsDet ? gLogAbsDet[i]! / (h * h + hp * spi) : 0; // γ / Q
    const ga = hp * ug + 2 * h * hp * (1 - spi) * gamma;
    for (let j = 0; j < d; j++) {
      const gj = gOut ? gOut[zo + j]! : 0;
      gz[zo + j] += gj + ga * w[po + j]!;
      gu[po + j] += h * gj;
      gw[po + j] += ga * z[zo + j]!;
    }
    gb[s] += ga;
    gsp[s] += hp * gamma;
  }
}

// The paper's 2-D experiments (D = 2, shared parameters) spend most of their time in the two
// functions above; these are the same loops with the D-axis unrolled and the parameters in locals.

function planarForward2D(
  z: TypedArray,
  uHat: TypedArray,
  w: TypedArray,
  b: TypedArray,
  sp: TypedArray,
  n: number,
  out: TypedArray,
  logAbsDet: TypedArray,
): void {
  const w0 = w[0]!,
    w1 = w[1]!,
    u0 = uHat[0]!,
    u1 = uHat[1]!,
    b0 = b[0]!,
    s = sp[0]!;
  for (let i = 0; i < n; i++) {
    const z0 = z[2 * i]!,
      z1 = z[2 * i + 1]!;
    const h = Math.tanh(w0 * z0 + w1 * z1 + b0),
      h2 = h * h;
    out[2 * i] = z0 + u0 * h;
    out[2 * i + 1] = z1 + u1 * h;
    logAbsDet[i] = Math.log(h2 + (1 - h2) * s);
  }
}

function planarBackward2D(
  z: TypedArray,
  uHat: TypedArray,
  w: TypedArray,
  b: TypedArray,
  sp: TypedArray,
  n: number,
  gOut: TypedArray,
  gLogAbsDet: TypedArray,
  gz: TypedArray,
  gu: TypedArray,
  gw: TypedArray,
  gb: TypedArray,
  gsp: TypedArray,
): void {
  const w0 = w[0]!,
    w1 = w[1]!,
    u0 = uHat[0]!,
    u1 = uHat[1]!,
    b0 = b[0]!,
    s = sp[0]!;
  let gu0 = 0,
    gu1 = 0,
    gw0 = 0,
    gw1 = 0,
    gb0 = 0,
    gs = 0;
  for (let i = 0; i < n; i++) {
    const z0 = z[2 * i]!,
      z1 = z[2 * i + 1]!,
      g0 = gOut[2 * i]!,
      g1 = gOut[2 * i + 1]!;
    const h = Math.tanh(w0 * z0 + w1 * z1 + b0),
      hp = 1 - h * h;
    const gamma = gLogAbsDet[i]! / (h * h + hp * s);
    const ga = hp * (u0 * g0 + u1 * g1) + 2 * h * hp * (1 - s) * gamma;
    gz[2 * i] += g0 + ga * w0;
    gz[2 * i + 1] += g1 + ga * w1;
    gu0 += h * g0;
    gu1 += h * g1;
    gw0 += ga * z0;
    gw1 += ga * z1;
    gb0 += ga;
    gs += hp * gamma;
  }
  gu[0] += gu0;
  gu[1] += gu1;
  gw[0] += gw0;
  gw[1] += gw1;
  gb[0] += gb0;
  gsp[0] += gs;
}

/**
 * Radial: d = z − z0, r = ‖d‖, h = 1/(α + r), z' = z + β h d. With s = α + β = softplus(β̃) > 0,
 * 1 + βh = h (r + s) and 1 + βh + βh'r = 1 + αβh² = h² (r² + 2αr + αs), so
 * log|det| = (D − 1) log(r + s) + log(r² + 2αr + αs) − (D + 1) log(α + r): no cancellation near β = −α.
 */
export function radialForward(
  z: TypedArray,
  z0: TypedArray,
  alpha: TypedArray,
  alphaPlusBeta: TypedArray,
  n: number,
  d: number,
  perSample: boolean,
  out: TypedArray,
  logAbsDet: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const zo = i * d,
      po = perSample ? zo : 0,
      s = perSample ? i : 0;
    const al = alpha[s]!,
      ab = alphaPlusBeta[s]!;
    let r2 = 0;
    for (let j = 0; j < d; j++) {
      const dj = z[zo + j]! - z0[po + j]!;
      r2 += dj * dj;
    }
    const r = Math.sqrt(r2),
      c = (ab - al) / (al + r); // c = βh
    for (let j = 0; j < d; j++) out[zo + j] = z[zo + j]! + c * (z[zo + j]! - z0[po + j]!);
    logAbsDet[i] = (d - 1) * Math.log(r + ab) + Math.log(r2 + 2 * al * r + al * ab) - (d + 1) * Math.log(al + r);
  }
}

/**
 * Radial backward, with g = dL/dz' and γ = dL/dlog|det| (either may be null), t = dᵀg, c = βh,
 * P = r² + 2αr + αs and the partial derivatives of log|det|:
 *   ℓ_r = (D − 1)/(r + s) + 2(r + α)/P − (D + 1)/(α + r),  ℓ_α = (2r + s)/P − (D + 1)/(α + r),
 *   ℓ_s = (D − 1)/(r + s) + α/P.
 * Then dz = (1 + c) g + (−βh² t + γ ℓ_r) d/r, dz0 = g − dz, dα = −(r + s) h² t + γ ℓ_α, ds = h t + γ ℓ_s.
 */
export function radialBackward(
  z: TypedArray,
  z0: TypedArray,
  alpha: TypedArray,
  alphaPlusBeta: TypedArray,
  n: number,
  d: number,
  perSample: boolean,
  gOut: TypedArray | null,
  gLogAbsDet: TypedArray | null,
  gz: TypedArray,
  gz0: TypedArray,
  galpha: TypedArray,
  gAlphaPlusBeta: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const zo = i * d,
      po = perSample ? zo : 0,
      s = perSample ? i : 0;
    const al = alpha[s]!,
      ab = alphaPlusBeta[s]!;
    let r2 = 0,
      t = 0;
    for (let j = 0; j < d; j++) {
      const dj = z[zo + j]! - z0[po + j]!;
      r2 += dj * dj;
      if (gOut) t += dj * gOut[zo + j]!;
    }
    const r = Math.sqrt(r2),
      h = 1 / (al + r),
      h2 = h * h,
      c = (ab - al) * h,
      P = r2 + 2 * al * r + al * ab;
    const gamma = gLogAbsDet ? gLogAbsDet[i]! : 0;
    const lr = (d - 1) / (r + ab) + (2 * (r + al)) / P - (d + 1) * h;
    // The coefficient on d/r; at r = 0 the direction is undefined and d = 0, so it is 0.
    const radial = r > 0 ? (-(ab - al) * h2 * t + gamma * lr) / r : 0;
    for (let j = 0; j < d; j++) {
      const gj = gOut ? gOut[zo + j]! : 0;
      const dzj = (1 + c) * gj + radial * (z[zo + j]! - z0[po + j]!);
      gz[zo + j] += dzj;
      gz0[po + j] += gj - dzj;
    }
    galpha[s] += -(r + ab) * h2 * t + gamma * ((2 * r + ab) / P - (d + 1) * h);
    gAlphaPlusBeta[s] += h * t + gamma * ((d - 1) / (r + ab) + al / P);
  }
}
