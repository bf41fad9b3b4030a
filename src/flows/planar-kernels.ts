// The fused planar layer's kernels (flows/planar.ts is the layer; its composed reference there is
// the readable math these must equal): the constraint (appendix A.1), the layer forward and
// backward, and the inverse. Each is registered with the backend as a CustomKernel — its CPU loop
// and its gpu.js program side by side — so src/kernels knows no flow layer. Parameters are shared
// ([D], [1]) or per sample ([N, D], [N]): `perSample` says which; shared gradients are summed over
// the batch.

import {
  type CustomKernel,
  flatIndex,
  type KernelInput,
  type KernelSpec,
  orZeros,
  type Part,
  packedSource,
  pointPrelude,
  pointSumSource,
  pointsSpec,
  type TypedArray,
  gpuTanh as tanh,
  UNARY,
} from "../kernels/index.js";

/** log(1 + eˣ) and 1/(1 + e⁻ˣ) without overflow (the same math as kernels/elementwise.ts). */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** A constraint kernel over [rows, d] parameters. */
const rowsSpec = (tag: string, source: string, rows: number, d: number): KernelSpec => ({
  key: `${tag}:${rows}:${d}`,
  source,
  constants: { d, floor: SLACK_FLOOR },
});

/** The shape of one call: n points of dimension d, parameters shared or per sample. */
export interface PointsArgs {
  n: number;
  d: number;
  perSample: boolean;
}
/** The constraint's shape: `rows` parameter sets (1 shared, or N per sample) of dimension d. */
export interface RowsArgs {
  rows: number;
  d: number;
}

// ---- the constraint: [u, w] → [û, slack] ---------------------------------------------------------

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
function planarConstraintLoop(
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
function planarConstraintBackwardLoop(
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
 * The planar constraint's row quantities at row p of [rows, D]: wᵀu, ‖w‖², slack = softplus(wᵀu)
 * + floor (1 at w = 0, where the layer is a translation; `live` is 0 there); `alsoInLoop`
 * accumulates more in the same loop over the row (gc, backward).
 */
const constraintRow = (alsoInLoop = ""): string => `const o = p * this.constants.d;
    let wu = 0; let ww = 0; let gc = 0;
    for (let q = 0; q < this.constants.d; q++) { wu += Wt[o + q] * U[o + q]; ww += Wt[o + q] * Wt[o + q]; ${alsoInLoop} }
    const x = wu; const sp = ${UNARY.softplus.gpu} + this.constants.floor;
    let safe = 1; let slack = 1; let live = 0; if (ww > 0) { safe = ww; slack = sp; live = 1; } const c = (sp - 1 - wu) / safe;`;

/**
 * The planar constraint for [rows, D] parameters (planarConstraintLoop above), one kernel: û ([rows, D])
 * then the slack (one per row); softplus and sigmoid as in elementwise.ts.
 */
function planarConstraintSource(rows: number, d: number): string {
  return packedSource(
    "U, Wt",
    [
      { size: rows * d, perElement: true, value: "U[i] + c * Wt[i]" },
      { size: rows, perElement: false, value: "slack" },
    ],
    constraintRow(),
    false,
  );
}

/** Its backward, one kernel: dL/du then dL/dw, both [rows, D] (the formulas of planarConstraintBackward). */
function planarConstraintBackwardSource(rows: number, d: number): string {
  const body = `${constraintRow("gc += GU[o + q] * Wt[o + q];")}
    const sigma = ${UNARY.sigmoid.gpu};
    let dcdww = 0; if (ww > 0) { dcdww = -(c / ww); }
    const gwu = (gc * (sigma - 1)) / safe + GS[p] * sigma * live;`;
  return packedSource(
    "U, Wt, GU, GS",
    [
      { size: rows * d, perElement: true, value: "GU[i] + gwu * Wt[i]" },
      { size: rows * d, perElement: true, value: "c * GU[i] + gwu * U[i] + 2 * gc * dcdww * Wt[i]" },
    ],
    body,
    false,
  );
}

export const planarConstraintKernel: CustomKernel<RowsArgs> = {
  name: "planarConstraint",
  outputs: ({ rows, d }) => [rows * d, rows],
  work: ({ rows, d }) => rows * d,
  cpu: ([u, w], { rows, d }, [uHat, slack]) => planarConstraintLoop(u!, w!, rows, d, uHat!, slack!),
  gpu: (launch, [u, w], { rows, d }) =>
    launch.packed(rowsSpec("pc", planarConstraintSource(rows, d), rows, d), [rows * d, rows], [u!, w!]),
};

/** Its backward: [u, w, dL/dû, dL/dslack] → [dL/du, dL/dw]; a missing output gradient is zero. */
export const planarConstraintBackwardKernel: CustomKernel<RowsArgs> = {
  name: "planarConstraintBackward",
  outputs: ({ rows, d }) => [rows * d, rows * d],
  work: ({ rows, d }) => rows * d,
  cpu: ([u, w, gUHat, gSlack], { rows, d }, [gu, gw]) =>
    planarConstraintBackwardLoop(u!, w!, rows, d, gUHat ?? null, gSlack ?? null, gu!, gw!),
  gpu: (launch, [u, w, gUHat, gSlack], { rows, d }) =>
    launch.packed(
      rowsSpec("pcb", planarConstraintBackwardSource(rows, d), rows, d),
      [rows * d, rows * d],
      [u!, w!, orZeros(gUHat ?? null, rows * d), orZeros(gSlack ?? null, rows)],
    ),
};

// ---- the layer: [z, û, w, b, slack] → [z', log|det|] ---------------------------------------------

/**
 * Planar: a = wᵀz + b, h = tanh(a), z' = z + û h, and with wᵀû = m(wᵀu) = −1 + σ₊ (σ₊ = softplus(wᵀu)),
 * 1 + ûᵀψ = 1 + (1 − h²) wᵀû = h² + (1 − h²) σ₊: a sum of non-negative terms, so the log-det never
 * sees the cancellation of 1 + wᵀû when wᵀû is within rounding of −1.
 */
function planarForwardLoop(
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
function planarBackwardLoop(
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
// Measured: without them the planar K = 32 step on U1 takes 1.35× as long (one run, alternated).

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

/** Planar forward, one kernel: z' ([n, D]) then log|det| (one per point). */
function planarSource(n: number, d: number): string {
  return packedSource(
    "Z, U, Wt, Bt, SP",
    [
      { size: n * d, perElement: true, value: "Z[i] + U[po + j] * h" },
      { size: n, perElement: false, value: "Math.log(h * h + (1 - h * h) * SP[s])" },
    ],
    `let a = Bt[s];
    for (let q = 0; q < this.constants.d; q++) { a += Wt[po + q] * Z[p * this.constants.d + q]; }
    const h = ${tanh("a")};`,
  );
}

/** The planar backward's per-point quantities at point p (offsets po, s): h = tanh(a), h′, gq, ga = dL/da. */
const planarBackwardPoint = `let a = Bt[s]; let ug = 0;
    for (let q = 0; q < this.constants.d; q++) { a += Wt[po + q] * Z[p * this.constants.d + q]; ug += U[po + q] * G[p * this.constants.d + q]; }
    const h = ${tanh("a")}; const hp = 1 - h * h; const sp = SP[s];
    const gq = GL[p] / (h * h + hp * sp);
    const ga = hp * ug + 2 * h * hp * (1 - sp) * gq;`;

/**
 * Planar backward per point, one kernel: dL/dz, then each parameter's gradient per point — the
 * gradient itself for per-sample parameters, a point's share of it for shared ones — dL/du, dL/dw
 * ([n, D]), dL/db and dL/d(slack) (one per point).
 */
function planarBackwardSource(n: number, d: number): string {
  const parts: Part[] = [
    { size: n * d, perElement: true, value: "G[i] + ga * Wt[po + j]" },
    { size: n * d, perElement: true, value: "h * G[i]" },
    { size: n * d, perElement: true, value: "ga * Z[i]" },
    { size: n, perElement: false, value: "ga" },
    { size: n, perElement: false, value: "hp * gq" },
  ];
  return packedSource("Z, U, Wt, Bt, SP, G, GL", parts, planarBackwardPoint);
}

/**
 * A shared planar layer's backward in one kernel: dL/dz ([n, D], point by point), then the
 * parameter gradients summed over the points: dL/du, dL/dw (D each), dL/db, dL/d(slack).
 */
function planarBackwardSharedSource(n: number, d: number): string {
  return pointSumSource(
    "Z, U, Wt, Bt, SP, G, GL",
    [
      { size: d, share: "h * G[p * this.constants.d + i]" },
      { size: d, share: "ga * Z[p * this.constants.d + i]" },
      { size: 1, share: "ga" },
      { size: 1, share: "hp * gq" },
    ],
    planarBackwardPoint,
    { size: n * d, value: "G[i] + ga * Wt[po + j]" },
  );
}

export const planarForwardKernel: CustomKernel<PointsArgs> = {
  name: "planarForward",
  outputs: ({ n, d }) => [n * d, n],
  work: ({ n, d }) => n * d,
  cpu: ([z, uHat, w, b, sp], { n, d, perSample }, [out, logAbsDet]) =>
    planarForwardLoop(z!, uHat!, w!, b!, sp!, n, d, perSample, out!, logAbsDet!),
  gpu: (launch, inputs, { n, d, perSample }) =>
    launch.packed(pointsSpec("pf", planarSource(n, d), n, d, perSample), [n * d, n], inputs as KernelInput[]),
};

/**
 * Its backward: [z, û, w, b, slack, dL/dz', dL/dlog|det|] → the gradients of z, û, w, b and the
 * slack, shaped like them. On gpu.js, one kernel either way: per-sample parameters get per-point
 * gradients; shared ones get sums over the points, computed in the same launch.
 */
export const planarBackwardKernel: CustomKernel<PointsArgs> = {
  name: "planarBackward",
  outputs: ({ n, d, perSample }) => (perSample ? [n * d, n * d, n * d, n, n] : [n * d, d, d, 1, 1]),
  work: ({ n, d }) => n * d,
  cpu: ([z, uHat, w, b, sp, gOut, gLd], { n, d, perSample }, [gz, gu, gw, gb, gsp]) =>
    planarBackwardLoop(z!, uHat!, w!, b!, sp!, n, d, perSample, gOut ?? null, gLd ?? null, gz!, gu!, gw!, gb!, gsp!),
  gpu: (launch, [z, uHat, w, b, sp, gOut, gLd], { n, d, perSample }) => {
    const inputs = [z!, uHat!, w!, b!, sp!, orZeros(gOut ?? null, n * d), orZeros(gLd ?? null, n)];
    return perSample
      ? launch.packed(pointsSpec("pb", planarBackwardSource(n, d), n, d, true), [n * d, n * d, n * d, n, n], inputs)
      : launch.packed(pointsSpec("pbs", planarBackwardSharedSource(n, d), n, d, false), [n * d, d, d, 1, 1], inputs);
  },
};

// ---- the inverse: [y, û, w, b, slack] → z -------------------------------------------------------

/**
 * The root of g(s) = s + κ tanh(s + b) − c for κ = slack − 1 > −1, to within a few ulps. The slope
 * 1 + κ(1 − t²) is evaluated as t² + slack·(1 − t²), which stays positive however close κ is to −1.
 */
export function solveMonotone(c: number, slack: number, b: number): number {
  const kappa = slack - 1;
  // |tanh| ≤ 1 brackets the root in [c − |κ|, c + |κ|].
  let lo = c - Math.abs(kappa),
    hi = c + Math.abs(kappa);
  let s = c - kappa * Math.tanh(c + b); // a good first guess when |κ| is small
  if (!(s >= lo && s <= hi)) s = 0.5 * (lo + hi);
  // Newton, but bisect when the Newton step leaves the bracket or would not halve the error
  // (Newton alone can oscillate across the kink of tanh for large κ): "rtsafe".
  let step = hi - lo,
    previousStep = step;
  for (let iter = 0; iter < 200; iter++) {
    const t = Math.tanh(s + b);
    const g = s + kappa * t - c;
    if (g === 0) return s;
    if (g > 0) hi = s;
    else lo = s;
    const slope = t * t + slack * (1 - t * t);
    const newton = s - g / slope;
    if (!(newton > lo && newton < hi) || Math.abs(2 * g) > Math.abs(previousStep * slope)) {
      previousStep = step;
      step = 0.5 * (hi - lo);
      s = lo + step;
    } else {
      previousStep = step;
      step = g / slope;
      s = newton;
    }
    if (Math.abs(step) <= 2 * Number.EPSILON * Math.max(1, Math.abs(s))) return s;
  }
  return s;
}

/**
 * f⁻¹ per point: with s = wᵀz, wᵀf(z) = s + wᵀû tanh(s + b) is strictly increasing in s (wᵀû > −1);
 * solve it for s (solveMonotone), then z = y − û tanh(s + b).
 */
function planarInverseLoop(
  y: TypedArray,
  uHat: TypedArray,
  w: TypedArray,
  b: TypedArray,
  slack: TypedArray,
  n: number,
  d: number,
  perSample: boolean,
  out: TypedArray,
): void {
  for (let i = 0; i < n; i++) {
    const yo = i * d,
      po = perSample ? yo : 0,
      bi = b[perSample ? i : 0]!;
    let c = 0;
    for (let j = 0; j < d; j++) c += w[po + j]! * y[yo + j]!;
    const s = solveMonotone(c, slack[perSample ? i : 0]!, bi);
    const h = Math.tanh(s + bi);
    for (let j = 0; j < d; j++) out[yo + j] = y[yo + j]! - uHat[po + j]! * h;
  }
}

/**
 * Planar inverse, element i = p·D + j of z: the root s of s + κ tanh(s + b) = wᵀy (κ = slack − 1)
 * by Newton kept inside a shrinking bracket, bisecting when a step leaves it or would not halve the
 * error (solveMonotone above, at float32's resolution), then y − û tanh(s + b).
 */
function planarInverseSource(): string {
  return `function (Y, U, Wt, Bt, SP) { ${flatIndex} if (i >= this.constants.n) { return 0; } ${pointPrelude}
    const bb = Bt[s]; const slack = SP[s]; const kappa = slack - 1;
    let c = 0;
    for (let q = 0; q < this.constants.d; q++) { c += Wt[po + q] * Y[p * this.constants.d + q]; }
    let lo = c - Math.abs(kappa); let hi = c + Math.abs(kappa);
    let x = c - kappa * ${tanh("c + bb")};
    if (x < lo || x > hi) { x = 0.5 * (lo + hi); }
    let step = hi - lo; let previous = step; let done = 0;
    for (let it = 0; it < 100; it++) {
      if (done === 0) {
        const t = ${tanh("x + bb")}; const g = x + kappa * t - c;
        if (g === 0) { done = 1; } else {
          if (g > 0) { hi = x; } else { lo = x; }
          const slope = t * t + slack * (1 - t * t); const newton = x - g / slope;
          if (newton <= lo || newton >= hi || Math.abs(2 * g) > Math.abs(previous * slope)) { previous = step; step = 0.5 * (hi - lo); x = lo + step; }
          else { previous = step; step = g / slope; x = newton; }
          if (Math.abs(step) <= 2.4e-7 * Math.max(1, Math.abs(x))) { done = 1; }
        }
      }
    }
    const j = i - p * this.constants.d; return Y[i] - U[po + j] * ${tanh("x + bb")}; }`;
}

export const planarInverseKernel: CustomKernel<PointsArgs> = {
  name: "planarInverse",
  outputs: ({ n, d }) => [n * d],
  work: ({ n, d }) => n * d,
  cpu: ([y, uHat, w, b, slack], { n, d, perSample }, [out]) =>
    planarInverseLoop(y!, uHat!, w!, b!, slack!, n, d, perSample, out!),
  gpu: (launch, inputs, { n, d, perSample }) =>
    launch.packed(pointsSpec("pi", planarInverseSource(), n, d, perSample), [n * d], inputs as KernelInput[]),
};
