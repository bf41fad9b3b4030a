/**
 * flowgrad/autograd: tensors, primitive ops with backward rules, reverse mode, gradient checks,
 * optimizers. Loads no flow, no model and no gpu.js.
 */

export { type BackwardOptions, type GradientsOptions, gradients, recordedOps, sumToShape } from "./backward.js";
export { checkMaxNorm, clipFactor, clipGradNorm, gradNorm, scaleGrads } from "./clip.js";
export {
  arange,
  eye,
  full,
  linspace,
  ones,
  onesLike,
  type RandomOptions,
  rand,
  randn,
  type TensorOptions,
  tensor,
  zeros,
  zerosLike,
} from "./creation.js";
export {
  type Fn,
  type GradOptions,
  grad,
  hessian,
  hvp,
  jacfwd,
  jacrev,
  jvp,
  valueAndGrad,
  vjp,
  vjpFunction,
} from "./functional.js";
export { type GradcheckOptions, type GradcheckResult, gradcheck, gradgradcheck } from "./gradcheck.js";
export {
  type BackwardRule,
  detectAnomaly,
  enableGrad,
  firstOrderOnly,
  isComposedPreferred,
  isCreatingGraph,
  isGradEnabled,
  type Node,
  noGrad,
  preferComposed,
} from "./graph.js";
export { type Activation, Linear, MLP } from "./layers.js";
export { Module, type StateDict } from "./module.js";
export {
  abs,
  add,
  addN,
  astype,
  cos,
  div,
  eq,
  exp,
  ge,
  gt,
  le,
  log,
  log1p,
  lt,
  maximum,
  minimum,
  mul,
  ne,
  neg,
  pow,
  reciprocal,
  relu,
  sigmoid,
  sign,
  sin,
  softplus,
  sqrt,
  square,
  step,
  sub,
  tanh,
  where,
} from "./ops/elementwise.js";
export { matmul } from "./ops/linalg.js";
export {
  broadcastTo,
  concat,
  indexSelect,
  permute,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  transpose,
  unsqueeze,
} from "./ops/movement.js";
export { logsumexp, max, mean, min, sum } from "./ops/reduce.js";
export { Adam, Optimizer, type OptimizerState, RMSprop, SGD } from "./optim.js";
export { defaultRandom, manualSeed, Random } from "./random.js";
export { recomputedVjp } from "./recompute.js";
export { type Axis, broadcastShapes } from "./shape.js";
export { Storage } from "./storage.js";
export {
  allocate,
  type DType,
  expectTensor,
  fromOp,
  fromOpMulti,
  kernelOutput,
  type NestedArray,
  Tensor,
  type TensorLike,
  type TypedArray,
} from "./tensor.js";
export { keep, tidy } from "./tidy.js";
