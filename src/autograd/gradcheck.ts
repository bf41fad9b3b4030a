import { gradients } from "./backward.js";
import { leavesOf } from "./functional.js";
import { enableGrad, noGrad } from "./graph.js";
import { concat, reshape } from "./ops/movement.js";
import { Random } from "./random.js";
import { Tensor } from "./tensor.js";

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Relative tolerance (default 1e-6). */
  rtol?: number;
  /** Absolute tolerance, for gradients near zero (default 1e-8). */
  atol?: number;
  /** Seed for the random directions u and v (default 0). */
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** The worst element of the element-by-element central-difference check. */
  worst: { input: number; index: number; analytic: number; numeric: number; error: number };
  /** ⟨v, J·u⟩ by a central difference along u against ⟨Jᵀv, u⟩ from backward. */
  directional: { analytic: number; numeric: number; error: number };
  /** A one-line report of the first failure, or "ok". */
  message: string;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Check the backward pass of f against central differences, in float64. With a random v shaped
 * like f's output, it checks every input element of d⟨v, f⟩/dx, and then ⟨v, J·u⟩ against
 * ⟨Jᵀv, u⟩ for a random direction u (the HIPS/autograd check).
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  options: GradcheckOptions = {},
): GradcheckResult {
  const { eps = 1e-6, rtol = 1e-6, atol = 1e-8, seed = 0 } = options;
  for (const [i, x] of inputs.entries()) {
    if (x.dtype !== "float64") throw new Error(`gradcheck: input ${i} is ${x.dtype}; finite differences need float64`);
  }
  const rng = new Random(seed);
  const leaves = inputs.map((x) => new Tensor(x.toHost().data.slice(), x.shape, true));
  const y = f(...leaves);
  const v = new Tensor(
    Float64Array.from({ length: y.size }, () => rng.normal()),
    y.shape,
  );
  const grads = y.requiresGrad ? gradients(y, v) : new Map<Tensor, Tensor>();
  const analytic = leaves.map((l) => grads.get(l)?.toHost().data ?? new Float64Array(l.size));

  // ⟨v, f(x)⟩ at the leaves' current values, without recording a graph.
  const probe = (): number =>
    noGrad(() => dot(v.data, f(...leaves.map((l) => new Tensor(l.data, l.shape))).toHost().data));
  const tolerance = (a: number, b: number): number => atol + rtol * Math.max(Math.abs(a), Math.abs(b));

  let worst = { input: -1, index: -1, analytic: 0, numeric: 0, error: 0 };
  let worstRatio = -1;
  let message = "ok";
  leaves.forEach((leaf, i) => {
    for (let j = 0; j < leaf.size; j++) {
      const x0 = leaf.data[j]!;
      leaf.data[j] = x0 + eps;
      const plus = probe();
      leaf.data[j] = x0 - eps;
      const minus = probe();
      leaf.data[j] = x0;
      const numeric = (plus - minus) / (2 * eps),
        a = analytic[i]![j]!;
      const error = Math.abs(numeric - a),
        ratio = error / tolerance(numeric, a);
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worst = { input: i, index: j, analytic: a, numeric, error };
      }
      if (!(ratio <= 1) && message === "ok") {
        message = `input ${i}, element ${j}: backward gives ${a}, central difference gives ${numeric}`;
      }
    }
  });

  const us = leaves.map((l) => Float64Array.from({ length: l.size }, () => rng.normal()));
  const originals = leaves.map((l) => l.data.slice());
  const shift = (scale: number): void =>
    leaves.forEach((l, i) => {
      for (let j = 0; j < l.size; j++) l.data[j] = originals[i]![j]! + scale * us[i]![j]!;
    });
  shift(eps);
  const plus = probe();
  shift(-eps);
  const minus = probe();
  shift(0);
  const dirNumeric = (plus - minus) / (2 * eps);
  const dirAnalytic = us.reduce((s, u, i) => s + dot(u, analytic[i]!), 0);
  const dirError = Math.abs(dirNumeric - dirAnalytic);
  if (!(dirError <= tolerance(dirNumeric, dirAnalytic)) && message === "ok") {
    message = `direction check: ⟨Jᵀv, u⟩ = ${dirAnalytic} but ⟨v, J·u⟩ by central difference = ${dirNumeric}`;
  }
  return {
    ok: message === "ok",
    worst,
    directional: { analytic: dirAnalytic, numeric: dirNumeric, error: dirError },
    message,
  };
}

/**
 * Check second derivatives, like PyTorch's gradgradcheck: the gradient map
 * G(x, v) = ∂⟨v, f(x)⟩/∂x, computed by a backward pass that creates a graph, is itself checked with
 * gradcheck — its backward (a second-order pass) against central differences of first-order
 * gradients, in float64. The cotangent v (random, fixed by the seed) is an input too, so the
 * derivative with respect to the seed of a backward pass, which jvp relies on, is checked as well.
 */
export function gradgradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  options: GradcheckOptions = {},
): GradcheckResult {
  for (const [i, x] of inputs.entries()) {
    if (x.dtype !== "float64")
      throw new Error(`gradgradcheck: input ${i} is ${x.dtype}; finite differences need float64`);
  }
  const y = noGrad(() => f(...inputs.map((x) => new Tensor(x.toHost().data.slice(), x.shape))));
  const rng = new Random((options.seed ?? 0) + 7919);
  const v = new Tensor(
    Float64Array.from({ length: y.size }, () => rng.normal()),
    y.shape,
  );
  const gradientMap = (...args: Tensor[]): Tensor =>
    enableGrad(() => {
      const cotangent = args[args.length - 1]!;
      const leaves = leavesOf(args.slice(0, -1), true, "gradgradcheck");
      const out = f(...leaves); // fused ops run their kernels here: their createGraph rule is what is checked
      const grads = out.requiresGrad
        ? gradients(out, cotangent, { createGraph: true, wrt: leaves, wrtAsLeaves: true })
        : new Map<Tensor, Tensor>();
      const flat = leaves.map((l) => reshape(grads.get(l) ?? new Tensor(new Float64Array(l.size), l.shape), [l.size]));
      return flat.length === 1 ? flat[0]! : concat(flat);
    });
  return gradcheck(gradientMap, [...inputs, v], options);
}
