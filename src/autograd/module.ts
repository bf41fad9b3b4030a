import type { DType } from "../kernels/index.js";
import { sameShape, shapeString } from "./shape.js";
import type { Tensor } from "./tensor.js";

/** Parameters as plain JSON: names, shapes, dtypes and values. */
export interface StateDict {
  format: "flowgrad.parameters";
  version: 1;
  parameters: Record<string, { shape: number[]; dtype: DType; data: number[] }>;
}

/**
 * A container of named parameters and sub-modules, like torch.nn.Module. Names are dotted paths
 * ("encoder.0.weight"); they are what save and load match on.
 */
export class Module {
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  /** Register a trainable parameter (it is marked requiresGrad) and return it. */
  protected addParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    if (!t.isLeaf) throw new Error(`Module: parameter "${name}" must be a leaf tensor, not an op's output`);
    t.requiresGrad = true;
    this.ownParameters.set(name, t);
    return t;
  }

  /** Register a sub-module and return it. */
  protected addModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Module: name "${name}" must be letters, digits or _`);
    if (this.ownParameters.has(name) || this.children.has(name))
      throw new Error(`Module: name "${name}" is already registered`);
  }

  namedParameters(prefix = ""): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [n, t] of this.ownParameters) out.push([prefix + n, t]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  stateDict(): StateDict {
    const parameters: StateDict["parameters"] = {};
    for (const [n, t] of this.namedParameters())
      parameters[n] = { shape: [...t.shape], dtype: t.dtype, data: Array.from(t.toHost().data) };
    return { format: "flowgrad.parameters", version: 1, parameters };
  }

  /**
   * Load parameters saved by stateDict. Everything is validated first (format, every name present
   * and expected, shapes, dtypes, finite numbers), so a bad file changes no parameter.
   */
  loadStateDict(state: unknown): void {
    const s = state as Partial<StateDict> | null;
    if (s?.format !== "flowgrad.parameters" || s.version !== 1 || typeof s.parameters !== "object" || !s.parameters) {
      throw new Error(
        'loadStateDict: not a flowgrad parameter file (expected format "flowgrad.parameters", version 1)',
      );
    }
    const saved = s.parameters;
    const own = this.namedParameters();
    const missing = own.filter(([n]) => !(n in saved)).map(([n]) => n);
    const expected = new Set(own.map(([n]) => n));
    const unexpected = Object.keys(saved).filter((n) => !expected.has(n));
    if (missing.length || unexpected.length) {
      throw new Error(
        `loadStateDict: missing parameters [${missing.join(", ")}], unexpected parameters [${unexpected.join(", ")}]`,
      );
    }
    for (const [n, t] of own) {
      const p = saved[n]!;
      if (typeof p !== "object" || p === null)
        throw new Error(
          `loadStateDict: parameter "${n}" must be an object with shape, dtype and data, got ${p === null ? "null" : typeof p}`,
        );
      if (!Array.isArray(p.shape) || !sameShape(p.shape, t.shape)) {
        throw new Error(
          `loadStateDict: parameter "${n}" has shape ${Array.isArray(p.shape) ? shapeString(p.shape) : String(p.shape)} in the file, the module expects ${shapeString(t.shape)}`,
        );
      }
      if (p.dtype !== t.dtype)
        throw new Error(`loadStateDict: parameter "${n}" is ${p.dtype} in the file, the module expects ${t.dtype}`);
      if (
        !Array.isArray(p.data) ||
        p.data.length !== t.size ||
        p.data.some((v) => typeof v !== "number" || !Number.isFinite(v))
      ) {
        throw new Error(`loadStateDict: parameter "${n}" needs ${t.size} finite numbers`);
      }
    }
    for (const [n, t] of own) t.toHost().data.set(saved[n]!.data);
  }
}
