// Every elementwise op's math, once per backend, side by side: the CPU loop written out (one
// function per op, so V8 compiles each for its own math and inlines it) and the gpu.js expression
// (reading the element as `x`, or `a` and `b`) that kernels/gpu/sources.ts wraps into a kernel.
// The op's forward and backward rule are in autograd/ops/elementwise.ts.

import type { BinaryOp, TypedArray, UnaryOp } from "./types.js";

/** out[i] = op(x[i]) for every i of out. */
export type UnaryLoop = (x: TypedArray, out: TypedArray) => void;

/**
 * A 2-D strided walk (kernels/cpu/elementwise.ts reduces every broadcast to it):
 * out[oo + i·n1 + j] = op(a[ao + i·as0 + j·as1], b[bo + i·bs0 + j·bs1]) for i < n0, j < n1.
 */
export interface Walk {
  n0: number;
  n1: number;
  a: TypedArray;
  ao: number;
  as0: number;
  as1: number;
  b: TypedArray;
  bo: number;
  bs0: number;
  bs1: number;
  out: TypedArray;
  oo: number;
}
export type BinaryLoop = (w: Walk) => void;

export interface UnaryKernel {
  cpu: UnaryLoop;
  gpu: string;
}
export interface BinaryKernel {
  cpu: BinaryLoop;
  gpu: string;
}

export const UNARY: Record<UnaryOp, UnaryKernel> = {
  neg: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = -v;
      }
    },
    gpu: "-x",
  },
  exp: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.exp(v);
      }
    },
    gpu: "Math.exp(x)",
  },
  log: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.log(v);
      }
    },
    gpu: "Math.log(x)",
  },
  log1p: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.log1p(v);
      }
    },
    gpu: "Math.log1p(x)",
  },
  sqrt: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.sqrt(v);
      }
    },
    gpu: "Math.sqrt(x)",
  },
  abs: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.abs(v);
      }
    },
    gpu: "Math.abs(x)",
  },
  sign: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
      }
    },
    gpu: "(x > 0 ? 1 : x < 0 ? -1 : 0)",
  },
  // gpu.js's GL tanh is NaN once e^{2x} overflows float32 (x above ~44); float32 tanh is ±1 beyond |x| ≈ 9.1, so the clamp changes no value.
  tanh: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.tanh(v);
      }
    },
    gpu: "Math.tanh(Math.min(Math.max(x, -15), 15))",
  },
  // Both branches avoid exp of a large positive number, so neither overflows.
  sigmoid: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
      }
    },
    gpu: "(x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))",
  },
  // log(1 + eˣ) without overflow: for x > 0 it is x + log(1 + e⁻ˣ).
  softplus: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
      }
    },
    gpu: "(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))",
  },
  // Branch-free: no mispredictions on mixed signs.
  relu: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.max(v, 0);
      }
    },
    gpu: "Math.max(x, 0)",
  },
  step: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = v > 0 ? 1 : 0;
      }
    },
    gpu: "(x > 0 ? 1 : 0)",
  },
  square: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = v * v;
      }
    },
    gpu: "x * x",
  },
  reciprocal: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = 1 / v;
      }
    },
    gpu: "1 / x",
  },
  sin: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.sin(v);
      }
    },
    gpu: "Math.sin(x)",
  },
  cos: {
    cpu: (x, out) => {
      for (let i = 0; i < out.length; i++) {
        const v = x[i]!;
        out[i] = Math.cos(v);
      }
    },
    gpu: "Math.cos(x)",
  },
};

export const BINARY: Record<BinaryOp, BinaryKernel> = {
  add: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a + b;
        }
      }
    },
    gpu: "a + b",
  },
  sub: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a - b;
        }
      }
    },
    gpu: "a - b",
  },
  mul: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a * b;
        }
      }
    },
    gpu: "a * b",
  },
  div: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a / b;
        }
      }
    },
    gpu: "a / b",
  },
  pow: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a ** b;
        }
      }
    },
    gpu: "Math.pow(a, b)",
  },
  maximum: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          // biome-ignore lint/complexity/useMathMinMax: not Math.max, whose NaN and ±0 rules differ from this op's
          out[o++] = a >= b ? a : b;
        }
      }
    },
    gpu: "(a >= b ? a : b)",
  },
  minimum: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          // biome-ignore lint/complexity/useMathMinMax: not Math.min, whose NaN and ±0 rules differ from this op's
          out[o++] = a <= b ? a : b;
        }
      }
    },
    gpu: "(a <= b ? a : b)",
  },
  eq: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a === b ? 1 : 0;
        }
      }
    },
    gpu: "(a === b ? 1 : 0)",
  },
  ne: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a !== b ? 1 : 0;
        }
      }
    },
    gpu: "(a !== b ? 1 : 0)",
  },
  gt: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a > b ? 1 : 0;
        }
      }
    },
    gpu: "(a > b ? 1 : 0)",
  },
  ge: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a >= b ? 1 : 0;
        }
      }
    },
    gpu: "(a >= b ? 1 : 0)",
  },
  lt: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a < b ? 1 : 0;
        }
      }
    },
    gpu: "(a < b ? 1 : 0)",
  },
  le: {
    cpu: ({ n0, n1, a: A, ao, as0, as1, b: B, bo, bs0, bs1, out, oo }) => {
      for (let i = 0, o = oo; i < n0; i++) {
        for (let j = 0, ia = ao + i * as0, ib = bo + i * bs0; j < n1; j++, ia += as1, ib += bs1) {
          const a = A[ia]!,
            b = B[ib]!;
          out[o++] = a <= b ? 1 : 0;
        }
      }
    },
    gpu: "(a <= b ? 1 : 0)",
  },
};
