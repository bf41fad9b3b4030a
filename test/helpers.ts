import { expect } from "vitest";
import { gradcheck, Random, Tensor, type GradcheckOptions } from "../src/autograd/index.js";

/** Random float64 tensor from a fixed-seed stream; `lo`/`hi` bound the values (uniform), else normal. */
export function randomTensor(rng: Random, shape: number[], range?: [number, number]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float64Array.from({ length: n }, () => (range ? range[0] + (range[1] - range[0]) * rng.uniform() : rng.normal()));
  return new Tensor(data, shape);
}

/** Gradient check that fails with the report's message. */
export function expectGradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], options?: GradcheckOptions): void {
  const r = gradcheck(f, inputs, options);
  expect(r.message).toBe("ok");
  expect(r.ok).toBe(true);
}

/** Elementwise closeness with a combined tolerance, reporting the first bad index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-12, atol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (a !== e && !(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}
