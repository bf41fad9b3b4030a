import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gradgradcheck, Random, sum, Tensor, tensor } from "../src/autograd/index.js";
import {
  FlowDistribution,
  logAbsDetJacobian,
  PlanarChain,
  PlanarFlow,
  planar,
  planarChain,
  Sequential,
} from "../src/flows/index.js";
import { loadFlow2D } from "../src/node/model-files.js";
import { expectClose, expectGradcheck, randomTensor } from "./helpers.js";

const rng = new Random(77);
const T = (shape: number[], scale = 1) => randomTensor(rng, shape).mul(scale).detach();

/** K PlanarFlows and a PlanarChain drawn from one seed. */
function twins(d: number, K: number, seed: number) {
  const stream = new Random(seed); // one stream for all K layers, as makeFlow2D drew them
  const seq = new Sequential(Array.from({ length: K }, () => new PlanarFlow(d, { random: stream })));
  return { seq, chain: new PlanarChain(d, K, { random: new Random(seed) }) };
}

/** A loss that uses both outputs, with weights that are not symmetric in the coordinates. */
const loss = (z: Tensor, logAbsDet: Tensor): Tensor =>
  sum(z.square().mul(tensor([0.3, -1.2, 0.7].slice(0, z.shape[1]!)))).add(sum(logAbsDet.mul(1.7)));

describe("PlanarChain: K planar layers as one op", () => {
  it("is the same flow as K PlanarFlows from the same seed: same parameters, outputs and gradients, bit for bit (D = 2 and 3)", () => {
    for (const d of [2, 3]) {
      const { seq, chain } = twins(d, 6, 11);
      const layers = seq.layers as PlanarFlow[];
      expect(Array.from(chain.u.data)).toEqual(layers.flatMap((l) => Array.from(l.u.data)));
      expect(Array.from(chain.w.data)).toEqual(layers.flatMap((l) => Array.from(l.w.data)));
      // away from b = 0, so the bias gradient is not trivially small
      chain.b.data.set(layers.map((_, k) => 0.3 * Math.sin(k + 1)));
      layers.forEach((l, k) => l.b.data.set([chain.b.data[k]!]));
      const z = T([40, d], 1.5);
      const a = seq.forward(z),
        b = chain.forward(z);
      expect(Array.from(b.z.data)).toEqual(Array.from(a.z.data));
      expect(Array.from(b.logAbsDet.data)).toEqual(Array.from(a.logAbsDet.data));
      loss(a.z, a.logAbsDet).backward();
      loss(b.z, b.logAbsDet).backward();
      const rows = (pick: (l: PlanarFlow) => Tensor) => layers.flatMap((l) => Array.from(pick(l).grad!.data));
      expect(Array.from(chain.u.grad!.data)).toEqual(rows((l) => l.u));
      expect(Array.from(chain.w.grad!.data)).toEqual(rows((l) => l.w));
      expect(Array.from(chain.b.grad!.data)).toEqual(rows((l) => l.b));
    }
  });
  it("per-sample parameters ([N, K, D], as the VAE's inference network gives them): the same values and gradients, bit for bit, as K planar() calls", () => {
    for (const d of [2, 3]) {
      const [n, K] = [7, 4];
      const leaves = () => [T([n, d], 1.2), T([n, K, d], 0.7), T([n, K, d], 0.7), T([n, K], 0.4)];
      const values = leaves();
      const run = (chain: boolean) => {
        const [z, u, w, b] = values.map((t) => new Tensor(Float64Array.from(t.data), t.shape, true)) as [
          Tensor,
          Tensor,
          Tensor,
          Tensor,
        ];
        let out: { z: Tensor; logAbsDet: Tensor };
        if (chain) out = planarChain(z, { u, w, b });
        else {
          let x = z,
            ld: Tensor | null = null;
          for (let k = 0; k < K; k++) {
            const row = (t: Tensor) => t.indexSelect(1, [k]).reshape(t.rank === 3 ? [n, d] : [n]);
            const o = planar(x, { u: row(u), w: row(w), b: row(b) });
            x = o.z;
            ld = ld ? ld.add(o.logAbsDet) : o.logAbsDet;
          }
          out = { z: x, logAbsDet: ld! };
        }
        loss(out.z, out.logAbsDet).backward();
        return [out.z, out.logAbsDet, z.grad!, u.grad!, w.grad!, b.grad!].map((t) => Array.from(t.data));
      };
      expect(run(true)).toEqual(run(false));
      expectGradcheck((z, u, w, b) => {
        const o = planarChain(z!, { u: u!, w: w!, b: b! });
        return o.z.sum(1).add(o.logAbsDet);
      }, leaves());
    }
    expect(() => planarChain(T([3, 2]), { u: T([3, 2, 2]), w: T([3, 2, 2]), b: T([3]) })).toThrow(
      /planarChain: parameter b has shape \[3\], expected \[3, 2\] with K ≥ 1 layers for points \[3, 2\] \(per-sample parameters\)/,
    );
  });
  it("log|det| equals the brute-force log|det J| of the chain (D = 3, K = 5)", () => {
    const chain = new PlanarChain(3, 5, { random: 4 });
    chain.u.data.forEach((v, i, a) => (a[i] = 10 * v)); // far from the identity
    chain.w.data.forEach((v, i, a) => (a[i] = 10 * v));
    const z = T([7, 3]);
    const brute = logAbsDetJacobian((x) => chain.forward(x).z, z);
    expectClose(chain.forward(z).logAbsDet.data, brute.data, 1e-10, 1e-10);
  });
  it("gradients in z, u, w and b match central differences, with either output unused (D = 2 and 3)", () => {
    for (const d of [2, 3]) {
      const K = 4;
      const inputs = [T([5, d]), T([K, d], 0.8), T([K, d], 0.8), T([K], 0.5)];
      const run = (z: Tensor, u: Tensor, w: Tensor, b: Tensor) => planarChain(z, { u, w, b });
      expectGradcheck((...x) => {
        const o = run(...(x as [Tensor, Tensor, Tensor, Tensor]));
        return o.z.sum(1).add(o.logAbsDet);
      }, inputs);
      expectGradcheck((...x) => run(...(x as [Tensor, Tensor, Tensor, Tensor])).z, inputs);
      expectGradcheck((...x) => run(...(x as [Tensor, Tensor, Tensor, Tensor])).logAbsDet, inputs);
    }
  });
  it("second derivatives (through the composed chain) match central differences of the gradients", () => {
    const inputs = [T([3, 2]), T([3, 2], 0.8), T([3, 2], 0.8), T([3], 0.5)];
    const r = gradgradcheck((z, u, w, b) => {
      const o = planarChain(z!, { u: u!, w: w!, b: b! });
      return o.z.sum(1).add(o.logAbsDet);
    }, inputs);
    expect(r.message).toBe("ok");
  });
  it("fused and composed give the same values; the inverse undoes the chain", () => {
    const chain = new PlanarChain(2, 8, { random: 9 });
    const z = T([30, 2], 2);
    const fused = chain.forward(z);
    chain.implementation = "composed";
    const composed = chain.forward(z);
    expectClose(fused.z.data, composed.z.data, 1e-13, 1e-13);
    expectClose(fused.logAbsDet.data, composed.logAbsDet.data, 1e-12, 1e-12);
    expectClose(chain.inverse(fused.z).data, z.data, 1e-9, 1e-9);
  });
  it("bad input is named: shapes, K, dtypes, and a chain that overflows", () => {
    expect(() => new PlanarChain(2, 0)).toThrow(/PlanarChain: K must be a positive integer, got 0/);
    expect(() => new PlanarChain(2, 3, { u: [1, 2] })).toThrow(/initial u has 2 values, expected 6 \(K = 3, D = 2\)/);
    const chain = new PlanarChain(2, 3, { random: 1 });
    expect(() => chain.forward(T([4, 3]))).toThrow(/PlanarChain: expected points of shape \[N, 2\], got \[4, 3\]/);
    expect(() => planarChain(T([4, 2]), { u: T([3, 2]), w: T([2, 2]), b: T([3]) })).toThrow(
      /planarChain: parameter w has shape \[2, 2\], expected \[3, 2\]/,
    );
    chain.u.data[0] = Number.NaN;
    expect(() => chain.forward(T([4, 2]))).toThrow(/PlanarChain: parameter u holds NaN at index 0/);
    // z + û tanh(wz + b) = MAX_VALUE + 1e295 overflows in the first layer; the chain reports it
    const huge = new PlanarChain(1, 2, { u: [1e295, 1], w: [1, 1], b: [0, 0] });
    expect(() => huge.forward(tensor([[Number.MAX_VALUE], [1]]))).toThrow(
      /PlanarChain: the 2 planar layers turned finite points into non-finite ones/,
    );
  });
  it("a planar fit saved as K separate layers (before the chain) loads as the same flow", () => {
    const old = new FlowDistribution(new Sequential(twins(2, 3, 5).seq.layers), { fixedBase: true });
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "flowgrad-chain-")), "old.model.json");
    const manifest = { kind: "flowgrad.flow2d", target: "U1", flow: "planar", K: 3 };
    writeFileSync(file, JSON.stringify({ manifest, parameters: old.stateDict() }));
    expect(Object.keys(old.stateDict().parameters)).toContain("flow.0.u");
    const { q } = loadFlow2D(file);
    const z = T([10, 2]);
    expect(Array.from(q.flow.forward(z).z.data)).toEqual(Array.from(old.flow.forward(z).z.data));
  });
});
