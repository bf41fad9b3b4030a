// The optimizers' updates in WebAssembly SIMD: Adam and RMSprop, whose square root and division per
// parameter bound the TypeScript loops of ../../cpu/optim.ts (a plain loop over the same arrays with
// a multiply-add each runs about twice as fast as Adam's; `npm run bench:optim`); two lanes of f64x2
// per instruction halve that. SGD has neither, and stays in TypeScript (its kernel is not measured).
//
// Each formula is the TypeScript loop's, operation for operation, in float64 (IEEE arithmetic is
// exact per lane): the results are bit-identical to the loops. float32 parameters are widened to
// float64, updated, and rounded back where the loop's Float32Array stores round them (m and v are
// read back rounded, as the loop reads them back from its arrays).

/** Adam over n values at x, g, m, v (byte addresses) in float64; a1 = 1 − β₁, a2 = 1 − β₂. */
export function adamF64(
  x: usize, g: usize, m: usize, v: usize, n: i32,
  beta1: f64, a1: f64, beta2: f64, a2: f64, stepSize: f64, c2: f64, eps: f64,
): void {
  adam<f64>(x, g, m, v, n, beta1, a1, beta2, a2, stepSize, c2, eps);
}

/** The same on float32 arrays. */
export function adamF32(
  x: usize, g: usize, m: usize, v: usize, n: i32,
  beta1: f64, a1: f64, beta2: f64, a2: f64, stepSize: f64, c2: f64, eps: f64,
): void {
  adam<f32>(x, g, m, v, n, beta1, a1, beta2, a2, stepSize, c2, eps);
}

/** RMSprop over n values at x, g, s, b in float64: s ← αs + (1 − α)g², b ← μb + g/(√s + ε), x ← x − lr·b; a = 1 − α. */
export function rmspropF64(
  x: usize, g: usize, s: usize, b: usize, n: i32,
  alpha: f64, a: f64, momentum: f64, lr: f64, eps: f64,
): void {
  rmsprop<f64>(x, g, s, b, n, alpha, a, momentum, lr, eps);
}

/** The same on float32 arrays. */
export function rmspropF32(
  x: usize, g: usize, s: usize, b: usize, n: i32,
  alpha: f64, a: f64, momentum: f64, lr: f64, eps: f64,
): void {
  rmsprop<f32>(x, g, s, b, n, alpha, a, momentum, lr, eps);
}

// m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², x ← x − (lr/(1 − β₁ᵗ))·m / (√(v/(1 − β₂ᵗ)) + ε); c2 = 1 − β₂ᵗ.
function adam<T>(
  x: usize, g: usize, m: usize, v: usize, n: i32,
  beta1: f64, a1: f64, beta2: f64, a2: f64, stepSize: f64, c2: f64, eps: f64,
): void {
  const size = <usize>sizeof<T>();
  const B1 = f64x2.splat(beta1), A1 = f64x2.splat(a1), B2 = f64x2.splat(beta2), A2 = f64x2.splat(a2);
  const S = f64x2.splat(stepSize), C2 = f64x2.splat(c2), E = f64x2.splat(eps);
  const pairs = n & ~1;
  for (let i = 0; i < pairs; i += 2) {
    const o = <usize>i * size;
    const gi = load2<T>(g + o);
    const mi = store2<T>(m + o, f64x2.add(f64x2.mul(B1, load2<T>(m + o)), f64x2.mul(A1, gi)));
    const vi = store2<T>(v + o, f64x2.add(f64x2.mul(B2, load2<T>(v + o)), f64x2.mul(f64x2.mul(A2, gi), gi)));
    const step = f64x2.div(f64x2.mul(S, mi), f64x2.add(f64x2.sqrt(f64x2.div(vi, C2)), E));
    store2<T>(x + o, f64x2.sub(load2<T>(x + o), step));
  }
  if (pairs < n) {
    const o = <usize>pairs * size;
    const gi = load1<T>(g + o);
    const mi = store1<T>(m + o, beta1 * load1<T>(m + o) + a1 * gi);
    const vi = store1<T>(v + o, beta2 * load1<T>(v + o) + a2 * gi * gi);
    store1<T>(x + o, load1<T>(x + o) - (stepSize * mi) / (Math.sqrt(vi / c2) + eps));
  }
}

function rmsprop<T>(
  x: usize, g: usize, s: usize, b: usize, n: i32,
  alpha: f64, a: f64, momentum: f64, lr: f64, eps: f64,
): void {
  const size = <usize>sizeof<T>();
  const AL = f64x2.splat(alpha), A = f64x2.splat(a), MU = f64x2.splat(momentum);
  const LR = f64x2.splat(lr), E = f64x2.splat(eps);
  const pairs = n & ~1;
  for (let i = 0; i < pairs; i += 2) {
    const o = <usize>i * size;
    const gi = load2<T>(g + o);
    const si = store2<T>(s + o, f64x2.add(f64x2.mul(AL, load2<T>(s + o)), f64x2.mul(f64x2.mul(A, gi), gi)));
    const bi = store2<T>(b + o, f64x2.add(f64x2.mul(MU, load2<T>(b + o)), f64x2.div(gi, f64x2.add(f64x2.sqrt(si), E))));
    store2<T>(x + o, f64x2.sub(load2<T>(x + o), f64x2.mul(LR, bi)));
  }
  if (pairs < n) {
    const o = <usize>pairs * size;
    const gi = load1<T>(g + o);
    const si = store1<T>(s + o, alpha * load1<T>(s + o) + a * gi * gi);
    const bi = store1<T>(b + o, momentum * load1<T>(b + o) + gi / (Math.sqrt(si) + eps));
    store1<T>(x + o, load1<T>(x + o) - lr * bi);
  }
}

/** Two values of T at p, as an f64x2 (float32 widened). */
// @ts-expect-error: decorator
@inline
function load2<T>(p: usize): v128 {
  if (sizeof<T>() == 8) return v128.load(p);
  return f64x2.promote_low_f32x4(v128.load64_zero(p));
}

/** Store the pair as T at p; return what a reload gives (float32: the values rounded). */
// @ts-expect-error: decorator
@inline
function store2<T>(p: usize, value: v128): v128 {
  if (sizeof<T>() == 8) {
    v128.store(p, value);
    return value;
  }
  const rounded = f32x4.demote_f64x2_zero(value);
  v128.store64_lane(p, rounded, 0);
  return f64x2.promote_low_f32x4(rounded);
}

/** One value of T at p, as f64. */
// @ts-expect-error: decorator
@inline
function load1<T>(p: usize): f64 {
  if (sizeof<T>() == 8) return load<f64>(p);
  return <f64>load<f32>(p);
}

/** Store one value as T at p; return what a reload gives. */
// @ts-expect-error: decorator
@inline
function store1<T>(p: usize, value: f64): f64 {
  if (sizeof<T>() == 8) {
    store<f64>(p, value);
    return value;
  }
  store<f32>(p, <f32>value);
  return <f64>(<f32>value);
}
