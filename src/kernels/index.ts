/** flowgrad/kernels: the compute under the autograd, behind one Backend interface. */
export type { Backend, BinaryOp, DType, ReduceOp, Shape, TypedArray, UnaryOp } from "./types.js";
export { BINARY_EXPRESSIONS, UNARY_EXPRESSIONS } from "./elementwise.js";
export { broadcastStrides, contiguousStrides, sizeOf } from "./strides.js";
export { cpuBackend } from "./cpu/index.js";
export { SLACK_FLOOR } from "./cpu/flows.js";
export { availableBackends, getBackend, registerBackend, setBackend } from "./registry.js";
