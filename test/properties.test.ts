import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Tensor } from "../src/autograd/index.js";
import * as ag from "../src/autograd/index.js";
import { jacobian, logAbsDet, PlanarFlow, planar, radial } from "../src/flows/index.js";
import { parseCalibrationStore } from "../src/kernels/calibration-store.js";
import { FlowVAE } from "../src/models/index.js";
import { UserError } from "../src/node/io.js";
import { loadMnist } from "../src/node/mnist.js";
import { loadVAEFile, saveVAE } from "../src/node/model-files.js";

// Property-based tests (fast-check): random shapes through every op against small references
// written here, random bytes and wrong-but-valid JSON into every file loader, and random flow
// parameters over many orders of magnitude. A failing case is shrunk and printed with its seed.
const runs = { numRuns: 60 };
// A fixed seed, so CI is repeatable; FLOWGRAD_FC_SEED=<n> explores others (a failure prints its seed and path).
fc.configureGlobal({ seed: Number(process.env.FLOWGRAD_FC_SEED ?? 2015) });

// ---- A small independent reference: nested loops over multi-indices, NumPy broadcasting. ----
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
function unravel(i: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    index[k] = i % shape[k]!;
    i = Math.floor(i / shape[k]!);
  }
  return index;
}
function ravel(index: readonly number[], shape: readonly number[]): number {
  return index.reduce((flat, v, k) => flat * shape[k]! + v, 0);
}
/** The value of a broadcast operand of shape `own` at an index of the output's shape. */
function at(values: ArrayLike<number>, own: readonly number[], index: readonly number[]): number {
  const lead = index.length - own.length;
  return values[
    ravel(
      own.map((d, k) => (d === 1 ? 0 : index[lead + k]!)),
      own,
    )
  ]!;
}

/** Two shapes that broadcast: a common shape, each operand dropping leading axes or setting some to 1. */
const broadcastPair = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }).chain((shape) =>
  fc
    .tuple(
      fc.constant(shape),
      fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      fc.nat({ max: shape.length }),
      fc.nat({ max: shape.length }),
    )
    .map(([s, ones1, ones2, drop1, drop2]) => ({
      out: s,
      a: s.map((d, k) => (ones1[k] ? 1 : d)).slice(drop1),
      b: s.map((d, k) => (ones2[k] ? 1 : d)).slice(drop2),
    })),
);
const values = (n: number, min = -3, max = 3) =>
  fc.array(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n });

describe("properties: every op on random shapes against a reference written here", () => {
  const binary: Array<[string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number, number]> = [
    ["add", ag.add, (x, y) => x + y, -3],
    ["sub", ag.sub, (x, y) => x - y, -3],
    ["mul", ag.mul, (x, y) => x * y, -3],
    ["div", ag.div, (x, y) => x / y, 0.5],
    ["pow", ag.pow, (x, y) => x ** y, 0.5],
    ["maximum", ag.maximum, Math.max, -3],
    ["minimum", ag.minimum, Math.min, -3],
  ];
  for (const [name, op, reference, low] of binary) {
    it(`${name} with broadcasting`, () => {
      fc.assert(
        fc.property(
          broadcastPair.chain((p) => fc.tuple(fc.constant(p), values(size(p.a), low), values(size(p.b), low))),
          ([p, x, y]) => {
            const out = op(
              ag.tensor(Float64Array.from(x), { shape: p.a }),
              ag.tensor(Float64Array.from(y), { shape: p.b }),
            );
            const rank = Math.max(p.a.length, p.b.length);
            const dim = (own: number[], k: number) => own[k - (rank - own.length)] ?? 1;
            const shape = Array.from({ length: rank }, (_, k) => Math.max(dim(p.a, k), dim(p.b, k)));
            expect(out.shape).toEqual(shape);
            for (let i = 0; i < size(shape); i++) {
              const index = unravel(i, shape);
              const want = reference(at(x, p.a, index), at(y, p.b, index));
              expect(Math.abs(out.data[i]! - want)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(want)));
            }
          },
        ),
        runs,
      );
    });
  }
  const unary: Array<[string, (x: Tensor) => Tensor, (v: number) => number, number, number]> = [
    ["exp", ag.exp, Math.exp, -5, 5],
    ["log", ag.log, Math.log, 0.01, 50],
    ["tanh", ag.tanh, Math.tanh, -20, 20],
    ["sqrt", ag.sqrt, Math.sqrt, 0, 50],
    ["sigmoid", ag.sigmoid, (v) => 1 / (1 + Math.exp(-v)), -30, 30],
    ["softplus", ag.softplus, (v) => Math.log1p(Math.exp(-Math.abs(v))) + Math.max(v, 0), -50, 50],
    ["abs", ag.abs, Math.abs, -5, 5],
    ["sin", ag.sin, Math.sin, -10, 10],
    ["relu", ag.relu, (v) => Math.max(v, 0), -5, 5],
    ["log1p", ag.log1p, Math.log1p, -0.9, 10],
  ];
  for (const [name, op, reference, low, high] of unary) {
    it(name, () => {
      fc.assert(
        fc.property(
          fc
            .array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })
            .chain((shape) => fc.tuple(fc.constant(shape), values(size(shape), low, high))),
          ([shape, x]) => {
            const out = op(ag.tensor(Float64Array.from(x), { shape }));
            expect(out.shape).toEqual(shape);
            x.forEach((v, i) =>
              expect(Math.abs(out.data[i]! - reference(v))).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(reference(v)))),
            );
          },
        ),
        runs,
      );
    });
  }
  it("sum, max and mean over random axes, kept or dropped", () => {
    const arbitrary = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
      fc.tuple(
        fc.constant(shape),
        values(size(shape)),
        fc.subarray(
          shape.map((_, k) => k),
          { minLength: 1 },
        ),
        fc.boolean(),
      ),
    );
    fc.assert(
      fc.property(arbitrary, ([shape, x, axes, keep]) => {
        const t = ag.tensor(Float64Array.from(x), { shape });
        for (const [op, start, combine, finish] of [
          ["sum", 0, (s: number, v: number) => s + v, (s: number) => s],
          ["max", -Infinity, Math.max, (s: number) => s],
          ["mean", 0, (s: number, v: number) => s + v, (s: number) => s / axes.reduce((n, a) => n * shape[a]!, 1)],
        ] as const) {
          const out = t[op](axes, keep);
          const kept = shape.map((d, k) => (axes.includes(k) ? 1 : d));
          expect(out.shape).toEqual(keep ? kept : shape.filter((_, k) => !axes.includes(k)));
          const acc = new Array<number>(size(kept)).fill(start);
          for (let i = 0; i < x.length; i++) {
            const index = unravel(i, shape).map((v, k) => (axes.includes(k) ? 0 : v));
            const j = ravel(index, kept);
            acc[j] = combine(acc[j]!, x[i]!);
          }
          acc.forEach((s, j) =>
            expect(Math.abs(out.data[j]! - finish(s))).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(finish(s)))),
          );
        }
      }),
      runs,
    );
  });
  it("matmul of random sizes with broadcast batches", () => {
    const arbitrary = fc
      .tuple(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
      )
      .chain(([m, k, n, batch, shareB]) =>
        fc.tuple(fc.constant({ m, k, n, batch, shareB }), values(batch * m * k), values((shareB ? 1 : batch) * k * n)),
      );
    fc.assert(
      fc.property(arbitrary, ([{ m, k, n, batch, shareB }, a, b]) => {
        const out = ag.matmul(
          ag.tensor(Float64Array.from(a), { shape: [batch, m, k] }),
          ag.tensor(Float64Array.from(b), { shape: shareB ? [k, n] : [batch, k, n] }),
        );
        expect(out.shape).toEqual([batch, m, n]);
        for (let t = 0; t < batch; t++)
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let q = 0; q < k; q++) s += a[(t * m + i) * k + q]! * b[((shareB ? 0 : t) * k + q) * n + j]!;
              expect(Math.abs(out.data[(t * m + i) * n + j]! - s)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(s)) * k);
            }
      }),
      runs,
    );
  });
  it("permute, slice and concat move values where the index arithmetic says", () => {
    const arbitrary = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
      fc.tuple(
        fc.constant(shape),
        values(size(shape)),
        fc.shuffledSubarray(
          shape.map((_, k) => k),
          { minLength: shape.length, maxLength: shape.length },
        ),
        fc.tuple(
          ...shape.map((d) =>
            fc
              .tuple(fc.nat({ max: d - 1 }), fc.nat({ max: d - 1 }))
              .map(([p, q]) => [Math.min(p, q), Math.max(p, q) + 1] as const),
          ),
        ),
        fc.nat({ max: shape.length - 1 }),
      ),
    );
    fc.assert(
      fc.property(arbitrary, ([shape, x, order, ranges, axis]) => {
        const t = ag.tensor(Float64Array.from(x), { shape });
        const p = t.permute(order);
        for (let i = 0; i < x.length; i++) {
          const index = unravel(i, shape);
          expect(
            p.data[
              ravel(
                order.map((a) => index[a]!),
                p.shape,
              )
            ],
          ).toBe(x[i]);
        }
        const s = t.slice(
          ranges.map((r) => r[0]),
          ranges.map((r) => r[1]),
        );
        for (let i = 0; i < s.size; i++)
          expect(s.data[i]).toBe(
            x[
              ravel(
                unravel(i, s.shape).map((v, k) => v + ranges[k]![0]),
                shape,
              )
            ],
          );
        const second = s.shape.every((d, k) => k === axis || d === shape[k]) ? s : t;
        const c = ag.concat([t, second], axis);
        for (let i = 0; i < c.size; i++) {
          const index = unravel(i, c.shape);
          const inFirst = index[axis]! < shape[axis]!;
          if (!inFirst) index[axis] = index[axis]! - shape[axis]!;
          const from = inFirst ? t : second;
          expect(c.data[i]).toBe(from.data[ravel(index, from.shape)]);
        }
      }),
      runs,
    );
  });
});

describe("properties: every file loader answers random bytes and wrong JSON with a message, never a crash inside", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "flowgrad-props-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const validVae = (() => {
    const file = path.join(tmp, "valid.model.json");
    saveVAE(file, new FlowVAE({ inputs: 6, latent: 2, hidden: 3, K: 1 }));
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  })();
  /** Mutations of a valid document: a field replaced by another JSON value, anywhere in the tree. */
  const mutated = (doc: unknown) =>
    fc.tuple(fc.jsonValue(), fc.nat(), fc.nat()).map(([value, pick, depth]) => {
      const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
      let node: Record<string, unknown> = copy;
      for (let level = 0; level < 1 + (depth % 4); level++) {
        const keys = Object.keys(node);
        if (keys.length === 0) break;
        const key = keys[pick % keys.length]!;
        if (level === depth % 4 || typeof node[key] !== "object" || node[key] === null) {
          node[key] = value;
          break;
        }
        node = node[key] as Record<string, unknown>;
      }
      return copy;
    });
  const contents = (doc: unknown) =>
    fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      mutated(doc).map((v) => JSON.stringify(v)),
    );
  const expectNamedError = (error: unknown) => {
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(TypeError);
    expect(error).not.toBeInstanceOf(RangeError);
  };

  it("loadVAEFile: loads, or throws a UserError naming the file", () => {
    fc.assert(
      fc.property(contents(validVae), (bytes) => {
        const file = path.join(tmp, "random.model.json");
        writeFileSync(file, bytes);
        try {
          loadVAEFile(file);
        } catch (error) {
          expect(error).toBeInstanceOf(UserError);
          expect((error as Error).message).toContain(file);
        }
      }),
      { numRuns: 150 },
    );
  });
  it("Module.loadStateDict: loads, or throws an error that says what is wrong", () => {
    const module = new PlanarFlow(2, { random: 1 });
    const valid = module.stateDict();
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), mutated(valid)), (state) => {
        try {
          new PlanarFlow(2, { random: 1 }).loadStateDict(state);
        } catch (error) {
          expectNamedError(error);
          expect((error as Error).message).toMatch(/^loadStateDict: /);
        }
      }),
      { numRuns: 150 },
    );
  });
  it("the calibration store: parses, or throws an error naming the file", () => {
    const valid = { format: "flowgrad.calibration", version: 1, entries: [] };
    fc.assert(
      fc.property(contents(valid), (bytes) => {
        try {
          parseCalibrationStore(Buffer.isBuffer(bytes) ? bytes.toString("latin1") : bytes, "/x/calibration.json");
        } catch (error) {
          expectNamedError(error);
          expect((error as Error).message).toContain("/x/calibration.json");
        }
      }),
      { numRuns: 150 },
    );
  });
  it("the MNIST loader on a folder of random files: a UserError naming the file", () => {
    fc.assert(
      fc.property(contents({ data: [0, 0.5, 1] }), (bytes) => {
        const dir = path.join(tmp, "digits");
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        for (let d = 0; d < 10; d++) writeFileSync(path.join(dir, `${d}.json`), bytes);
        expect(() => loadMnist({ dataDir: dir })).toThrow(UserError);
      }),
      { numRuns: 40 },
    );
  });
});

describe("properties: flow parameters over many orders of magnitude", () => {
  const scale = fc.integer({ min: -3, max: 9 }).map((e) => 10 ** e);
  const vector = (d: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: d, maxLength: d });
  it("planar: the log-det is log|det J| of the map computed (general Jacobian, then LU), or the layer refuses by name", () => {
    let refused = 0,
      checked = 0;
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 4 })
          .chain((d) =>
            fc.tuple(
              fc.constant(d),
              vector(d),
              vector(d),
              scale,
              scale,
              fc.double({ min: -2, max: 2, noNaN: true }),
              vector(3 * d),
            ),
          ),
        ([d, u, w, su, sw, b, z]) => {
          const p = { u: ag.tensor(u.map((v) => v * su)), w: ag.tensor(w.map((v) => v * sw)), b: ag.tensor([b]) };
          // Points spread around the layer's hyperplane wᵀz + b = 0, where the log-det varies most.
          const norm = Math.max(Math.hypot(...p.w.data), 1e-3);
          const points = ag.tensor(
            z.map((v) => v / norm),
            { shape: [3, d] },
          );
          let analytic: Float64Array;
          try {
            analytic = planar(points, p).logAbsDet.data as Float64Array;
          } catch (error) {
            expect((error as Error).message).toMatch(/^planar: parameters too large for float64/);
            refused++;
            return;
          }
          const brute = ag.noGrad(() => logAbsDet(jacobian((x) => planar(x, p).z, points))).data;
          analytic.forEach((v, i) =>
            expect(Math.abs(v - brute[i]!), `point ${i}: analytic ${v}, log|det J| ${brute[i]}`).toBeLessThanOrEqual(
              1e-2 + 1e-6 * Math.abs(v),
            ),
          );
          checked++;
        },
      ),
      { numRuns: 300 },
    );
    expect(checked).toBeGreaterThan(refused); // most settings are held, and checked
  });
  it("radial: the log-det is log|det J| of the map computed, for α, β of every size (softplus underflow included)", () => {
    const raw = fc.integer({ min: -3, max: 3 }).chain((e) => fc.double({ min: -(10 ** e), max: 10 ** e, noNaN: true }));
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 4 })
          .chain((d) => fc.tuple(fc.constant(d), vector(d), raw, raw, vector(3 * d), scale)),
        ([d, z0, a, b, z, s]) => {
          const p = { z0: ag.tensor(z0), alpha: ag.tensor([a]), beta: ag.tensor([b]) };
          const points = ag.tensor(
            z.map((v, i) => z0[i % d]! + v * s * 1e-3),
            { shape: [3, d] },
          );
          const out = radial(points, p);
          expect([...out.z.data, ...out.logAbsDet.data].every(Number.isFinite)).toBe(true);
          const brute = ag.noGrad(() => logAbsDet(jacobian((x) => radial(x, p).z, points))).data;
          // The brute force forms J's entries 1 + βh by cancellation when the map is nearly singular
          // (|det J| small): its own error grows like ε / |det J|^(1/D), which the tolerance allows.
          out.logAbsDet.data.forEach((v, i) =>
            expect(Math.abs(v - brute[i]!), `point ${i}: analytic ${v}, log|det J| ${brute[i]}`).toBeLessThanOrEqual(
              1e-6 * (1 + Math.abs(v)) + d * 1e-15 * Math.exp(-v / d),
            ),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
