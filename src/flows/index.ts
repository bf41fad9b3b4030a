/** flowgrad/flows: planar and radial flows with O(D) log-dets, and the O(D³) general-Jacobian baseline. */
export {
  Sequential,
  FlowInputError,
  checkPoints,
  checkPointShape,
  checkLayerParams,
  type Flow,
  type FlowOutput,
} from "./flow.js";
export {
  PlanarFlow,
  planar,
  planarInverse,
  constrainPlanar,
  constrainPlanarComposed,
  constrainPlanarU,
  solveMonotone,
  SLACK_FLOOR,
  SLACK_TOLERANCE,
  type PlanarParams,
  type Implementation,
} from "./planar.js";
export { RadialFlow, radial, radialInverse, constrainRadial, RADIAL_FLOOR, type RadialParams } from "./radial.js";
export { jacobian, logAbsDet, logAbsDetJacobian } from "./jacobian.js";
export { FlowDistribution, normalLogProb } from "./distribution.js";
export { ContinuousFlow, CNF, type ContinuousFlowOptions, type TraceEstimator } from "./cnf.js";
export {
  rk4,
  dopri5,
  type OdeFunction,
  type OdeState,
  type Dopri5Options,
  type Solution,
  type SolveStats,
} from "./ode.js";
export { HamiltonianFlow, augmentedEnergy, type HamiltonianFlowOptions } from "./hamiltonian.js";
