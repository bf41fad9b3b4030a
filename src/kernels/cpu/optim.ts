import type { TypedArray, UpdateRule } from "../types.js";

/** Adam's bias corrections at step t: the step size lr / (1 − β₁ᵗ) and c2 = 1 − β₂ᵗ (also what the WebAssembly kernel is given). */
export function adamCorrections(rule: Extract<UpdateRule, { kind: "adam" }>): { stepSize: number; c2: number } {
  return { stepSize: rule.lr / (1 - rule.beta1 ** rule.t), c2: 1 - rule.beta2 ** rule.t };
}

/** The optimizers' updates, in place, one loop per rule (the formulas are in autograd/optim.ts). */
export function update(rule: UpdateRule, x: TypedArray, g: TypedArray, state: TypedArray[]): void {
  const n = x.length;
  switch (rule.kind) {
    case "sgd": {
      const { lr, momentum: mu } = rule,
        b = state[0]!;
      for (let i = 0; i < n; i++) {
        b[i] = mu * b[i]! + g[i]!;
        x[i] -= lr * b[i]!;
      }
      return;
    }
    case "adam": {
      const { beta1, beta2, eps } = rule,
        m = state[0]!,
        v = state[1]!;
      const { stepSize, c2 } = adamCorrections(rule);
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        m[i] = beta1 * m[i]! + (1 - beta1) * gi;
        v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
        x[i] -= (stepSize * m[i]!) / (Math.sqrt(v[i]! / c2) + eps);
      }
      return;
    }
    case "rmsprop": {
      const { lr, alpha, eps, momentum } = rule,
        s = state[0]!,
        b = state[1]!;
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        s[i] = alpha * s[i]! + (1 - alpha) * gi * gi;
        b[i] = momentum * b[i]! + gi / (Math.sqrt(s[i]!) + eps);
        x[i] -= lr * b[i]!;
      }
      return;
    }
  }
}
