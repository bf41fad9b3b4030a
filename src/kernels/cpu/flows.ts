import type { TypedArray } from "../types.js";

// Fused planar and radial flow layers: one pass over the batch computes the transformed points and
// the log-determinants; the backward passes are the hand-derived vector-Jacobian products.
// Parameters are shared ([D], scalars) or per sample ([N, D], [N]) — `perSample` says which.
// Gradients of shared parameters are summed over the batch.

/**
 * Planar: a = wᵀz + b, h = tanh(a), z' = z + û h, and with wᵀû = m(wᵀu) = −1 + σ₊ (σ₊ = softplus(wᵀu)),
 * 1 + ûᵀψ = 1 + (1 − h²) wᵀû = h² + (1 − h²) σ₊: a sum of non-negative terms, so the log-det never
 * sees the cancellation of 1 + wᵀû when wᵀû is within rounding of −1.
 */
export function planarForward(
  z: TypedArray, uHat: TypedArray, w: TypedArray, b: TypedArray, sp: TypedArray, n: number, d: number, perSample: boolean,
  out: TypedArray, logAbsDet: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const zo = i * d, po = perSample ? zo : 0, s = perSample ? i : 0;
    let a = b[s]!;
    for (let j = 0; j < d; j++) a += w[po + j]! * z[zo + j]!;
    const h = Math.tanh(a), h2 = h * h;
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
  z: TypedArray, uHat: TypedArray, w: TypedArray, b: TypedArray, sp: TypedArray, n: number, d: number, perSample: boolean,
  gOut: TypedArray | null, gLogAbsDet: TypedArray | null,
  gz: TypedArray, gu: TypedArray, gw: TypedArray, gb: TypedArray, gsp: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const zo = i * d, po = perSample ? zo : 0, s = perSample ? i : 0;
    let a = b[s]!, ug = 0;
    for (let j = 0; j < d; j++) {
      a += w[po + j]! * z[zo + j]!;
      if (gOut) ug += uHat[po + j]! * gOut[zo + j]!;
    }
    const h = Math.tanh(a), hp = 1 - h * h, spi = sp[s]!;
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

/**
 * Radial: d = z − z0, r = ‖d‖, h = 1/(α + r), z' = z + β h d. With s = α + β = softplus(β̃) > 0,
 * 1 + βh = h (r + s) and 1 + βh + βh'r = 1 + αβh² = h² (r² + 2αr + αs), so
 * log|det| = (D − 1) log(r + s) + log(r² + 2αr + αs) − (D + 1) log(α + r): no cancellation near β = −α.
 */
export function radialForward(
  z: TypedArray, z0: TypedArray, alpha: TypedArray, alphaPlusBeta: TypedArray, n: number, d: number, perSample: boolean,
  out: TypedArray, logAbsDet: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const zo = i * d, po = perSample ? zo : 0, s = perSample ? i : 0;
    const al = alpha[s]!, ab = alphaPlusBeta[s]!;
    let r2 = 0;
    for (let j = 0; j < d; j++) {
      const dj = z[zo + j]! - z0[po + j]!;
      r2 += dj * dj;
    }
    const r = Math.sqrt(r2), c = (ab - al) / (al + r); // c = βh
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
  z: TypedArray, z0: TypedArray, alpha: TypedArray, alphaPlusBeta: TypedArray, n: number, d: number, perSample: boolean,
  gOut: TypedArray | null, gLogAbsDet: TypedArray | null,
  gz: TypedArray, gz0: TypedArray, galpha: TypedArray, gAlphaPlusBeta: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const zo = i * d, po = perSample ? zo : 0, s = perSample ? i : 0;
    const al = alpha[s]!, ab = alphaPlusBeta[s]!;
    let r2 = 0, t = 0;
    for (let j = 0; j < d; j++) {
      const dj = z[zo + j]! - z0[po + j]!;
      r2 += dj * dj;
      if (gOut) t += dj * gOut[zo + j]!;
    }
    const r = Math.sqrt(r2), h = 1 / (al + r), h2 = h * h, c = (ab - al) * h, P = r2 + 2 * al * r + al * ab;
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
