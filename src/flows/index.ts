/** flowgrad/flows: planar and radial flows with O(D) log-dets, NICE, continuous and Hamiltonian flows, and the O(D³) general-Jacobian baseline. */

export { type AdjointProblem, solveWithAdjoint } from "./adjoint.js";
export { CNF, ContinuousFlow, type ContinuousFlowOptions, type TraceEstimator } from "./cnf.js";
export { FlowDistribution, normalLogProb } from "./distribution.js";
export {
  checkLayerParams,
  checkPointShape,
  checkPoints,
  type Flow,
  FlowInputError,
  type FlowOutput,
  Sequential,
} from "./flow.js";
export { augmentedEnergy, HamiltonianFlow, type HamiltonianFlowOptions } from "./hamiltonian.js";
export { jacobian, logAbsDet, logAbsDetJacobian } from "./jacobian.js";
export { AdditiveCoupling, type CouplingOptions, DiagonalScaling, NICE, type NICEOptions } from "./nice.js";
export {
  type Dopri5Options,
  dopri5,
  type OdeFunction,
  type OdeState,
  rk4,
  type Solution,
  type SolveStats,
} from "./ode.js";
export {
  constrainPlanar,
  constrainPlanarComposed,
  constrainPlanarU,
  type Implementation,
  PlanarFlow,
  type PlanarParams,
  planar,
  planarInverse,
  SLACK_FLOOR,
  SLACK_TOLERANCE,
  solveMonotone,
} from "./planar.js";
export { PlanarChain, type PlanarChainParams, planarChain } from "./planar-chain.js";
export { type ChainArgs, planarChainBackwardKernel, planarChainForwardKernel } from "./planar-chain-kernels.js";
export {
  type PointsArgs,
  planarBackwardKernel,
  planarConstraintBackwardKernel,
  planarConstraintKernel,
  planarForwardKernel,
  planarInverseKernel,
  planarSlackError,
  planarSlackResidual,
  type RowsArgs,
} from "./planar-kernels.js";
export { constrainRadial, RADIAL_FLOOR, RadialFlow, type RadialParams, radial, radialInverse } from "./radial.js";
export { radialBackwardKernel, radialForwardKernel, radialInverseKernel } from "./radial-kernels.js";
