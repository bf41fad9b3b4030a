import { logsumexp, stack, type Tensor } from "../autograd/index.js";

// The paper's four unnormalised 2-D densities p(z) ∝ exp(−U(z)) (section 6.1, Table 1),
// written with autograd ops so their gradients come from the engine. z has shape [N, 2].

export type TargetName = "U1" | "U2" | "U3" | "U4";
export const TARGETS: readonly TargetName[] = ["U1", "U2", "U3", "U4"];

function columns(z: Tensor): [Tensor, Tensor] {
  if (z.rank !== 2 || z.shape[1] !== 2)
    throw new Error(`energy: expected points of shape [N, 2], got [${z.shape.join(", ")}]`);
  return [z.slice([0, 0], [z.shape[0]!, 1]).reshape([-1]), z.slice([0, 1], [z.shape[0]!, 2]).reshape([-1])];
}

/** −ln(e^a + e^b), stably. */
function negLogAddExp(a: Tensor, b: Tensor): Tensor {
  return logsumexp(stack([a, b], 1), 1).neg();
}

/** ½ ((x − c) / s)² */
function halfSquare(x: Tensor, c: number, s: number): Tensor {
  return x.sub(c).div(s).square().mul(0.5);
}

const w1 = (z1: Tensor): Tensor => z1.mul((2 * Math.PI) / 4).sin();
const w2 = (z1: Tensor): Tensor => halfSquare(z1, 1, 0.6).neg().exp().mul(3);
const w3 = (z1: Tensor): Tensor => z1.sub(1).div(0.3).sigmoid().mul(3);

/** U(z) for each point: [N, 2] → [N]. */
export const ENERGIES: Record<TargetName, (z: Tensor) => Tensor> = {
  // U1 = ½((‖z‖ − 2)/0.4)² − ln(e^{−½((z1 − 2)/0.6)²} + e^{−½((z1 + 2)/0.6)²})
  U1: (z) => {
    const [z1] = columns(z);
    const radius = z.square().sum(1).sqrt();
    return halfSquare(radius, 2, 0.4).add(negLogAddExp(halfSquare(z1, 2, 0.6).neg(), halfSquare(z1, -2, 0.6).neg()));
  },
  // U2 = ½((z2 − w1(z))/0.4)²
  U2: (z) => {
    const [z1, z2] = columns(z);
    return halfSquare(z2.sub(w1(z1)), 0, 0.4);
  },
  // U3 = −ln(e^{−½((z2 − w1)/0.35)²} + e^{−½((z2 − w1 + w2)/0.35)²})
  U3: (z) => {
    const [z1, z2] = columns(z);
    const d = z2.sub(w1(z1));
    return negLogAddExp(halfSquare(d, 0, 0.35).neg(), halfSquare(d.add(w2(z1)), 0, 0.35).neg());
  },
  // U4 = −ln(e^{−½((z2 − w1)/0.4)²} + e^{−½((z2 − w1 + w3)/0.35)²})
  U4: (z) => {
    const [z1, z2] = columns(z);
    const d = z2.sub(w1(z1));
    return negLogAddExp(halfSquare(d, 0, 0.4).neg(), halfSquare(d.add(w3(z1)), 0, 0.35).neg());
  },
};

export function energy(target: string): (z: Tensor) => Tensor {
  if (!(TARGETS as readonly string[]).includes(target))
    throw new Error(`unknown target "${target}"; choose one of ${TARGETS.join(", ")}`);
  return ENERGIES[target as TargetName];
}

/** Where the box wall starts and how steep it is: |z1| ≤ 4 is the paper's plotting range. */
export const BOX_HALF_WIDTH = 4;
const WALL_SCALE = 0.1;

/**
 * The energy that is fitted and scored. U2–U4 do not grow along z1 (e^{−U} is not integrable over
 * the plane), so, as in the paper's figures, they are studied on |z1| ≤ 4: outside it a steep
 * quadratic wall ½((|z1| − 4)/0.1)² is added, which leaves U unchanged inside the box and makes
 * p ∝ e^{−U} a proper density, so KL(q‖p) is a true KL. U1 is integrable and used as it is.
 */
export function fittedEnergy(target: string): (z: Tensor) => Tensor {
  const U = energy(target);
  if (target === "U1") return U;
  return (z) => {
    const [z1] = columns(z);
    const excess = z1.abs().sub(BOX_HALF_WIDTH).relu().div(WALL_SCALE);
    return U(z).add(excess.square().mul(0.5));
  };
}
