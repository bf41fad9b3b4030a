/** flowgrad/kernels: the compute under the autograd, behind one Backend interface. */
export type {
  Backend,
  BinaryOp,
  DeviceArray,
  DType,
  KernelInput,
  ReduceOp,
  ResidentKernels,
  Shape,
  TypedArray,
  UnaryOp,
  UpdateRule,
} from "./types.js";
export { isDeviceArray } from "./types.js";
export { BINARY_EXPRESSIONS, UNARY_EXPRESSIONS } from "./elementwise.js";
export { broadcastStrides, contiguousStrides, sizeOf } from "./strides.js";
export { cpuBackend } from "./cpu/index.js";
export { SLACK_FLOOR, planarSlackError, planarSlackResidual } from "./cpu/flows.js";
export {
  availableBackends,
  backendInfo,
  getBackend,
  initBackend,
  loadedGpuBackend,
  registerBackend,
  setBackend,
} from "./registry.js";
export {
  autoBackend,
  autoThresholds,
  DEFAULT_GPU_THRESHOLD,
  DEFAULT_GPU_THRESHOLDS,
  defaultThresholdSource,
  parseAutoThreshold,
  PROVISIONAL_THRESHOLD_MODES,
  type AutoThresholds,
} from "./auto.js";
export {
  calibrationFile,
  machineKey,
  parseCalibrationStore,
  readCalibrationStore,
  savedThresholds,
  withCalibration,
  type CalibrationStore,
  type MachineKey,
  type SavedCalibration,
} from "./calibration-store.js";
export { calibrateAuto, crossover, type CalibrateOptions, type Calibration, type CalibrationRow } from "./calibrate.js";
export type { GpuMode, GpuInfo } from "./gpu/load.js";
export type { GpuBackend } from "./gpu/backend.js";
