import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Adam, RMSprop, tensor } from "../src/autograd/index.js";
import { cpuKernelInfo, cpuKernels, setCpuKernels, typescriptKernels } from "../src/kernels/index.js";
import type { TypedArray, UpdateRule } from "../src/kernels/types.js";
import { unsharedKernels, wasmKernels } from "../src/kernels/wasm/load.js";
import { UPDATE_FROM, updateWasm } from "../src/kernels/wasm/optim.js";
import { stubRuntimeWithoutSimd } from "./helpers.js";

// The WebAssembly SIMD optimizer updates (src/kernels/wasm/optim.ts) against the published update
// rules written out here per element in float64 — Adam (Kingma & Ba, algorithm 1, with the bias
// corrections), RMSprop with momentum — with every stored value rounded to float32 for float32
// arrays (Math.fround), as a Float32Array store rounds it. IEEE arithmetic is exact per lane, so
// the kernels must agree bit for bit, and with the TypeScript loops.

type Dtype = "float64" | "float32";
const ctor = (d: Dtype) => (d === "float64" ? Float64Array : Float32Array);

/** Seeded values in [lo, hi), so a failure is reproducible. */
function values(n: number, seed: number, d: Dtype, lo = -1, hi = 1): TypedArray {
  let s = seed >>> 0;
  const out = new (ctor(d))(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

/** One step of the rule on plain numbers, per element; `round` stores as the arrays' dtype does. */
function byTheBook(
  rule: Exclude<UpdateRule, { kind: "sgd" }>,
  x: number[],
  g: ArrayLike<number>,
  s: number[][],
  d: Dtype,
) {
  const round = d === "float32" ? Math.fround : (v: number) => v;
  for (let i = 0; i < x.length; i++) {
    const gi = g[i]!;
    if (rule.kind === "adam") {
      const { beta1, beta2, eps, t, lr } = rule;
      s[0]![i] = round(beta1 * s[0]![i]! + (1 - beta1) * gi); // first moment
      s[1]![i] = round(beta2 * s[1]![i]! + (1 - beta2) * gi * gi); // second moment
      const mHatStep = (lr / (1 - beta1 ** t)) * s[0]![i]!; // lr · m / (1 − β₁ᵗ)
      x[i] = round(x[i]! - mHatStep / (Math.sqrt(s[1]![i]! / (1 - beta2 ** t)) + eps));
    } else {
      const { alpha, eps, momentum, lr } = rule;
      s[0]![i] = round(alpha * s[0]![i]! + (1 - alpha) * gi * gi); // mean square
      s[1]![i] = round(momentum * s[1]![i]! + gi / (Math.sqrt(s[0]![i]!) + eps)); // momentum buffer
      x[i] = round(x[i]! - lr * s[1]![i]!);
    }
  }
}

const adam = (t: number): UpdateRule => ({ kind: "adam", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, t });
const rmsprop = (): UpdateRule => ({ kind: "rmsprop", lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0.9 });

describe("WebAssembly SIMD optimizer updates", () => {
  afterEach(() => setCpuKernels({ kernels: "wasm" }));

  const kernels = unsharedKernels()!;
  it("the kernels load, and on an unshared memory for the caller's thread", () => {
    expect(kernels).not.toBeNull();
    expect(kernels.shared).toBe(false);
    expect(wasmKernels()!.shared).toBe(true); // Node: the threads' instance shares its memory
  });

  // 1 and 3: only the scalar tail; 4,096 and 4,097: one chunk, and a second chunk of one value.
  const sizes = [1, 2, 3, 17, 63, 513, 4096, 4097, 10_001];
  for (const d of ["float64", "float32"] as Dtype[])
    for (const kind of ["adam", "rmsprop"] as const)
      it(`${kind} in ${d}: the rule by the book and the TypeScript loop, bit for bit, over five steps (n = ${sizes.join(", ")})`, () => {
        for (const n of sizes) {
          const start = [values(n, 1, d), values(n, 2, d, -0.1, 0.1), values(n, 3, d, 0, 0.01)];
          const ours = start.map((a) => a.slice());
          const loop = start.map((a) => a.slice());
          const book = start.map((a) => Array.from(a));
          for (let t = 1; t <= 5; t++) {
            const g = values(n, 10 + t, d);
            const rule = (kind === "adam" ? adam(t) : rmsprop()) as Exclude<UpdateRule, { kind: "sgd" }>;
            expect(updateWasm(kernels, rule, ours[0]!, g, [ours[1]!, ours[2]!])).toBe(true);
            typescriptKernels.update(rule, loop[0]!, g, [loop[1]!, loop[2]!]);
            byTheBook(rule, book[0]!, g, [book[1]!, book[2]!], d);
          }
          for (let j = 0; j < 3; j++) {
            expect(Array.from(ours[j]!), `n = ${n}, array ${j}`).toEqual(book[j]);
            expect(
              ours[j]!.every((v, i) => Object.is(v, loop[j]![i])),
              `n = ${n}, array ${j}`,
            ).toBe(true);
          }
          // The step moved x (a check that the comparison is not of untouched arrays).
          expect(ours[0]!.some((v, i) => v !== start[0]![i])).toBe(true);
        }
      });

  it("the backend sends Adam and RMSprop from UPDATE_FROM values to the kernels; SGD, small tensors and mixed dtypes to the loop", () => {
    const before = cpuKernelInfo().updateCalls;
    const n = UPDATE_FROM;
    const run = (rule: UpdateRule, size: number, stateDtype: Dtype = "float64") =>
      cpuKernels.update(rule, values(size, 4, "float64"), values(size, 5, "float64"), [
        values(size, 6, stateDtype),
        values(size, 7, stateDtype, 0, 1),
      ]);
    run(adam(1), n);
    run(rmsprop(), n);
    run(adam(1), n - 1);
    run({ kind: "sgd", lr: 0.1, momentum: 0.9 }, 4 * n);
    run(adam(1), n, "float32"); // state of another dtype than x: the loop, which converts on store
    const after = cpuKernelInfo().updateCalls;
    expect(after.wasm - before.wasm).toBe(2);
    expect(after.typescript - before.typescript).toBe(3);
    expect(cpuKernelInfo().updateFrom).toBe(UPDATE_FROM);
  });

  it("forced off, updates run the TypeScript loop", () => {
    setCpuKernels({ kernels: "plain" });
    const before = cpuKernelInfo().updateCalls;
    const n = 4 * UPDATE_FROM;
    cpuKernels.update(adam(1), values(n, 1, "float64"), values(n, 2, "float64"), [
      new Float64Array(n),
      new Float64Array(n),
    ]);
    const after = cpuKernelInfo().updateCalls;
    expect([after.wasm - before.wasm, after.typescript - before.typescript]).toEqual([0, 1]);
  });

  it("Adam and RMSprop train the same parameters, bit for bit, with the kernels on and off", () => {
    const train = (kernelsSetting: "wasm" | "plain", Opt: typeof Adam | typeof RMSprop) => {
      setCpuKernels({ kernels: kernelsSetting });
      const w = tensor(Array.from(values(3 * UPDATE_FROM, 8, "float64")), { requiresGrad: true });
      const target = tensor(Array.from(values(3 * UPDATE_FROM, 9, "float64")));
      const opt = new Opt([w], { lr: 0.01 });
      for (let step = 0; step < 4; step++) {
        opt.zeroGrad();
        w.sub(target).square().mul(w.tanh().add(2)).sum().backward();
        opt.step();
      }
      return Array.from(w.data as Float64Array);
    };
    for (const Opt of [Adam, RMSprop]) {
      const on = train("wasm", Opt);
      const off = train("plain", Opt);
      expect(on.every((v, i) => Object.is(v, off[i]))).toBe(true);
    }
  });

  it("UPDATE_FROM is the crossover npm run bench:optim measured (results/optim-bench.json)", () => {
    const file = path.resolve(import.meta.dirname, "../results/optim-bench.json");
    const { crossover, rows } = JSON.parse(readFileSync(file, "utf8")) as {
      crossover: number;
      rows: { identical: boolean }[];
    };
    expect(UPDATE_FROM).toBe(crossover);
    expect(rows.every((r) => r.identical)).toBe(true);
  });
});

describe("WebAssembly SIMD optimizer updates in a runtime without SIMD", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it("the TypeScript loop runs, with the same one-line notice as the products, and gives the rule's values", async () => {
    vi.resetModules();
    stubRuntimeWithoutSimd();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const fresh = await import("../src/kernels/index.js");
    const n = 4 * UPDATE_FROM;
    const start = [values(n, 1, "float64"), values(n, 2, "float64", -0.1, 0.1), values(n, 3, "float64", 0, 0.01)];
    const ours = start.map((a) => a.slice());
    const book = start.map((a) => Array.from(a));
    const g = values(n, 4, "float64");
    for (let t = 1; t <= 2; t++) {
      fresh.cpuKernels.update(adam(t), ours[0]!, g, [ours[1]!, ours[2]!]);
      byTheBook(adam(t) as Exclude<UpdateRule, { kind: "sgd" }>, book[0]!, g, [book[1]!, book[2]!], "float64");
    }
    for (let j = 0; j < 3; j++) expect(Array.from(ours[j]!)).toEqual(book[j]);
    expect(fresh.cpuKernelInfo().updateCalls).toEqual({ wasm: 0, typescript: 2 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/cannot compile the WebAssembly SIMD kernels.*TypeScript loops/);
    warn.mockRestore();
  });
});
