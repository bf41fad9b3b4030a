/** flowgrad/flows: planar and radial flows with O(D) log-dets, and the O(D³) general-Jacobian baseline. */
export { Sequential, checkPoints, checkPointShape, checkLayerParams, type Flow, type FlowOutput } from "./flow.js";
export { PlanarFlow, planar, planarInverse, constrainPlanar, constrainPlanarComposed, constrainPlanarU, solveMonotone, SLACK_FLOOR, SLACK_TOLERANCE, type PlanarParams, type Implementation } from "./planar.js";
export { RadialFlow, radial, radialInverse, constrainRadial, RADIAL_FLOOR, type RadialParams } from "./radial.js";
export { jacobian, logAbsDet, logAbsDetJacobian } from "./jacobian.js";
export { FlowDistribution, normalLogProb } from "./distribution.js";
