// gpu.js kernel sources, generated per op and shape signature. Each kernel writes a 2-D output of
// width W (≤ 4096, under GL's 16384 texture side) so that the flat index is y·W + x; loop bounds and
// sizes are constants, never arguments (gpu.js caps argument-bound loops at 1000 iterations).
import { BINARY, UNARY } from "../elementwise.js";
import type { BinaryOp, ReduceOp, Shape, UnaryOp, UpdateRule } from "../types.js";

export const MAX_WIDTH = 4096;

const flatIndex = "const i = this.thread.y * this.constants.W + this.thread.x;";

/**
 * The source with input k read from offsets[k] on (X[e] becomes X[offset + e]): how a kernel reads
 * a view of a larger device array (ViewArray). Inputs are the function's leading parameters.
 */
export function shiftInputs(source: string, offsets: number[]): string {
  const names = /^function\s*\(([^)]*)\)/
    .exec(source)![1]!
    .split(",")
    .map((name) => name.trim());
  let out = source;
  offsets.forEach((offset, k) => {
    if (offset !== 0) out = out.replace(new RegExp(`\\b${names[k]}\\[`, "g"), `${names[k]}[${offset} + `);
  });
  return out;
}

/** tanh of an expression in a kernel: UNARY.tanh's gpu.js form (with its clamp), applied to `arg`. */
const tanh = (arg: string): string => UNARY.tanh.gpu.replace(/\bx\b/g, `(${arg})`);

export function unarySource(op: UnaryOp): string {
  return `function (X) { ${flatIndex} if (i >= this.constants.n) { return 0; } const x = X[i]; return ${UNARY[op].gpu}; }`;
}

/**
 * Binary op over collapsed axes: the output index is split into per-axis coordinates (unrolled),
 * each adding its stride in A and in B (0 along a broadcast axis).
 */
export function binarySource(op: BinaryOp, shape: number[], aStrides: number[], bStrides: number[]): string {
  const lines: string[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    lines.push(
      `c = rest % ${shape[d]}; rest = Math.floor(rest / ${shape[d]}); ia += c * ${aStrides[d]}; ib += c * ${bStrides[d]};`,
    );
  }
  return `function (A, B) { ${flatIndex} if (i >= this.constants.n) { return 0; } let rest = i; let c = 0; let ia = 0; let ib = 0; ${lines.join(" ")} const a = A[ia]; const b = B[ib]; return ${BINARY[op].gpu}; }`;
}

/** where(cond, a, b), all of one length. */
export function whereSource(): string {
  return `function (C, A, B) { ${flatIndex} if (i >= this.constants.n) { return 0; } if (C[i] === 0) { return B[i]; } return A[i]; }`;
}

/** The strided view (offset, collapsed shape, strides) of X, made contiguous: the index math of binarySource. */
export function stridedCopySource(offset: number, shape: number[], strides: number[]): string {
  const lines: string[] = [];
  for (let d = shape.length - 1; d >= 0; d--)
    lines.push(`c = rest % ${shape[d]}; rest = Math.floor(rest / ${shape[d]}); ix += c * ${strides[d]};`);
  return `function (X) { ${flatIndex} if (i >= this.constants.n) { return 0; } let rest = i; let c = 0; let ix = ${offset}; ${lines.join(" ")} return X[ix]; }`;
}

/** X (contiguous, of `shape`) placed at `starts` in zeros of `outShape`, all of one rank. */
export function padSource(shape: Shape, starts: Shape, outShape: Shape): string {
  const lines: string[] = [];
  let stride = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    lines.push(
      `c = rest % ${outShape[d]}; rest = Math.floor(rest / ${outShape[d]}); if (c < ${starts[d]} || c >= ${starts[d]! + shape[d]!}) { inside = 0; } ix += (c - ${starts[d]}) * ${stride};`,
    );
    stride *= shape[d]!;
  }
  return `function (X) { ${flatIndex} if (i >= this.constants.n) { return 0; } let rest = i; let c = 0; let ix = 0; let inside = 1; ${lines.join(" ")} if (inside === 0) { return 0; } return X[ix]; }`;
}

/** Gather along the middle axis of [outer, size, inner] by the indices IDX (m of them). */
export function gatherSource(): string {
  return `function (X, IDX) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    const o = Math.floor(i / (this.constants.m * this.constants.inner)); const rest = i - o * this.constants.m * this.constants.inner;
    const j = Math.floor(rest / this.constants.inner); const k = rest - j * this.constants.inner;
    return X[(o * this.constants.size + IDX[j]) * this.constants.inner + k]; }`;
}

/** The adjoint of gatherSource: element (o, r, k) sums the gradients of every pick j with IDX[j] = r. */
export function scatterAddSource(): string {
  return `function (G, IDX) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    const o = Math.floor(i / (this.constants.size * this.constants.inner)); const rest = i - o * this.constants.size * this.constants.inner;
    const r = Math.floor(rest / this.constants.inner); const k = rest - r * this.constants.inner;
    let s = 0;
    for (let j = 0; j < this.constants.m; j++) { if (IDX[j] === r) { s += G[(o * this.constants.m + j) * this.constants.inner + k]; } }
    return s; }`;
}

/** Reduce x viewed as [outer, size, inner] over the middle axis; output index o·inner + k. */
export function reduceSource(op: ReduceOp): string {
  const combine = op === "sum" ? "s += v;" : op === "max" ? "if (v > s) { s = v; }" : "if (v < s) { s = v; }";
  return `function (X) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    const o = Math.floor(i / this.constants.inner); const k = i - o * this.constants.inner;
    const base = o * this.constants.size * this.constants.inner + k;
    let s = ${op === "sum" ? "0" : "X[base]"};
    for (let j = ${op === "sum" ? 0 : 1}; j < this.constants.size; j++) { const v = X[base + j * this.constants.inner]; ${combine} }
    return s; }`;
}

/** Batched matmul: output (t, i, j) at flat index (t·m + i)·n + j; transposes change the index math. */
export function matmulSource(transA: boolean, transB: boolean): string {
  const a = transA ? "A[ao + p * this.constants.m + r]" : "A[ao + r * this.constants.k + p]";
  const b = transB ? "B[bo + col * this.constants.k + p]" : "B[bo + p * this.constants.nn + col]";
  return `function (A, B, AO, BO) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    const col = i % this.constants.nn; const row = Math.floor(i / this.constants.nn);
    const t = Math.floor(row / this.constants.m); const r = row - t * this.constants.m;
    const ao = AO[t]; const bo = BO[t];
    let s = 0;
    for (let p = 0; p < this.constants.k; p++) { s += ${a} * ${b}; }
    return s; }`;
}

// The fused flow layers, forward and backward. Parameters are shared (offset 0) or per sample
// (offset p·D), chosen by the constant perSample (0 or 1).
const pointPrelude = `const p = Math.floor(i / this.constants.d); const po = this.constants.perSample * p * this.constants.d; const s = this.constants.perSample * p;`;

/** Which output thread tid writes (`part`) and its index there (`i`), outputs of `sizes` one after another. */
function selectPart(sizes: number[]): string {
  return outputStarts(sizes)
    .slice(1)
    .map((start, k) => `if (tid >= ${start}) { part = ${k + 1}; i = tid - ${start}; }`)
    .join(" ");
}

/** Where each of several outputs written one after another starts. */
export function outputStarts(sizes: number[]): number[] {
  const starts: number[] = [];
  let start = 0;
  for (const size of sizes) {
    starts.push(start);
    start += size;
  }
  return starts;
}

/** One output of a packed kernel: its size, whether it is [n, D] (else one value per point or row), and its value. */
interface Part {
  size: number;
  perElement: boolean;
  value: string;
}

/**
 * A kernel with several outputs written one after another into one array (the backend hands out
 * each as a view of it): thread tid computes element i of output `part`, at point (or row) p — the
 * element's point for an [n, D] output, else i itself — with j = i − p·D its coordinate. `body`
 * holds what the outputs share (a flow layer's wᵀz + b, tanh, …), computed once per thread.
 */
function packedSource(params: string, parts: Part[], body: string, perSample = true): string {
  const select = selectPart(parts.map((part) => part.size));
  const divisor = parts
    .map((part, k) => (part.perElement ? `if (part === ${k}) { div = this.constants.d; }` : ""))
    .join(" ");
  const values = parts
    .map((part, k) => (k < parts.length - 1 ? `if (part === ${k}) { return ${part.value}; }` : `return ${part.value};`))
    .join(" ");
  const offsets = perSample
    ? "const po = this.constants.perSample * p * this.constants.d; const s = this.constants.perSample * p;"
    : "";
  return `function (${params}) { const tid = this.thread.y * this.constants.W + this.thread.x; if (tid >= this.constants.n) { return 0; }
    let part = 0; let i = tid; ${select}
    let div = 1; ${divisor} const p = Math.floor(i / div); const j = i - p * div; ${offsets}
    ${body} ${values} }`;
}

/**
 * A kernel whose outputs are sums over all `points` points (a shared parameter's gradient): thread
 * tid sums its output's share as it computes each point's `body` (in the order a row sum would), so
 * one launch replaces a per-point kernel and a reduction per output. With `perPoint`, an [n, D]
 * output computed point by point comes first (dL/dz): the layer's whole backward in one launch.
 */
function pointSumSource(
  params: string,
  parts: Array<{ size: number; share: string }>,
  body: string,
  perPoint?: { size: number; value: string },
): string {
  const sizes = [...(perPoint ? [perPoint.size] : []), ...parts.map((part) => part.size)];
  const first = perPoint ? 1 : 0;
  const select = selectPart(sizes);
  const head = perPoint
    ? `if (part === 0) { const p = Math.floor(i / this.constants.d); const j = i - p * this.constants.d; const po = 0; const s = 0; ${body} return ${perPoint.value}; }`
    : "";
  const add = parts.map((part, k) => `if (part === ${k + first}) { total += ${part.share}; }`).join(" ");
  return `function (${params}) { const tid = this.thread.y * this.constants.W + this.thread.x; if (tid >= this.constants.n) { return 0; }
    let part = 0; let i = tid; ${select}
    ${head}
    let total = 0;
    for (let p = 0; p < this.constants.points; p++) { const po = 0; const s = 0; ${body} ${add} }
    return total; }`;
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
 * The planar constraint for [rows, D] parameters (kernels/cpu/flows.ts), one kernel: û ([rows, D])
 * then the slack (one per row); softplus and sigmoid as in elementwise.ts.
 */
export function planarConstraintSource(rows: number, d: number): string {
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
export function planarConstraintBackwardSource(rows: number, d: number): string {
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

/** Planar forward, one kernel: z' ([n, D]) then log|det| (one per point). */
export function planarSource(n: number, d: number): string {
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

/** Radial forward, one kernel: z' then log|det| (see kernels/cpu/flows.ts). */
export function radialSource(n: number, d: number): string {
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

/**
 * Planar inverse, element i = p·D + j of z: the root s of s + κ tanh(s + b) = wᵀy (κ = slack − 1)
 * by Newton kept inside a shrinking bracket, bisecting when a step leaves it or would not halve the
 * error (solveMonotone in flows/planar.ts, at float32's resolution), then y − û tanh(s + b).
 */
export function planarInverseSource(): string {
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

/** Radial inverse, element i = p·D + j of z, in closed form (radialInverse in flows/radial.ts). */
export function radialInverseSource(): string {
  return `function (Y, Z0, AL, AB) { ${flatIndex} if (i >= this.constants.n) { return 0; } ${pointPrelude}
    const al = AL[s]; const ab = AB[s];
    let rho2 = 0;
    for (let q = 0; q < this.constants.d; q++) { const dq = Y[p * this.constants.d + q] - Z0[po + q]; rho2 += dq * dq; }
    const rho = Math.sqrt(rho2); const pp = ab - rho; const disc = Math.sqrt(pp * pp + 4 * al * rho);
    let r = (2 * al * rho) / (disc + pp);
    if (pp <= 0) { r = (disc - pp) / 2; }
    const j = i - p * this.constants.d; return Z0[po + j] + (Y[i] - Z0[po + j]) * ((al + r) / (r + ab)); }`;
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
export function planarBackwardSource(n: number, d: number): string {
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
export function planarBackwardSharedSource(n: number, d: number): string {
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
export function radialBackwardSource(n: number, d: number): string {
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
export function radialBackwardSharedSource(n: number, d: number): string {
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

/**
 * An optimizer step (kernels/cpu/optim.ts) in one kernel: output i of (1 + k)·len is value e of
 * block `which` — 0 the new parameter, b ≥ 1 the new state buffer b − 1 — each thread recomputing
 * its element's new state from the old inputs. The old state comes as the previous step's output
 * (packed: P = [x, s₀, s₁…], the parameter block unread) or as k arrays S0, S1… of len values.
 * Hyperparameters come in H (updateScalars in specs.ts), so a new learning rate or step count needs
 * no new kernel; 1 − β is passed, not formed in float32.
 */
const UPDATES: Record<UpdateRule["kind"], { state: string; outputs: string[] }> = {
  // H = [lr, μ]
  sgd: { state: "const b = H[1] * S0[e] + g;", outputs: ["X[e] - H[0] * b", "b"] },
  // H = [lr / (1 − β1ᵗ), β1, 1 − β1, β2, 1 − β2, ε, 1 − β2ᵗ]
  adam: {
    state: "const m = H[1] * S0[e] + H[2] * g; const v = H[3] * S1[e] + H[4] * g * g;",
    outputs: ["X[e] - (H[0] * m) / (Math.sqrt(v / H[6]) + H[5])", "m", "v"],
  },
  // H = [lr, α, 1 − α, ε, μ]
  rmsprop: {
    state: "const s = H[1] * S0[e] + H[2] * g * g; const b = H[4] * S1[e] + g / (Math.sqrt(s) + H[3]);",
    outputs: ["X[e] - H[0] * b", "s", "b"],
  },
};

export function updateSource(kind: UpdateRule["kind"], packed: boolean): string {
  const { state, outputs } = UPDATES[kind];
  const buffers = outputs.slice(1).map((_, k) => `S${k}`);
  // Packed, state buffer k is block k + 1 of P.
  const read = packed
    ? state.replace(/S(\d)\[e\]/g, (_, k: string) => `P[${Number(k) + 1} * this.constants.len + e]`)
    : state;
  const pick = outputs
    .map((o, w) => (w < outputs.length - 1 ? `if (which === ${w}) { return ${o}; }` : `return ${o};`))
    .join(" ");
  return `function (X, G, ${packed ? "P" : buffers.join(", ")}, H) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    const which = Math.floor(i / this.constants.len); const e = i - which * this.constants.len;
    const g = G[e]; ${read} ${pick} }`;
}

/** How many outputs an update rule has: the parameter and its state buffers. */
export const updateOutputs = (kind: UpdateRule["kind"]): number => UPDATES[kind].outputs.length;

// LU with partial pivoting for `mats` matrices d×d, one launch per column k. A launch reads the array
// [A (mats·d·d), r (mats), s (mats)] and writes the next: the matrices after eliminating column k
// (rows k and r swapped, r the pivot row the input holds for column k), the pivot rows of column
// k + 1 (each such thread scans that column of the new matrix, computing its entries as it goes, so
// no launch is spent on the search), and s + log|pivot|. A first launch copies the matrices and
// finds column 0's pivots; the last writes s alone. A zero pivot (a singular matrix) adds
// log 0 = −∞ and skips its elimination, as the CPU's LU returns −∞. Loops are bounded by
// this.constants.d itself, which gpu.js sees as a constant (it caps other bounds at 1000).
const luPrelude = `const tid = this.thread.y * this.constants.W + this.thread.x; if (tid >= this.constants.n) { return 0; }
    const D = this.constants.d; const DD = D * D; const M = this.constants.mats * DD;`;

/** The first launch: [A, pivot rows of column 0, zeros]. */
export function luStartSource(): string {
  return `function (A) { ${luPrelude}
    if (tid < M) { return A[tid]; }
    if (tid >= M + this.constants.mats) { return 0; }
    const o = (tid - M) * DD;
    let best = -1; let bestRow = 0;
    for (let q = 0; q < this.constants.d; q++) { const v = Math.abs(A[o + q * D]); if (v > best) { best = v; bestRow = q; } }
    return bestRow; }`;
}

/**
 * Column k (K[0]) eliminated. Entry (row, col) of matrix p after the swap of rows k and r and the
 * elimination: rows above k unchanged; row k is row r; below, the (swapped) row minus its multiple
 * f = src[k]/pivot of the pivot row, with column k set to 0. `last`: only s, the sum of log|pivot|.
 */
export function luStepSource(last: boolean): string {
  // Entry (q, c) of the matrix after this step, for q > k and c > k: what part 0 writes there.
  const below = (q: string, c: string) => `{ let src = P[o + ${q} * D + ${c}]; let srck = P[o + ${q} * D + k];
      if (${q} === r) { src = P[o + k * D + ${c}]; srck = P[o + k * D + k]; }
      v = src; if (pv !== 0) { v = src - (srck / pv) * P[o + r * D + ${c}]; } }`;
  const sum = "return P[M + this.constants.mats + p] + Math.log(Math.abs(pv));";
  const pivotSetup = "const o = p * DD; const r = P[M + p]; const pv = P[o + r * D + k]; let v = 0;";
  if (last) return `function (P, K) { ${luPrelude} const k = K[0]; const p = tid; ${pivotSetup} ${sum} }`;
  return `function (P, K) { ${luPrelude} const k = K[0];
    if (tid < M) {
      const p = Math.floor(tid / DD); const rest = tid - p * DD; const row = Math.floor(rest / D); const col = rest - row * D;
      ${pivotSetup}
      if (row < k) { return P[tid]; }
      if (row === k) { return P[o + r * D + col]; }
      if (col < k) { return P[tid]; }
      if (col === k) { if (pv !== 0) { return 0; } if (row === r) { return P[o + k * D + col]; } return P[tid]; }
      ${below("row", "col")}
      return v; }
    const p = (tid - M) - Math.floor((tid - M) / this.constants.mats) * this.constants.mats;
    ${pivotSetup}
    if (tid >= M + this.constants.mats) { ${sum} }
    let best = -1; let bestRow = k + 1;
    for (let q = 0; q < this.constants.d; q++) {
      if (q > k) { ${below("q", "(k + 1)")} if (Math.abs(v) > best) { best = Math.abs(v); bestRow = q; } }
    }
    return bestRow; }`;
}
