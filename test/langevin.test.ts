import { describe, expect, it } from "vitest";
import { Random, type Tensor } from "../src/autograd/index.js";
import { fittedEnergy, kernelSteinDiscrepancy, langevin } from "../src/models/index.js";

const gaussian = (z: Tensor) => z.square().sum(1).mul(0.5); // U of N(0, I)
const normals = (n: number, shift: number, seed: number) => {
  const r = new Random(seed);
  return Float64Array.from({ length: n }, () => r.normal() + shift);
};
const variance = (x: Float64Array) => {
  const m = x.reduce((a, b) => a + b, 0) / x.length;
  return x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1);
};

describe("the kernel Stein discrepancy", () => {
  it("is zero, within its standard error, for samples of p itself, and clearly positive for samples of another law", () => {
    const exact = kernelSteinDiscrepancy(gaussian, normals(2 * 800, 0, 1), 2);
    expect(Math.abs(exact.squared)).toBeLessThan(3 * exact.standardError + 1e-4);
    const shifted = kernelSteinDiscrepancy(gaussian, normals(2 * 800, 0.5, 2), 2);
    expect(shifted.squared).toBeGreaterThan(5 * shifted.standardError);
    expect(shifted.squared).toBeGreaterThan(20 * Math.abs(exact.squared));
  });
});

describe("the Langevin flow", () => {
  it("Euler–Maruyama (ULA) is biased by its step: on N(0, 1) its stationary variance is 1/(1 − h/2); MALA removes the bias", () => {
    const h = 0.5,
      n = 4000;
    const ula = langevin(gaussian, 1, { particles: n, stepSize: h, steps: 200, seed: 3 });
    const v = variance(ula.snapshots.at(-1)!.particles),
      exact = 1 / (1 - h / 2),
      se = exact * Math.sqrt(2 / n);
    expect(Math.abs(v - exact)).toBeLessThan(4 * se);
    const mala = langevin(gaussian, 1, { particles: n, stepSize: h, steps: 200, adjusted: true, seed: 3 });
    expect(Math.abs(variance(mala.snapshots.at(-1)!.particles) - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
    expect(mala.acceptance).toBeGreaterThan(0.5);
    expect(mala.acceptance).toBeLessThan(1);
  });
  it("on U1 the particles' Stein discrepancy falls from N(0, I)'s as t grows", () => {
    const U = fittedEnergy("U1");
    const { snapshots } = langevin(U, 2, {
      particles: 400,
      stepSize: 0.01,
      steps: 300,
      snapshots: [0, 300],
      adjusted: true,
      seed: 5,
    });
    const [start, end] = snapshots.map((s) => kernelSteinDiscrepancy(U, s.particles, 2));
    expect(end!.squared).toBeLessThan(start!.squared / 5);
  });
  it("a step too large for the energy is an error that says so, and bad settings are named", () => {
    const quartic = (z: Tensor) => z.square().square().sum(1);
    expect(() => langevin(quartic, 1, { particles: 10, stepSize: 1, steps: 50 })).toThrow(
      /langevin: particle \d+ became (-?Infinity|NaN) at step \d+ .*the step size 1 is too large/,
    );
    expect(() => langevin(gaussian, 1, { stepSize: 0 })).toThrow(/the step size must be a positive number, got 0/);
    expect(() => langevin(gaussian, 1, { steps: 10, snapshots: [20] })).toThrow(/snapshot step 20 is not within 0…10/);
    expect(() => kernelSteinDiscrepancy(gaussian, new Float64Array(1), 1)).toThrow(/needs at least 2 particles/);
  });
});
