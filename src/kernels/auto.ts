import type { Backend } from "./types.js";

/**
 * Small arrays on the CPU, large ones on the GPU backend: per-call overhead (conversion, upload,
 * read-back, launch) swamps the GPU's speed on small inputs. The threshold (output elements) is
 * set from `npm run bench:gpu`, which times both backends across sizes and prints the crossover.
 */
export const DEFAULT_GPU_THRESHOLD = 1 << 16;

export function autoBackend(cpu: Backend, gpu: Backend, threshold = DEFAULT_GPU_THRESHOLD): Backend {
  const pick = (elements: number): Backend => (elements >= threshold ? gpu : cpu);
  return {
    ...cpu,
    name: "auto",
    unary: (op, x, out) => pick(out.length).unary(op, x, out),
    binary: (op, a, as, b, bs, out, os) => pick(out.length).binary(op, a, as, b, bs, out, os),
    reduce: (op, x, outer, size, inner, out) => pick(x.length).reduce(op, x, outer, size, inner, out),
    // A product costs m·k·n per matrix: that, not the output size, decides.
    matmul: (a, ao, b, bo, out, m, k, n, ta, tb) => pick(ao.length * m * k * n / 64).matmul(a, ao, b, bo, out, m, k, n, ta, tb),
  };
}
