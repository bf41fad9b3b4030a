import type { BinaryOp, UnaryOp } from "./types.js";

/**
 * The math of every elementwise op, written once as a JavaScript expression. The CPU backend
 * compiles each into its own monomorphic loop (no per-element closure call); the expressions read
 * the element as `x` (unary) or `a`, `b` (binary). Typed as a Record so a missing op is a compile error.
 */
export const UNARY_EXPRESSIONS: Record<UnaryOp, string> = {
  neg: "-x",
  exp: "Math.exp(x)",
  log: "Math.log(x)",
  log1p: "Math.log1p(x)",
  sqrt: "Math.sqrt(x)",
  abs: "Math.abs(x)",
  sign: "(x > 0 ? 1 : x < 0 ? -1 : 0)",
  tanh: "Math.tanh(x)",
  // Both branches avoid exp of a large positive number, so neither overflows.
  sigmoid: "(x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))",
  softplus: "(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))",
  relu: "Math.max(x, 0)", // branch-free: no mispredictions on mixed signs
  step: "(x > 0 ? 1 : 0)",
  square: "x * x",
  reciprocal: "1 / x",
  sin: "Math.sin(x)",
  cos: "Math.cos(x)",
};

export const BINARY_EXPRESSIONS: Record<BinaryOp, string> = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  pow: "Math.pow(a, b)",
  maximum: "(a >= b ? a : b)",
  minimum: "(a <= b ? a : b)",
  eq: "(a === b ? 1 : 0)",
  ne: "(a !== b ? 1 : 0)",
  gt: "(a > b ? 1 : 0)",
  ge: "(a >= b ? 1 : 0)",
  lt: "(a < b ? 1 : 0)",
  le: "(a <= b ? 1 : 0)",
};
