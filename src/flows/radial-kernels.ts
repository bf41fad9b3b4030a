// The fused radial layer's kernels (flows/radial.ts is the layer, with its composed reference):
// forward, backward and the closed-form inverse, each a CustomKernel — its CPU loop and its gpu.js
// program side by side — registered with the backend by value. Parameters are shared ([D], [1]) or
// per sample ([N, D], [N]); shared gradients are summed over the batch.

import {
  type CustomKernel,
  flatIndex,
  type KernelInput,
  orZeros,
  type Part,
  packedSource,
  pointPrelude,
  pointSumSource,
  pointsSpec,
  type TypedArray,
} from "../kernels/index.js";
import type { PointsArgs } from "./planar-kernels.js";

// ---- the layer: [z, z0, α, α + β] → [z', log|det|] -----------------------------------------------

/**
 * Radial: d = z − z0, r = ‖d‖, h = 1/(α + r), z' = z + β h d. With s = α + β = softplus(β̃) > 0,
 * 1 + βh = h (r + s) and 1 + βh + βh'r = 1 + αβh² = h² (r² + 2αr + αs), so
 * log|det| = (D − 1) log(r + s) + log(r² + 2αr + αs) − (D + 1) log(α + r): no cancellation near β = −α.
 */
function radialForwardLoop(
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
function radialBackwardLoop(
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
/** Radial forward, one kernel: z' then log|det| (radialForwardLoop above). */
function radialSource(n: number, d: number): string {
  return packedSource(
    "Z, Z0, AL, AB",
    [
      { size: n * d, perElement: true, value: "Z[i] + ((ab - al) / (al + r)) * (Z[i] - Z0[po + j])" },
      {
        size: n,
        perElement: false,
        value:
          "(this.constants.d - 1) * Math.log(r + ab) + Math.log(r * r + 2 * al * r + al * ab) - (this.constants.d + 1) * Math.log(al + r)",
      },
    ],
    `const al = AL[s]; const ab = AB[s];
    let r2 = 0;
    for (let q = 0; q < this.constants.d; q++) { const dq = Z[p * this.constants.d + q] - Z0[po + q]; r2 += dq * dq; }
    const r = Math.sqrt(r2);`,
  );
}

/** The radial backward's per-point quantities at point p (offsets po, s), with the radial term of dL/dz. */
const radialBackwardPoint = `const al = AL[s]; const ab = AB[s];
    let r2 = 0; let t = 0;
    for (let q = 0; q < this.constants.d; q++) { const dq = Z[p * this.constants.d + q] - Z0[po + q]; r2 += dq * dq; t += dq * G[p * this.constants.d + q]; }
    const r = Math.sqrt(r2); const h = 1 / (al + r); const h2 = h * h; const c = (ab - al) * h; const P = r2 + 2 * al * r + al * ab;
    const gl = GL[p];
    const lr = (this.constants.d - 1) / (r + ab) + (2 * (r + al)) / P - (this.constants.d + 1) * h;
    let radial = 0; if (r > 0) { radial = (-(ab - al) * h2 * t + gl * lr) / r; }`;
const radialShares = {
  ga: "-(r + ab) * h2 * t + gl * ((2 * r + ab) / P - (this.constants.d + 1) * h)",
  gs: "h * t + gl * ((this.constants.d - 1) / (r + ab) + al / P)",
};

/**
 * Radial backward per point, one kernel (as planarBackwardSource): dL/dz, dL/dz0 = g − dL/dz
 * ([n, D]), dL/dα and dL/d(α+β) (one per point).
 */
function radialBackwardSource(n: number, d: number): string {
  const dz = "(1 + c) * G[i] + radial * (Z[i] - Z0[po + j])";
  const parts: Part[] = [
    { size: n * d, perElement: true, value: dz },
    { size: n * d, perElement: true, value: `G[i] - (${dz})` },
    { size: n, perElement: false, value: radialShares.ga },
    { size: n, perElement: false, value: radialShares.gs },
  ];
  return packedSource("Z, Z0, AL, AB, G, GL", parts, radialBackwardPoint);
}

/**
 * A shared radial layer's backward in one kernel: dL/dz ([n, D]), then the parameter gradients
 * summed over the points: dL/dz0 (D), dL/dα, dL/d(α+β).
 */
function radialBackwardSharedSource(n: number, d: number): string {
  const i = "p * this.constants.d + i";
  return pointSumSource(
    "Z, Z0, AL, AB, G, GL",
    [
      { size: d, share: `G[${i}] - ((1 + c) * G[${i}] + radial * (Z[${i}] - Z0[i]))` },
      { size: 1, share: radialShares.ga },
      { size: 1, share: radialShares.gs },
    ],
    radialBackwardPoint,
    { size: n * d, value: "(1 + c) * G[i] + radial * (Z[i] - Z0[po + j])" },
  );
}

export const radialForwardKernel: CustomKernel<PointsArgs> = {
  name: "radialForward",
  outputs: ({ n, d }) => [n * d, n],
  work: ({ n, d }) => n * d,
  cpu: ([z, z0, alpha, ab], { n, d, perSample }, [out, logAbsDet]) =>
    radialForwardLoop(z!, z0!, alpha!, ab!, n, d, perSample, out!, logAbsDet!),
  gpu: (launch, inputs, { n, d, perSample }) =>
    launch.packed(pointsSpec("rf", radialSource(n, d), n, d, perSample), [n * d, n], inputs as KernelInput[]),
};

/**
 * Its backward: [z, z0, α, α + β, dL/dz', dL/dlog|det|] → the gradients of z, z0, α and α + β,
 * shaped like them (one gpu.js kernel either way, shared gradients summed in it).
 */
export const radialBackwardKernel: CustomKernel<PointsArgs> = {
  name: "radialBackward",
  outputs: ({ n, d, perSample }) => (perSample ? [n * d, n * d, n, n] : [n * d, d, 1, 1]),
  work: ({ n, d }) => n * d,
  cpu: ([z, z0, alpha, ab, gOut, gLd], { n, d, perSample }, [gz, gz0, ga, gs]) =>
    radialBackwardLoop(z!, z0!, alpha!, ab!, n, d, perSample, gOut ?? null, gLd ?? null, gz!, gz0!, ga!, gs!),
  gpu: (launch, [z, z0, alpha, ab, gOut, gLd], { n, d, perSample }) => {
    const inputs = [z!, z0!, alpha!, ab!, orZeros(gOut ?? null, n * d), orZeros(gLd ?? null, n)];
    return perSample
      ? launch.packed(pointsSpec("rb", radialBackwardSource(n, d), n, d, true), [n * d, n * d, n, n], inputs)
      : launch.packed(pointsSpec("rbs", radialBackwardSharedSource(n, d), n, d, false), [n * d, d, 1, 1], inputs);
  },
};

// ---- the inverse: [y, z0, α, α + β] → z, in closed form -----------------------------------------

/**
 * f⁻¹ along the ray from z0: with ρ = ‖y − z0‖, ρ = r (1 + β/(α + r)), i.e.
 * r² + (α + β − ρ) r − αρ = 0, whose non-negative root gives r; then z = z0 + (y − z0)/(1 + β/(α + r)).
 */
function radialInverseLoop(
  y: TypedArray,
  z0: TypedArray,
  alpha: TypedArray,
  alphaPlusBeta: TypedArray,
  n: number,
  d: number,
  perSample: boolean,
  out: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const yo = i * d,
      po = perSample ? yo : 0,
      s = perSample ? i : 0;
    const al = alpha[s]!,
      ab = alphaPlusBeta[s]!;
    let rho2 = 0;
    for (let j = 0; j < d; j++) rho2 += (y[yo + j]! - z0[po + j]!) ** 2;
    const rho = Math.sqrt(rho2);
    const p = ab - rho,
      disc = Math.sqrt(p * p + 4 * al * rho);
    // The two algebraically equal forms of the root; each avoids cancellation on its side of p = 0.
    const r = p <= 0 ? (disc - p) / 2 : (2 * al * rho) / (disc + p);
    const scale = (al + r) / (r + ab); // 1 / (1 + βh)
    for (let j = 0; j < d; j++) out[yo + j] = z0[po + j]! + (y[yo + j]! - z0[po + j]!) * scale;
  }
}

/** Radial inverse, element i = p·D + j of z, in closed form (radialInverseLoop above). */
function radialInverseSource(): string {
  return `function (Y, Z0, AL, AB) { ${flatIndex} if (i >= this.constants.n) { return 0; } ${pointPrelude}
    const al = AL[s]; const ab = AB[s];
    let rho2 = 0;
    for (let q = 0; q < this.constants.d; q++) { const dq = Y[p * this.constants.d + q] - Z0[po + q]; rho2 += dq * dq; }
    const rho = Math.sqrt(rho2); const pp = ab - rho; const disc = Math.sqrt(pp * pp + 4 * al * rho);
    let r = (2 * al * rho) / (disc + pp);
    if (pp <= 0) { r = (disc - pp) / 2; }
    const j = i - p * this.constants.d; return Z0[po + j] + (Y[i] - Z0[po + j]) * ((al + r) / (r + ab)); }`;
}

export const radialInverseKernel: CustomKernel<PointsArgs> = {
  name: "radialInverse",
  outputs: ({ n, d }) => [n * d],
  work: ({ n, d }) => n * d,
  cpu: ([y, z0, alpha, ab], { n, d, perSample }, [out]) =>
    radialInverseLoop(y!, z0!, alpha!, ab!, n, d, perSample, out!),
  gpu: (launch, inputs, { n, d, perSample }) =>
    launch.packed(pointsSpec("ri", radialInverseSource(), n, d, perSample), [n * d], inputs as KernelInput[]),
};
