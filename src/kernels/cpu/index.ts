import type { Backend } from "../types.js";
import { binary, unary, where } from "./elementwise.js";
import {
  planarBackward,
  planarConstraint,
  planarConstraintBackward,
  planarForward,
  radialBackward,
  radialForward,
} from "./flows.js";
import { logAbsDet } from "./linalg.js";
import { matmul } from "./matmul.js";
import { gather, scatterAdd, stridedCopy, stridedScatter } from "./movement.js";
import { update } from "./optim.js";
import { reduce } from "./reduce.js";

/** Plain TypeScript loops over typed arrays, float64 and float32. Always available. */
export const cpuBackend: Backend = {
  name: "cpu",
  unary,
  binary,
  reduce,
  matmul,
  stridedCopy,
  stridedScatter,
  gather,
  scatterAdd,
  where,
  update,
  planarConstraint,
  planarConstraintBackward,
  planarForward,
  planarBackward,
  radialForward,
  radialBackward,
  logAbsDet,
};
