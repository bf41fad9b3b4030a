import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The shape a reader relies on (docs/internals.md): the kernels layer knows no flow layer, and the
// autograd makes one backend call per op, never choosing between a device path and a host path.
const root = path.resolve(import.meta.dirname, "..");
const sources = (dir: string): string[] =>
  readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(dir, f));
/** The code of a file without its comments, so prose may name what the code must not use. */
const code = (file: string): string =>
  readFileSync(path.join(root, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/.*$/gm, "");

describe("the layers' shape", () => {
  it("src/kernels names no flow layer (flow kernels live beside their flows and register as CustomKernels)", () => {
    const offenders = sources("src/kernels").filter((f) => /planar|radial|SLACK_FLOOR/i.test(code(f)));
    expect(offenders).toEqual([]);
  });
  it("src/autograd and src/flows make one backend call per op: no resident kernels, no host/device branching", () => {
    const offenders = [...sources("src/autograd"), ...sources("src/flows")].filter((f) =>
      /\.resident\b|opOutput|\.host\.\w+\(/.test(code(f)),
    );
    expect(offenders).toEqual([]);
  });
  it("tanh's op, backward rule, CPU loop and gpu.js kernel are in three files", () => {
    // 1. the op and its backward rule
    expect(code("src/autograd/ops/elementwise.ts")).toMatch(
      /export const tanh = [^\n]*unaryOp\("tanh", x, \(g, _x, y\) =>/,
    );
    // 2. its CPU loop, written out, and its gpu.js expression, side by side
    expect(code("src/kernels/elementwise.ts")).toMatch(
      /tanh: \{\s*cpu: \(x, out\) => \{[^}]*Math\.tanh\(v\)[\s\S]*?gpu: "Math\.tanh\(/,
    );
    // 3. the kernel template every unary op's expression goes into
    expect(code("src/kernels/gpu/sources.ts")).toMatch(
      /export function unarySource\(op: UnaryOp\)[\s\S]*UNARY\[op\]\.gpu/,
    );
  });
});
