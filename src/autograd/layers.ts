import { randn, zeros } from "./creation.js";
import { Module } from "./module.js";
import { Random } from "./random.js";
import type { DType, Tensor } from "./tensor.js";

/** y = x W + b, with W of shape [in, out] drawn from N(0, 1/in) (LeCun normal). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { random?: Random | number; dtype?: DType } = {},
  ) {
    super();
    for (const [name, v] of [
      ["inFeatures", inFeatures],
      ["outFeatures", outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Linear: ${name} must be a positive integer, got ${v}`);
    }
    const dtype = options.dtype ?? "float64";
    const w = randn([inFeatures, outFeatures], { dtype, random: options.random });
    w.data.forEach((v, i) => (w.data[i] = v / Math.sqrt(inFeatures)));
    this.weight = this.addParameter("weight", w);
    this.bias = this.addParameter("bias", zeros([outFeatures], { dtype }));
  }
  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(
        `Linear: input has ${x.shape[x.rank - 1]} features in shape [${x.shape.join(", ")}], expected ${this.inFeatures}`,
      );
    }
    return x.matmul(this.weight).add(this.bias);
  }
}

export type Activation = "tanh" | "relu" | "sigmoid" | "softplus";

/** A multilayer perceptron: Linear layers with an activation between them (none after the last). */
export class MLP extends Module {
  readonly layers: Linear[];
  constructor(
    sizes: readonly number[],
    readonly activation: Activation = "tanh",
    options: { random?: Random | number; dtype?: DType } = {},
  ) {
    super();
    if (sizes.length < 2) throw new Error(`MLP: needs at least an input and an output size, got [${sizes.join(", ")}]`);
    // One generator for all layers, so a numeric seed does not give every layer the same weights.
    const random = typeof options.random === "number" ? new Random(options.random) : options.random;
    this.layers = sizes
      .slice(1)
      .map((n, i) => this.addModule(String(i), new Linear(sizes[i]!, n, { ...options, random })));
  }
  forward(x: Tensor): Tensor {
    this.layers.forEach((layer, i) => {
      x = layer.forward(x);
      if (i < this.layers.length - 1) x = x[this.activation]();
    });
    return x;
  }
}
