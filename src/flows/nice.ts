// NICE (Dinh, Krueger and Bengio, 2014): additive coupling layers and a final diagonal scaling,
// the volume-preserving flow the paper sets against planar flows in Table 2.
//
// A coupling layer splits z into two halves and shifts one by a function of the other:
//   y_a = z_a,   y_b = z_b + m(z_a)
// Its Jacobian is triangular with ones on the diagonal, so log|det| = 0 whatever m is (m is any
// network: here an MLP with ReLU), and the inverse is exact: z_b = y_b − m(y_a). Layers alternate
// which half moves. The scaling y = z ⊙ exp(s) is the only part that changes volume:
// log|det| = Σ_j s_j, the same for every point.

import { concat, type DType, MLP, Module, type Random, split, sum, type Tensor, tensor } from "../autograd/index.js";
import { checkDType } from "../autograd/validate.js";
import { checkPointShape, type Flow, type FlowOutput, Sequential } from "./flow.js";

export interface CouplingOptions {
  /** Which half moves: "second" shifts z[h:] by m(z[:h]), "first" shifts z[:h] by m(z[h:]) (h = ⌊D/2⌋). */
  moves?: "first" | "second";
  /** Hidden units per layer of m, and how many hidden layers (default [64, 64]). */
  hidden?: readonly number[];
  random?: Random | number;
  dtype?: DType;
  /** "identity" (default): m's output layer starts at zero, so the layer starts as the identity map. */
  init?: "identity" | "random";
}

/** An additive coupling layer: volume-preserving (log|det| = 0), with an exact inverse. */
export class AdditiveCoupling extends Module implements Flow {
  readonly m: MLP;
  readonly moves: "first" | "second";
  /** Sizes of the first and second halves. */
  readonly halves: readonly [number, number];
  constructor(
    readonly dim: number,
    options: CouplingOptions = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim < 2)
      throw new Error(`AdditiveCoupling: dimension must be an integer ≥ 2 (a coupling needs two halves), got ${dim}`);
    this.moves = options.moves ?? "second";
    if (this.moves !== "first" && this.moves !== "second")
      throw new Error(`AdditiveCoupling: moves must be "first" or "second", got ${String(this.moves)}`);
    const h = Math.floor(dim / 2);
    this.halves = [h, dim - h];
    const [fixed, moving] = this.moves === "second" ? [h, dim - h] : [dim - h, h];
    const hidden = options.hidden ?? [64, 64];
    const dtype = checkDType("AdditiveCoupling", options.dtype) ?? "float64";
    this.m = this.addModule("m", new MLP([fixed, ...hidden, moving], "relu", { random: options.random, dtype }));
    if ((options.init ?? "identity") === "identity") {
      const last = this.m.layers.at(-1)!;
      last.weight.data.fill(0);
      last.bias.data.fill(0);
    }
  }
  private parts(z: Tensor): { fixed: Tensor; moving: Tensor } {
    const [first, second] = split(z, this.halves, 1) as [Tensor, Tensor];
    return this.moves === "second" ? { fixed: first, moving: second } : { fixed: second, moving: first };
  }
  private join(fixed: Tensor, moved: Tensor): Tensor {
    return this.moves === "second" ? concat([fixed, moved], 1) : concat([moved, fixed], 1);
  }
  forward(z: Tensor): FlowOutput {
    checkPointShape("AdditiveCoupling", z, this.dim);
    const { fixed, moving } = this.parts(z);
    const y = this.join(fixed, moving.add(this.m.forward(fixed)));
    // A shift by a function of the other half: the Jacobian's determinant is exactly 1.
    return { z: y, logAbsDet: tensor(new Array<number>(z.shape[0]!).fill(0), { dtype: z.dtype }) };
  }
  inverse(x: Tensor): Tensor {
    checkPointShape("AdditiveCoupling.inverse", x, this.dim);
    const { fixed, moving } = this.parts(x);
    return this.join(fixed, moving.sub(this.m.forward(fixed)));
  }
}

/** NICE's last layer: y = z ⊙ exp(s) per coordinate, log|det| = Σ s; s starts at 0 (the identity). */
export class DiagonalScaling extends Module implements Flow {
  readonly logScale: Tensor;
  constructor(
    readonly dim: number,
    options: { logScale?: ArrayLike<number>; dtype?: DType } = {},
  ) {
    super();
    if (!Number.isInteger(dim) || dim < 1)
      throw new Error(`DiagonalScaling: dimension must be a positive integer, got ${dim}`);
    if (options.logScale !== undefined && options.logScale.length !== dim)
      throw new Error(
        `DiagonalScaling: logScale has ${options.logScale.length} values, the layer has dimension ${dim}`,
      );
    const dtype = checkDType("DiagonalScaling", options.dtype) ?? "float64";
    const s = options.logScale ? Array.from(options.logScale) : new Array<number>(dim).fill(0);
    this.logScale = this.addParameter("logScale", tensor(s, { dtype }));
  }
  forward(z: Tensor): FlowOutput {
    checkPointShape("DiagonalScaling", z, this.dim);
    const n = z.shape[0]!;
    return {
      z: z.mul(this.logScale.exp()),
      logAbsDet: sum(this.logScale).reshape([1]).broadcastTo([n]),
    };
  }
  inverse(x: Tensor): Tensor {
    checkPointShape("DiagonalScaling.inverse", x, this.dim);
    return x.mul(this.logScale.neg().exp());
  }
}

export interface NICEOptions {
  /** Hidden layer sizes of each coupling's network m (default [64, 64]). */
  hidden?: readonly number[];
  random?: Random | number;
  dtype?: DType;
  /** "identity" (default): every coupling starts as the identity, and the scaling at 1. */
  init?: "identity" | "random";
}

/** NICE with k coupling layers (alternating which half moves), then the diagonal scaling. */
export class NICE extends Sequential {
  constructor(dim: number, k: number, options: NICEOptions = {}) {
    if (!Number.isInteger(k) || k < 1)
      throw new Error(`NICE: k (coupling layers) must be a positive integer, got ${k}`);
    const layers: Flow[] = Array.from(
      { length: k },
      (_, i) => new AdditiveCoupling(dim, { ...options, moves: i % 2 === 0 ? "second" : "first" }),
    );
    layers.push(new DiagonalScaling(dim, { dtype: options.dtype }));
    super(layers);
  }
}
