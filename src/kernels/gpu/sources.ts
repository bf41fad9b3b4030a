// gpu.js kernel sources, generated per op and shape signature. Each kernel writes a 2-D output of
// width W (≤ 4096, under GL's 16384 texture side) so that the flat index is y·W + x; loop bounds and
// sizes are constants, never arguments (gpu.js caps argument-bound loops at 1000 iterations).
import { BINARY, UNARY } from "../elementwise.js";
import type { BinaryOp, ReduceOp, Shape, UnaryOp, UpdateRule } from "../types.js";

export const MAX_WIDTH = 4096;

export const flatIndex = "const i = this.thread.y * this.constants.W + this.thread.x;";

/**
 * `let q = ⌊x / y⌋` for whole numbers 0 ≤ x < 2²⁴ and 0 < y, exact where the GPU's division is not:
 * WGSL lets f32 division be 2.5 ULP off (a GPU may take x times an approximate 1/y), so 80 / 40 can
 * come out 1.9999999 and floor to 1. The products q·y are exact, so one step either way puts q right.
 * Every index a kernel splits (a point and its coordinate, a row and its column) goes through this.
 */
export const floorDiv = (q: string, x: string, y: string | number): string =>
  `let ${q} = Math.floor(${x} / ${y}); if (${q} * ${y} > ${x}) { ${q} = ${q} - 1; } if (${q} * ${y} + ${y} <= ${x}) { ${q} = ${q} + 1; }`;

/** Axis d's coordinate c of the flat index `rest` (of an axis `size` long, the last axis first), and rest divided by size. */
const peelAxis = (d: number, size: number): string =>
  `${floorDiv(`q${d}`, "rest", size)} c = rest - q${d} * ${size}; rest = q${d};`;

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
export const tanh = (arg: string): string => UNARY.tanh.gpu.replace(/\bx\b/g, `(${arg})`);

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
    lines.push(`${peelAxis(d, shape[d]!)} ia += c * ${aStrides[d]}; ib += c * ${bStrides[d]};`);
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
  for (let d = shape.length - 1; d >= 0; d--) lines.push(`${peelAxis(d, shape[d]!)} ix += c * ${strides[d]};`);
  return `function (X) { ${flatIndex} if (i >= this.constants.n) { return 0; } let rest = i; let c = 0; let ix = ${offset}; ${lines.join(" ")} return X[ix]; }`;
}

/** X (contiguous, of `shape`) placed at `starts` in zeros of `outShape`, all of one rank. */
export function padSource(shape: Shape, starts: Shape, outShape: Shape): string {
  const lines: string[] = [];
  let stride = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    lines.push(
      `${peelAxis(d, outShape[d]!)} if (c < ${starts[d]} || c >= ${starts[d]! + shape[d]!}) { inside = 0; } ix += (c - ${starts[d]}) * ${stride};`,
    );
    stride *= shape[d]!;
  }
  return `function (X) { ${flatIndex} if (i >= this.constants.n) { return 0; } let rest = i; let c = 0; let ix = 0; let inside = 1; ${lines.join(" ")} if (inside === 0) { return 0; } return X[ix]; }`;
}

/** Gather along the middle axis of [outer, size, inner] by the indices IDX (m of them). */
export function gatherSource(): string {
  return `function (X, IDX) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    ${floorDiv("o", "i", "(this.constants.m * this.constants.inner)")} const rest = i - o * this.constants.m * this.constants.inner;
    ${floorDiv("j", "rest", "this.constants.inner")} const k = rest - j * this.constants.inner;
    return X[(o * this.constants.size + IDX[j]) * this.constants.inner + k]; }`;
}

/** The adjoint of gatherSource: element (o, r, k) sums the gradients of every pick j with IDX[j] = r. */
export function scatterAddSource(): string {
  return `function (G, IDX) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    ${floorDiv("o", "i", "(this.constants.size * this.constants.inner)")} const rest = i - o * this.constants.size * this.constants.inner;
    ${floorDiv("r", "rest", "this.constants.inner")} const k = rest - r * this.constants.inner;
    let s = 0;
    for (let j = 0; j < this.constants.m; j++) { if (IDX[j] === r) { s += G[(o * this.constants.m + j) * this.constants.inner + k]; } }
    return s; }`;
}

/** Reduce x viewed as [outer, size, inner] over the middle axis; output index o·inner + k. */
export function reduceSource(op: ReduceOp): string {
  const combine = op === "sum" ? "s += v;" : op === "max" ? "if (v > s) { s = v; }" : "if (v < s) { s = v; }";
  return `function (X) { ${flatIndex} if (i >= this.constants.n) { return 0; }
    ${floorDiv("o", "i", "this.constants.inner")} const k = i - o * this.constants.inner;
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
    ${floorDiv("row", "i", "this.constants.nn")} const col = i - row * this.constants.nn;
    ${floorDiv("t", "row", "this.constants.m")} const r = row - t * this.constants.m;
    const ao = AO[t]; const bo = BO[t];
    let s = 0;
    for (let p = 0; p < this.constants.k; p++) { s += ${a} * ${b}; }
    return s; }`;
}

// Building blocks for kernels over n points of dimension d, such as the fused flow layers (their
// sources are beside the layers, in src/flows). Parameters are shared (offset 0) or per sample
// (offset p·D), chosen by the constant perSample (0 or 1).
/** Point p of flat element i, and its parameters' offsets po ([N, D]) and s ([N]). */
export const pointPrelude = `${floorDiv("p", "i", "this.constants.d")} const po = this.constants.perSample * p * this.constants.d; const s = this.constants.perSample * p;`;

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
export interface Part {
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
export function packedSource(params: string, parts: Part[], body: string, perSample = true): string {
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
    let div = 1; ${divisor} ${floorDiv("p", "i", "div")} const j = i - p * div; ${offsets}
    ${body} ${values} }`;
}

/**
 * A kernel whose outputs are sums over all `points` points (a shared parameter's gradient): thread
 * tid sums its output's share as it computes each point's `body` (in the order a row sum would), so
 * one launch replaces a per-point kernel and a reduction per output. With `perPoint`, an [n, D]
 * output computed point by point comes first (dL/dz): the layer's whole backward in one launch.
 */
export function pointSumSource(
  params: string,
  parts: Array<{ size: number; share: string }>,
  body: string,
  perPoint?: { size: number; value: string },
): string {
  const sizes = [...(perPoint ? [perPoint.size] : []), ...parts.map((part) => part.size)];
  const first = perPoint ? 1 : 0;
  const select = selectPart(sizes);
  const head = perPoint
    ? `if (part === 0) { ${floorDiv("p", "i", "this.constants.d")} const j = i - p * this.constants.d; const po = 0; const s = 0; ${body} return ${perPoint.value}; }`
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
    ${floorDiv("which", "i", "this.constants.len")} const e = i - which * this.constants.len;
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
      ${floorDiv("p", "tid", "DD")} const rest = tid - p * DD; ${floorDiv("row", "rest", "D")} const col = rest - row * D;
      ${pivotSetup}
      if (row < k) { return P[tid]; }
      if (row === k) { return P[o + r * D + col]; }
      if (col < k) { return P[tid]; }
      if (col === k) { if (pv !== 0) { return 0; } if (row === r) { return P[o + k * D + col]; } return P[tid]; }
      ${below("row", "col")}
      return v; }
    const above = tid - M; ${floorDiv("cycle", "above", "this.constants.mats")} const p = above - cycle * this.constants.mats;
    ${pivotSetup}
    if (tid >= M + this.constants.mats) { ${sum} }
    let best = -1; let bestRow = k + 1;
    for (let q = 0; q < this.constants.d; q++) {
      if (q > k) { ${below("q", "(k + 1)")} if (Math.abs(v) > best) { best = Math.abs(v); bestRow = q; } }
    }
    return bestRow; }`;
}
