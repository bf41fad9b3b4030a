/** flowgrad/flows: planar and radial flows and the general-Jacobian baseline (see issue 4). */
export {};
