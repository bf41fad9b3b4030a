/**
 * flowgrad/autograd: tensors, primitive ops with backward rules, reverse mode, gradient checks,
 * optimizers. Loads no flow, no model and no gpu.js.
 */
export {
  Tensor,
  fromOp,
  fromOpMulti,
  allocate,
  opOutput,
  expectTensor,
  type DType,
  type NestedArray,
  type TensorLike,
  type TypedArray,
} from "./tensor.js";
export {
  tensor,
  zeros,
  ones,
  full,
  zerosLike,
  onesLike,
  arange,
  linspace,
  eye,
  randn,
  rand,
  type TensorOptions,
  type RandomOptions,
} from "./creation.js";
export { Storage } from "./storage.js";
export { tidy, keep } from "./tidy.js";
export { Random, manualSeed, defaultRandom } from "./random.js";
export {
  add,
  addN,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  eq,
  ne,
  gt,
  ge,
  lt,
  le,
  neg,
  exp,
  log,
  log1p,
  sqrt,
  square,
  reciprocal,
  abs,
  sign,
  step,
  tanh,
  sigmoid,
  softplus,
  relu,
  sin,
  cos,
  where,
  astype,
} from "./ops/elementwise.js";
export { sum, mean, max, min, logsumexp } from "./ops/reduce.js";
export { matmul } from "./ops/linalg.js";
export {
  reshape,
  permute,
  transpose,
  broadcastTo,
  unsqueeze,
  squeeze,
  slice,
  split,
  concat,
  stack,
  indexSelect,
} from "./ops/movement.js";
export {
  noGrad,
  enableGrad,
  isGradEnabled,
  isCreatingGraph,
  isComposedPreferred,
  preferComposed,
  firstOrderOnly,
  detectAnomaly,
  type BackwardRule,
} from "./graph.js";
export { gradients, sumToShape, type BackwardOptions, type GradientsOptions } from "./backward.js";
export { recomputedVjp } from "./recompute.js";
export {
  grad,
  valueAndGrad,
  vjp,
  vjpFunction,
  jvp,
  hvp,
  hessian,
  jacrev,
  jacfwd,
  type GradOptions,
} from "./functional.js";
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradcheckResult } from "./gradcheck.js";
export { Optimizer, SGD, Adam, RMSprop } from "./optim.js";
export { Module, type StateDict } from "./module.js";
export { Linear, MLP, type Activation } from "./layers.js";
export { broadcastShapes } from "./shape.js";
