/** flowgrad/kernels: the compute under the autograd, behind one Backend interface. */

export {
  type AutoThresholds,
  autoBackend,
  autoThresholds,
  DEFAULT_GPU_THRESHOLD,
  DEFAULT_GPU_THRESHOLDS,
  defaultThresholdSource,
  PROVISIONAL_THRESHOLD_MODES,
  parseAutoThreshold,
} from "./auto.js";
export {
  type CalibrateOptions,
  type Calibration,
  type CalibrationRow,
  calibrateAuto,
  crossover,
  type GpuLike,
} from "./calibrate.js";
export {
  type CalibrationStore,
  calibrationFile,
  type MachineKey,
  machineKey,
  parseCalibrationStore,
  readCalibrationStore,
  type SavedCalibration,
  savedThresholds,
  withCalibration,
} from "./calibration-store.js";
export { cpuBackend, cpuKernels, runOnHost, typescriptKernels } from "./cpu/index.js";
export {
  BINARY,
  type BinaryKernel,
  type BinaryLoop,
  UNARY,
  type UnaryKernel,
  type UnaryLoop,
  type Walk,
} from "./elementwise.js";
export type { GpuBackend } from "./gpu/backend.js";
export type { GpuInfo, GpuMode } from "./gpu/load.js";
// For kernels defined outside this layer (CustomKernel): gpu.js source building blocks.
export {
  flatIndex,
  type Part,
  packedSource,
  pointPrelude,
  pointSumSource,
  tanh as gpuTanh,
} from "./gpu/sources.js";
export { type KernelSpec, orZeros, pointsSpec } from "./gpu/specs.js";
export { backendFrom, onHost } from "./one-call.js";
export {
  availableBackends,
  backendInfo,
  getBackend,
  initBackend,
  loadedGpuBackend,
  registerBackend,
  setBackend,
} from "./registry.js";
export { broadcastStrides, contiguousStrides, sizeOf } from "./strides.js";
export type {
  Backend,
  BinaryOp,
  CustomKernel,
  DeviceArray,
  DType,
  HostKernels,
  KernelInput,
  Launcher,
  ReduceOp,
  ResidentKernels,
  Shape,
  TypedArray,
  UnaryOp,
  UpdateRule,
} from "./types.js";
export { isDeviceArray, STATE_BUFFERS } from "./types.js";
export { wasmReady } from "./wasm/load.js";
export {
  type CpuKernelInfo,
  cpuKernelInfo,
  setCpuKernels,
  startCpuThreads,
  THREADS_FROM,
  WASM_FROM,
} from "./wasm/matmul.js";
