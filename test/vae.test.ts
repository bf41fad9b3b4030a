import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { noGrad, Random, Tensor, tensor } from "../src/autograd/index.js";
import {
  annealedBeta,
  annealedEpoch,
  type BestSoFar,
  estimateKL,
  estimateKLAsync,
  evaluateVAE,
  evaluateVAEAsync,
  FlowVAE,
  fit2D,
  fit2DAsync,
  fitLocalPosteriors,
  logPartition,
  logPartitionAsync,
  pairedDifference,
  sampleBinary,
  sampleDigits,
  summariseGradNorms,
  trainVAE,
  trainVAEAsync,
} from "../src/models/index.js";
import { loadMnist, loadVAE, saveVAE } from "../src/node/index.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "flowgrad-vae-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("MNIST from the mnist package", () => {
  const data = loadMnist();
  it("10,000 real digits, binarised, split 9,000 / 1,000 the same way every time", () => {
    expect(data.train.count).toBe(9000);
    expect(data.test.count).toBe(1000);
    expect(data.train.images.length).toBe(9000 * 784);
    expect(data.train.images.every((v) => v === 0 || v === 1)).toBe(true);
    // All ten digits in both splits, in roughly even numbers.
    for (const split of [data.train, data.test]) {
      const counts = new Array<number>(10).fill(0);
      split.labels.forEach((l) => counts[l]!++);
      expect(Math.min(...counts)).toBeGreaterThan(split.count / 20);
    }
    const again = loadMnist();
    expect(Array.from(again.test.labels)).toEqual(Array.from(data.test.labels));
    // A binarised digit has a sensible amount of ink (10–30% of the pixels).
    const ink = data.test.images.reduce((s, v) => s + v, 0) / data.test.images.length;
    expect(ink).toBeGreaterThan(0.08);
    expect(ink).toBeLessThan(0.3);
    // The grey intensities are kept, and the binary digits are exactly them thresholded at 0.5.
    expect(data.test.intensities.every((v, i) => v >= 0 && v <= 1 && data.test.images[i] === (v >= 0.5 ? 1 : 0))).toBe(
      true,
    );
    expect(data.test.intensities.some((v) => v > 0 && v < 1)).toBe(true);
  });
  it("stochastic binarisation draws each pixel with probability equal to its intensity", () => {
    const intensities = new Float64Array(40_000).map((_, i) => (i % 5) / 4); // 0, .25, .5, .75, 1
    const draw = sampleBinary(intensities, new Random(3));
    expect(draw.every((v) => v === 0 || v === 1)).toBe(true);
    for (let level = 0; level < 5; level++) {
      let ones = 0;
      for (let i = level; i < draw.length; i += 5) ones += draw[i]!;
      // 8,000 draws per level: the standard error of the mean is at most 0.0056
      expect(Math.abs(ones / 8000 - level / 4)).toBeLessThan(0.025);
    }
    expect(() => sampleBinary(Float64Array.of(0.2, 1.5), new Random(1))).toThrow(/intensity 1 is 1.5, not in \[0, 1\]/);
  });
  it("a missing or corrupt data file is a clear error", () => {
    expect(() => loadMnist({ dataDir: path.join(tmp, "nowhere") })).toThrow(
      /MNIST data file .*0\.json is missing or not valid JSON/,
    );
    const dir = path.join(tmp, "bad");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(path.join(dir, "0.json"), JSON.stringify({ data: [0.5, 0.2] }));
    expect(() => loadMnist({ dataDir: dir })).toThrow(
      /0\.json is corrupt: expected a "data" array whose length is a multiple of 784/,
    );
  });
});

describe("importance-sampled likelihood against quadrature", () => {
  it("a 1-D latent VAE with flows: IS estimate of ln p(x) matches ∫ p(x|z) p(z) dz", () => {
    for (const [K, flow] of [
      [0, "planar"],
      [3, "planar"],
      [3, "radial"],
    ] as const) {
      const model = new FlowVAE({ inputs: 3, latent: 1, hidden: 5, K, flow, seed: 4 });
      // A q unlike the posterior but wider than it (so the importance weights have finite variance):
      // the head gives μ = 0.2, log σ = 0.7 and fixed flow parameters for every x.
      model.head.weight.data.fill(0);
      model.head.bias.data.set([0.2, 0.7]);
      const per = flow === "planar" ? [0.9, 0.8, 0.3] : [0.3, 0, 1]; // (u, w, b) or (z0, α̃, β̃), D = 1
      if (model.flowParamsHead) {
        model.flowParamsHead.weight.data.fill(0);
        model.flowParamsHead.bias.data.set(Array.from({ length: K }, () => per).flat());
      }
      const x = tensor([
        [1, 0, 1],
        [0, 0, 1],
      ]);
      const is = model.negLogLikelihood(x, 40_000, new Random(1));
      // Exact: −ln ∫ N(z; 0, 1) Π Bernoulli(x_i; σ(decoder(z)_i)) dz by the midpoint rule.
      const zs = Array.from({ length: 8001 }, (_, i) => -10 + i * 0.0025);
      const logits = noGrad(() => model.decoder.forward(tensor(zs.map((z) => [z])))).data;
      for (let row = 0; row < 2; row++) {
        let integral = 0;
        zs.forEach((z, i) => {
          let lp = -0.5 * z * z - 0.5 * Math.log(2 * Math.PI);
          for (let j = 0; j < 3; j++) {
            const l = logits[i * 3 + j]!,
              xv = x.data[row * 3 + j]!;
            lp += xv * l - Math.log1p(Math.exp(l));
          }
          integral += Math.exp(lp) * 0.0025;
        });
        expect(Math.abs(is[row]! - -Math.log(integral)), `K=${K} ${flow} row ${row}`).toBeLessThan(0.02);
      }
    }
  });
});

describe("posteriors fitted per digit for a fixed decoder, against quadrature", () => {
  // A 1-D latent: ln p(x, z) on a fine grid gives ln p(x) and, for any Gaussian q, its exact bound.
  const model = new FlowVAE({ inputs: 6, latent: 1, hidden: 8, seed: 3 });
  for (const p of model.decoder.parameters()) p.data.forEach((v, i, a) => (a[i] = 4 * v));
  const x = [0, 0, 0, 0, 1, 0]; // of the 64 inputs, the one whose posterior is least Gaussian (searched once)
  const h = 0.0025,
    zs = Array.from({ length: 8001 }, (_, i) => -10 + i * h);
  const logits = noGrad(() => model.decoder.forward(tensor(zs.map((z) => [z])))).data;
  const logJoint = zs.map((z, i) => {
    let lp = -0.5 * z * z - 0.5 * Math.log(2 * Math.PI);
    for (let j = 0; j < 6; j++) lp += x[j]! * logits[i * 6 + j]! - Math.log1p(Math.exp(logits[i * 6 + j]!));
    return lp;
  });
  const negLogLikelihood = -Math.log(logJoint.reduce((a, lp) => a + Math.exp(lp) * h, 0));
  /** −ELBO of N(μ, σ²) by the midpoint rule: −∫ q ln p(x, z) dz minus q's entropy. */
  const gaussianBound = (mu: number, logSigma: number) => {
    let e = 0;
    zs.forEach((z, i) => {
      const q = Math.exp(-0.5 * ((z - mu) / Math.exp(logSigma)) ** 2 - logSigma - 0.5 * Math.log(2 * Math.PI));
      e += q * logJoint[i]! * h;
    });
    return -e - (logSigma + 0.5 * Math.log(2 * Math.PI * Math.E));
  };
  // The best Gaussian: a grid over μ and log σ wide enough to hold the posterior, then refined.
  let best = { mu: 0, logSigma: 0, bound: Infinity };
  const search = (mus: number[], logSigmas: number[]) => {
    for (const mu of mus)
      for (const logSigma of logSigmas) {
        const bound = gaussianBound(mu, logSigma);
        if (bound < best.bound) best = { mu, logSigma, bound };
      }
  };
  const around = (centre: number, step: number) => Array.from({ length: 11 }, (_, i) => centre + (i - 5) * step);
  search(
    Array.from({ length: 49 }, (_, i) => -6 + i * 0.25),
    Array.from({ length: 17 }, (_, i) => -3 + i * 0.25),
  );
  for (const step of [0.05, 0.01, 0.002]) search(around(best.mu, step), around(best.logSigma, step));
  const fitted = (K: number) =>
    fitLocalPosteriors(model, Float64Array.from(x), {
      K,
      steps: 900,
      samples: 16,
      lr: 2e-2,
      evalSamples: 20_000,
      seed: 1,
    });

  it("K = 0 reaches the best Gaussian's bound; K planar layers get closer to −ln p(x); importance sampling from the fitted q gives −ln p(x)", () => {
    expect(best.bound - negLogLikelihood).toBeGreaterThan(0.2); // the posterior is not Gaussian: room for a flow
    const diagonal = fitted(0);
    expect(Math.abs(diagonal.negativeElbo[0]! - best.bound)).toBeLessThan(0.02);
    expect(diagonal.encoderNegativeElbo[0]!).toBeGreaterThan(diagonal.negativeElbo[0]!);
    const planar = fitted(4);
    expect(planar.negativeElbo[0]!).toBeLessThan(best.bound - 0.15); // most of the 0.25 nats the Gaussian leaves
    expect(planar.negativeElbo[0]!).toBeGreaterThan(negLogLikelihood - 0.02);
    for (const f of [diagonal, planar]) expect(Math.abs(f.negLogLikelihood[0]! - negLogLikelihood)).toBeLessThan(0.02);
  });

  it("bad settings are named", () => {
    expect(() => fitLocalPosteriors(model, new Float64Array(5), { K: 1, steps: 1 })).toThrow(
      /5 values are not whole images of 6 pixels/,
    );
    expect(() => fitLocalPosteriors(model, Float64Array.from(x), { K: -1, steps: 1 })).toThrow(
      /K must be a whole number ≥ 0, got -1/,
    );
    expect(() => fitLocalPosteriors(model, Float64Array.from(x), { K: 1, steps: 0 })).toThrow(
      /steps must be a positive integer, got 0/,
    );
    const twoLayers = new FlowVAE({ inputs: 6, latent: 1, hidden: 4, stochasticLayers: 2 });
    expect(() => fitLocalPosteriors(twoLayers, Float64Array.from(x), { K: 1, steps: 1 })).toThrow(
      /one stochastic layer only/,
    );
  });
});

describe("training, evaluation, saving", () => {
  const data = loadMnist();
  /** Train briefly; the bound must fall, IS must sit below it, and a saved copy must give the same numbers. */
  const trainsAndRoundTrips = (model: FlowVAE, trainCount: number, file: string) => {
    const test = data.test.images.subarray(0, 50 * 784);
    const before = evaluateVAE(model, test, 20);
    trainVAE(model, data.train.images.subarray(0, trainCount * 784), { epochs: 2, batchSize: 50, lr: 2e-3 });
    const after = evaluateVAE(model, test, 20);
    expect(after.negativeElbo).toBeLessThan(before.negativeElbo - 50);
    expect(after.negLogLikelihood).toBeLessThan(after.negativeElbo);
    saveVAE(path.join(tmp, file), model);
    const loaded = loadVAE(path.join(tmp, file));
    expect(loaded.config).toEqual(model.config);
    const x = new Tensor(test.slice(0, 5 * 784), [5, 784]);
    expect(Array.from(loaded.negLogLikelihood(x, 10, new Random(5)))).toEqual(
      Array.from(model.negLogLikelihood(x, 10, new Random(5))),
    );
    expect(Array.from(sampleDigits(loaded, 3, 1))).toEqual(Array.from(sampleDigits(model, 3, 1)));
  };
  it("a few hundred steps lower the test bound; −ln p(x) by IS is below −ELBO; save and load round-trip", () => {
    for (const stochasticLayers of [1, 2] as const)
      trainsAndRoundTrips(
        new FlowVAE({ K: 2, latent: 8, hidden: 32, stochasticLayers, seed: 3 }),
        2000,
        `m${stochasticLayers}.model.json`,
      );
  }, 120_000);
  it("a NICE posterior trains, its −ln p(x) is below its −ELBO, and it saves and loads", () => {
    trainsAndRoundTrips(
      new FlowVAE({ K: 4, flow: "nice", niceHidden: [16], latent: 8, hidden: 32, seed: 3 }),
      1000,
      "nice.model.json",
    );
    expect(() => new FlowVAE({ flow: "nice", niceHidden: [0] })).toThrow(
      /niceHidden must be a list of positive integers/,
    );
  }, 60_000);
  it("a run resumed from a checkpoint (saved as JSON) ends with the same parameters, bit for bit, as one never interrupted", () => {
    const make = () => new FlowVAE({ K: 2, latent: 4, hidden: 16, seed: 8 });
    const train = data.train.images.subarray(0, 600 * 784),
      validation = data.train.images.subarray(600 * 784, 700 * 784);
    const options = { epochs: 3, batchSize: 50, lr: 2e-3, validation, binarize: "fixed" as const };
    const straight = make();
    const whole = trainVAE(straight, train, options);
    // Interrupted after epoch 2: only the checkpoint of that epoch survives, through JSON.
    let saved = "";
    const first = make();
    trainVAE(first, train, {
      ...options,
      epochs: 2,
      checkpoint: (state) => {
        saved = JSON.stringify(state);
      },
    });
    const resumed = make();
    const rest = trainVAE(resumed, train, { ...options, resume: JSON.parse(saved) });
    expect(rest.losses).toEqual(whole.losses);
    expect(rest.validationLosses).toEqual(whole.validationLosses);
    resumed
      .parameters()
      .forEach((p, i) => expect(Array.from(p.data)).toEqual(Array.from(straight.parameters()[i]!.data)));
    // Why a run ended is part of its result: its epoch budget, a time budget, or early stopping.
    expect(whole.stoppedBy).toBe("epochs");
    const timed = trainVAE(make(), train, { ...options, maxSeconds: 1e-6 });
    expect([timed.stoppedBy, timed.epochsRun]).toEqual(["time", 1]);
    // A validation bound that cannot improve stops the run after `patience` epochs: steps of 1e-30
    // are below the parameters' rounding, so they never change and the bound is the same each epoch.
    const stuck = trainVAE(make(), train, { ...options, epochs: 10, lr: 1e-30, patience: 1 });
    expect([stuck.stoppedBy, stuck.epochsRun, stuck.bestEpoch]).toEqual(["early-stopping", 2, 1]);
    // While β is annealed the validation bound (at β = 1) is not what is minimised, so patience
    // waits for β = 1: 12 updates per epoch, β reaches 1 after 0.99 × 40 = 39.6 updates, in epoch 4.
    const annealed = trainVAE(make(), train, { ...options, epochs: 10, lr: 1e-30, patience: 1, annealSteps: 40 });
    expect([annealed.stoppedBy, annealed.epochsRun, annealed.bestEpoch]).toEqual(["early-stopping", 5, 1]);
    expect(() => trainVAE(make(), train, { ...options, maxSeconds: -1 })).toThrow(/maxSeconds must be a positive/);
    // checkpointSeconds spaces them out: every epoch at 0, none within an hour's budget here.
    const count = (checkpointSeconds: number) => {
      let n = 0;
      trainVAE(make(), train, { ...options, checkpointSeconds, checkpoint: () => n++ });
      return n;
    };
    expect(count(0)).toBe(3);
    expect(count(3600)).toBe(0);
    // A checkpoint of another run is refused.
    expect(() => trainVAE(make(), train.subarray(0, 500 * 784), { ...options, resume: JSON.parse(saved) })).toThrow(
      /the checkpoint is not of this run \(500 training images\)/,
    );
  });
  it("flows initialised at the identity: a K-layer model starts as exactly the K = 0 model", () => {
    for (const flow of ["planar", "radial", "nice"] as const) {
      const base = new FlowVAE({ inputs: 6, K: 0, latent: 5, hidden: 7, seed: 2 });
      const model = new FlowVAE({ inputs: 6, K: 4, latent: 5, hidden: 7, seed: 2, flow });
      // The same seed gives the same encoder, decoder and μ, log σ head (the flow's head is made
      // last); the flow layers as initialised.
      for (const name of ["encoder", "decoder", "head"] as const)
        expect(model[name].parameters().map((p) => Array.from(p.data))).toEqual(
          base[name].parameters().map((p) => Array.from(p.data)),
        );
      const x = tensor([
        [1, 0, 1, 1, 0, 0],
        [0, 1, 1, 0, 1, 1],
      ]);
      const a = base.draw(x, new Random(9)),
        b = model.draw(x, new Random(9));
      expect(Array.from(b.logQ.data)).toEqual(Array.from(a.logQ.data).map((v) => expect.closeTo(v, 10)));
      expect(Array.from(b.logJoint.data)).toEqual(Array.from(a.logJoint.data).map((v) => expect.closeTo(v, 10)));
      // and the random start is not the identity
      const random = new FlowVAE({ inputs: 6, K: 4, latent: 5, hidden: 7, seed: 2, flow, flowInit: "random" });
      if (flow === "nice") {
        expect(random.head.outFeatures).toBe(10); // NICE is not amortised: the head gives only μ and log σ
        const out = random.nice!.forward(tensor([[0.1, 0.2, 0.3, 0.4, 0.5]]));
        expect(
          out.z
            .sub(tensor([[0.1, 0.2, 0.3, 0.4, 0.5]]))
            .abs()
            .max()
            .item(),
        ).toBeGreaterThan(1e-3);
      } else expect(random.flowParamsHead!.weight.data.some((v) => v !== 0)).toBe(true);
    }
    expect(() => new FlowVAE({ flowInit: "zero" as "identity" })).toThrow(
      /flowInit must be "identity" or "random", got zero/,
    );
  });
  it("the free energy's gradient matches central differences for every parameter (shared head, planar, radial and NICE, L = 1 and 2)", () => {
    for (const [flow, stochasticLayers] of [
      ["planar", 1],
      ["radial", 1],
      ["nice", 1],
      ["planar", 2],
    ] as const) {
      const m = new FlowVAE({
        inputs: 6,
        K: 2,
        latent: 3,
        latent2: 2,
        hidden: 5,
        seed: 4,
        flow,
        stochasticLayers,
        flowHead: "shared",
        flowInit: "random",
      });
      m.flowParamsHead?.weight.data.forEach((v, i, a) => (a[i] = 10 * v)); // flows well away from the identity
      if (m.nice) {
        expect(m.nice.parameters().length).toBeGreaterThan(0);
        for (const p of m.nice.parameters()) p.data.forEach((v, i, a) => (a[i] = v + 0.3 * Math.sin(i + 1)));
      }
      const x = tensor([
        [1, 0, 1, 1, 0, 0],
        [0, 1, 1, 0, 1, 1],
      ]);
      const f = () => m.freeEnergy(x, new Random(2));
      f().backward();
      for (const p of m.parameters()) {
        for (let i = 0; i < p.size; i++) {
          const old = p.data[i]!,
            h = 1e-5;
          p.data[i] = old + h;
          const up = noGrad(() => f().item());
          p.data[i] = old - h;
          const down = noGrad(() => f().item());
          p.data[i] = old;
          const fd = (up - down) / (2 * h),
            an = p.grad!.data[i]!;
          if (!(Math.abs(fd - an) <= 1e-6 + 1e-5 * Math.abs(fd)))
            throw new Error(
              `${flow} L=${stochasticLayers}: element ${i} of a parameter: autograd ${an}, central difference ${fd}`,
            );
        }
      }
    }
  });
  it("flowHead readout: the same free energy as shared; the flow outputs' gradient stops at the encoder", () => {
    const make = (flowHead: "readout" | "shared") => {
      const m = new FlowVAE({ inputs: 6, K: 2, latent: 3, hidden: 5, seed: 4, flowHead, flowInit: "random" });
      const x = tensor([
        [1, 0, 1, 1, 0, 0],
        [0, 1, 1, 0, 1, 1],
      ]);
      const f = m.freeEnergy(x, new Random(2));
      f.backward();
      return { m, value: f.item() };
    };
    const readout = make("readout"),
      shared = make("shared");
    expect(readout.value).toBeCloseTo(shared.value, 12);
    const grads = (m: FlowVAE, name: "encoder" | "decoder" | "head" | "flowParamsHead") =>
      m[name]!.parameters().flatMap((p) => Array.from(p.grad!.data));
    for (const name of ["decoder", "head", "flowParamsHead"] as const) {
      grads(readout.m, name).forEach((g, i) => expect(g).toBeCloseTo(grads(shared.m, name)[i]!, 10));
    }
    const diff = grads(readout.m, "encoder").reduce((s, g, i) => s + Math.abs(g - grads(shared.m, "encoder")[i]!), 0);
    expect(diff).toBeGreaterThan(1e-6);
    expect(() => new FlowVAE({ flowHead: "both" as "shared" })).toThrow(
      /flowHead must be "readout", "shared" or "global", got both/,
    );
  });
  it("flowHead global: one set of flow parameters for every digit — a read-out head with zero weights, whose weights get no gradient", () => {
    const config = { inputs: 6, K: 2, latent: 3, hidden: 5, seed: 4, flowInit: "random" } as const;
    const global = new FlowVAE({ ...config, flowHead: "global" });
    const readout = new FlowVAE({ ...config, flowHead: "readout" });
    const head = global.flowParamsHead!,
      ref = readout.flowParamsHead!;
    expect(head.weight.data.every((v) => v === 0)).toBe(true);
    head.bias.data.forEach((_, i, a) => (a[i] = 0.3 * Math.sin(i + 1))); // flows well away from the identity
    ref.bias.data.set(head.bias.data);
    ref.weight.data.fill(0);
    const x = tensor([
      [1, 0, 1, 1, 0, 0],
      [0, 1, 1, 0, 1, 1],
    ]);
    const f = (m: FlowVAE) => m.freeEnergy(x, new Random(2));
    const a = f(global),
      b = f(readout);
    a.backward();
    b.backward();
    expect(a.item()).toBeCloseTo(b.item(), 12);
    head.bias.grad!.data.forEach((g, i) => expect(g).toBeCloseTo(ref.bias.grad!.data[i]!, 10));
    expect(head.weight.grad).toBeFalsy();
    // The bias's gradient (summed over the digits through the broadcast) against central differences.
    for (let i = 0; i < head.bias.size; i++) {
      const old = head.bias.data[i]!,
        h = 1e-5;
      head.bias.data[i] = old + h;
      const up = noGrad(() => f(global).item());
      head.bias.data[i] = old - h;
      const down = noGrad(() => f(global).item());
      head.bias.data[i] = old;
      expect(head.bias.grad!.data[i]!).toBeCloseTo((up - down) / (2 * h), 6);
    }
  });
  it("the asynchronous drivers run the same loops: fit2DAsync, estimateKLAsync, logPartitionAsync, trainVAEAsync and evaluateVAEAsync equal their synchronous twins on the CPU", async () => {
    const fit = { target: "U3", flow: "radial", K: 3, steps: 25, batchSize: 50, seed: 5 } as const;
    const fitted = fit2D(fit);
    expect((await fit2DAsync(fit)).losses).toEqual(fitted.losses);
    expect(await logPartitionAsync("U3", 200)).toBe(logPartition("U3", 200));
    expect(await estimateKLAsync(fitted.q, "U3", 1.5, 3000, 4)).toEqual(estimateKL(fitted.q, "U3", 1.5, 3000, 4));
    const rng = new Random(1);
    const images = Float64Array.from({ length: 120 * 10 }, () => (rng.uniform() < 0.3 ? 1 : 0));
    const train = () => ({ epochs: 2, batchSize: 40, validation: images.subarray(0, 40 * 10), seed: 2 });
    const a = trainVAE(new FlowVAE({ inputs: 10, latent: 2, hidden: 6, K: 2, seed: 3 }), images, train());
    const b = await trainVAEAsync(new FlowVAE({ inputs: 10, latent: 2, hidden: 6, K: 2, seed: 3 }), images, train());
    expect(b.losses).toEqual(a.losses);
    expect(b.validationLosses).toEqual(a.validationLosses);
    expect(b.losses.length).toBe(6);
    const model = new FlowVAE({ inputs: 10, latent: 2, hidden: 6, K: 2, seed: 3 });
    expect(await evaluateVAEAsync(model, images.subarray(0, 30 * 10), 7, 5)).toEqual(
      evaluateVAE(model, images.subarray(0, 30 * 10), 7, 5),
    );
  });

  it("paired differences: the mean of b − a and its standard error", () => {
    const d = pairedDifference(Float64Array.of(1, 2, 3), Float64Array.of(2, 2, 5)); // differences 1, 0, 2
    expect(d.mean).toBeCloseTo(1, 14);
    expect(d.standardError).toBeCloseTo(Math.sqrt(1 / 3), 14); // sample variance 2/(3 − 1) = 1, over n = 3
    expect(() => pairedDifference(Float64Array.of(1), Float64Array.of(1, 2))).toThrow(
      /equally long, non-empty lists, got 1 and 2/,
    );
  });
  it("annealedEpoch is the first epoch whose last update is at β = 1, by brute force over the schedule", () => {
    const lastStep = (epoch: number, perEpoch: number) => epoch * perEpoch - 1; // 0-based, epochs 1-based
    for (const T of [1, 2, 39, 40, 100, 1333, 10_000])
      for (const perEpoch of [1, 12, 80, 99, 100]) {
        const e = annealedEpoch(T, perEpoch);
        expect(annealedBeta(lastStep(e, perEpoch), T)).toBe(1);
        if (e > 1) expect(annealedBeta(lastStep(e - 1, perEpoch), T)).toBeLessThan(1);
      }
    // e.g. T = 100 in epochs of 99: epoch 1 ends at β = 0.01 + 98/100 = 0.99, so β = 1 from epoch 2
    expect(annealedEpoch(100, 99)).toBe(2);
    expect(annealedEpoch(0, 80)).toBe(0);
  });
  it("early stopping keeps the parameters of the epoch with the best validation bound", () => {
    // Trained on 100 copies of one digit, the model first learns what digits look like, then only
    // that digit: its bound on other digits gets better for a few epochs and then worse.
    const train = new Float64Array(100 * 784);
    for (let i = 0; i < 100; i++) train.set(data.train.images.subarray(0, 784), i * 784);
    const model = new FlowVAE({ K: 1, latent: 4, hidden: 16, seed: 5 });
    const snapshots: Float64Array[][] = [];
    const bests: Array<BestSoFar | null> = [];
    const result = trainVAE(model, train, {
      epochs: 40,
      batchSize: 50,
      lr: 1e-2,
      validation: data.train.images.subarray(8000 * 784, 8200 * 784),
      patience: 3,
      onEpoch: (_epoch, _v, best) => {
        snapshots.push(model.parameters().map((p) => Float64Array.from(p.data)));
        bests.push(best);
      },
    });
    expect(result.validationLosses.length).toBe(result.epochsRun);
    expect(snapshots.length).toBe(result.epochsRun);
    const best = result.validationLosses.indexOf(Math.min(...result.validationLosses));
    expect(result.bestEpoch).toBe(best + 1);
    // onEpoch is told the best so far after each epoch: the running minimum and its epoch.
    bests.forEach((b, e) => {
      const upTo = result.validationLosses.slice(0, e + 1);
      const epoch = upTo.indexOf(Math.min(...upTo)) + 1;
      expect(b).toEqual({ loss: Math.min(...upTo), epoch, countsFrom: epoch }); // no annealing: patience counts from the best
    });
    // It stopped early, `patience` epochs after the best one, holding the best epoch's parameters.
    expect(result.epochsRun).toBeLessThan(40);
    expect(result.epochsRun).toBe(result.bestEpoch + 3);
    model.parameters().forEach((p, i) => expect(Array.from(p.data)).toEqual(Array.from(snapshots[best]![i]!)));
    expect(() => trainVAE(model, train, { epochs: 1, patience: 0 })).toThrow(
      /patience must be at least 1 epoch, got 0/,
    );
    expect(() => trainVAE(model, train, { epochs: 1, validation: new Float64Array(5) })).toThrow(
      /validation: 5 values are not whole images of 784 pixels/,
    );
  }, 60_000);
  it("scoreStart: a run from trained parameters keeps them when no epoch beats them, and changes nothing else", () => {
    const train = data.train.images.subarray(0, 500 * 784),
      validation = data.train.images.subarray(8000 * 784, 8200 * 784);
    const trained = new FlowVAE({ K: 2, latent: 4, hidden: 16, seed: 5 });
    trainVAE(trained, train, { epochs: 8, batchSize: 50, lr: 1e-2, validation, patience: 3 });
    const start = trained.parameters().map((p) => Float64Array.from(p.data));
    const from = () => {
      const m = new FlowVAE({ K: 2, latent: 4, hidden: 16, seed: 6 });
      m.startFrom(trained, { flow: true });
      return m;
    };
    // A rate far too high: every epoch is worse than the trained start.
    const worse = { epochs: 6, batchSize: 50, lr: 0.05, validation, patience: 3, seed: 4 };
    const kept = from(),
      plain = from();
    const k = trainVAE(kept, train, { ...worse, scoreStart: true });
    const p = trainVAE(plain, train, worse);
    expect(k.bestEpoch).toBe(0);
    expect(k.startValidationLoss).toBeLessThan(Math.min(...k.validationLosses));
    expect(k.epochsRun).toBe(3); // patience counts from the start
    kept.parameters().forEach((q, i) => expect(Array.from(q.data)).toEqual(Array.from(start[i]!)));
    // Without it, the run keeps its best epoch, worse than where it started.
    expect(p.bestEpoch).toBeGreaterThan(0);
    expect(p.startValidationLoss).toBeNull();
    expect(Array.from(plain.parameters()[0]!.data)).not.toEqual(Array.from(start[0]!));
    // Scoring the start draws nothing from training's random numbers: the epochs are the same.
    expect(k.losses).toEqual(p.losses.slice(0, k.losses.length));
    expect(k.validationLosses).toEqual(p.validationLosses.slice(0, k.epochsRun));
  }, 60_000);
  it("dynamic binarisation trains on fresh draws of the grey digits", () => {
    const model = new FlowVAE({ K: 1, latent: 4, hidden: 16, seed: 5 });
    const test = data.test.images.subarray(0, 100 * 784);
    const before = evaluateVAE(model, test, 5);
    trainVAE(model, data.train.intensities.subarray(0, 1000 * 784), {
      epochs: 2,
      batchSize: 50,
      lr: 3e-3,
      binarize: "dynamic",
    });
    expect(evaluateVAE(model, test, 5).negativeElbo).toBeLessThan(before.negativeElbo - 50);
    expect(
      () => trainVAE(model, test, { epochs: 1, binarize: "dynamic", batchSize: 100 }),
      "binary digits are valid intensities",
    ).not.toThrow();
    expect(() => trainVAE(model, test, { epochs: 1, binarize: "sometimes" as "dynamic" })).toThrow(
      /binarize must be "fixed" or "dynamic", got sometimes/,
    );
  }, 60_000);
  it("flowLrScale: the flow's parameters move by that multiple of what the others' Adam steps allow", () => {
    const images = data.train.images.subarray(0, 100 * 784);
    const moved = (flowLrScale: number) => {
      const model = new FlowVAE({ K: 2, latent: 3, hidden: 8, seed: 6, flowInit: "random" });
      const start = model.parameters().map((p) => Float64Array.from(p.data));
      trainVAE(model, images, { epochs: 1, batchSize: 100, lr: 1e-3, flowLrScale });
      // One Adam step moves each element by lr·g/(|g| + ε) ≈ lr: the largest move per group.
      const largest = (ps: Tensor[]) =>
        Math.max(
          ...ps.map((p) => Math.max(...p.data.map((v, i) => Math.abs(v - start[model.parameters().indexOf(p)]![i]!)))),
        );
      const flow = model.flowParameters();
      return { flow: largest(flow), rest: largest(model.parameters().filter((p) => !flow.includes(p))) };
    };
    for (const scale of [1, 0.01]) {
      const m = moved(scale);
      expect(m.rest).toBeCloseTo(1e-3, 5);
      expect(m.flow).toBeCloseTo(scale * 1e-3, 5);
    }
  });
  it("startFrom: a K-layer model takes a trained model's encoder, head and decoder; with its flow at the identity it draws what that model draws", () => {
    const images = data.train.images.subarray(0, 100 * 784);
    const trained = new FlowVAE({ K: 0, latent: 3, hidden: 8, seed: 4 });
    trainVAE(trained, images, { epochs: 1, batchSize: 50 }); // away from any seed's initialisation
    const x = new Tensor(images.slice(0, 4 * 784), [4, 784]);
    for (const flow of ["planar", "radial", "nice"] as const) {
      const model = new FlowVAE({ K: 3, latent: 3, hidden: 8, seed: 9, flow });
      model.startFrom(trained);
      for (const name of ["encoder", "decoder", "head"] as const)
        expect(model[name].parameters().map((p) => Array.from(p.data))).toEqual(
          trained[name].parameters().map((p) => Array.from(p.data)),
        );
      const a = trained.draw(x, new Random(3)),
        b = model.draw(x, new Random(3));
      expect(Array.from(b.logQ.data)).toEqual(Array.from(a.logQ.data).map((v) => expect.closeTo(v, 10)));
      expect(Array.from(b.logJoint.data)).toEqual(Array.from(a.logJoint.data).map((v) => expect.closeTo(v, 10)));
    }
    expect(() => new FlowVAE({ K: 2, latent: 4, hidden: 8 }).startFrom(trained)).toThrow(
      /startFrom: the trained model differs in latent \(3, here 4\)/,
    );
  });
  it("startFrom with flow: a longer flow grown from a trained one draws what the trained one draws, its extra layers at the identity", () => {
    const images = data.train.images.subarray(0, 100 * 784);
    const x = new Tensor(images.slice(0, 4 * 784), [4, 784]);
    for (const flow of ["planar", "radial", "nice"] as const) {
      const trained = new FlowVAE({ K: 2, latent: 3, hidden: 8, seed: 4, flow, flowInit: "random" });
      trainVAE(trained, images, { epochs: 1, batchSize: 50 });
      const grown = new FlowVAE({ K: 5, latent: 3, hidden: 8, seed: 9, flow });
      grown.startFrom(trained, { flow: true });
      const diagonalOnly = new FlowVAE({ K: 5, latent: 3, hidden: 8, seed: 9, flow });
      diagonalOnly.startFrom(trained);
      const a = trained.draw(x, new Random(3)),
        b = grown.draw(x, new Random(3)),
        c = diagonalOnly.draw(x, new Random(3));
      expect(Array.from(b.logQ.data)).toEqual(Array.from(a.logQ.data).map((v) => expect.closeTo(v, 10)));
      expect(Array.from(b.logJoint.data)).toEqual(Array.from(a.logJoint.data).map((v) => expect.closeTo(v, 10)));
      // Without the flow the same start draws something else: the trained layers do move z.
      const moved = Math.max(...Array.from(c.logJoint.data, (v, i) => Math.abs(v - a.logJoint.data[i]!)));
      expect(moved, flow).toBeGreaterThan(1e-3);
    }
    const planar = new FlowVAE({ K: 3, latent: 3, hidden: 8, flow: "planar" });
    expect(() => new FlowVAE({ K: 2, latent: 3, hidden: 8, flow: "planar" }).startFrom(planar, { flow: true })).toThrow(
      /a planar flow with K = 3 .* cannot start a planar flow with K = 2/,
    );
    expect(() => new FlowVAE({ K: 4, latent: 3, hidden: 8, flow: "radial" }).startFrom(planar, { flow: true })).toThrow(
      /a planar flow with K = 3 .* cannot start a radial flow with K = 4/,
    );
    expect(() =>
      new FlowVAE({ K: 4, latent: 3, hidden: 8, flow: "planar", flowHead: "global" }).startFrom(planar, { flow: true }),
    ).toThrow(/\(head "readout"\) cannot start a planar flow with K = 4 \(head "global"\)/);
    const nice = new FlowVAE({ K: 1, latent: 3, hidden: 8, flow: "nice" });
    expect(() =>
      new FlowVAE({ K: 2, latent: 3, hidden: 8, flow: "nice", niceHidden: [7] }).startFrom(nice, { flow: true }),
    ).toThrow(/NICE couplings of hidden sizes \[50\] cannot start \[7\]/);
  });
  it("fixedGenerative: the decoder stays as it was, bit for bit, and the rest takes the steps it takes when everything trains", () => {
    const images = data.train.images.subarray(0, 100 * 784);
    const oneStep = (fixedGenerative: boolean) => {
      const model = new FlowVAE({ K: 2, latent: 3, hidden: 8, seed: 6, stochasticLayers: 2, flowInit: "random" });
      const start = model.parameters().map((p) => Float64Array.from(p.data));
      trainVAE(model, images, { epochs: 1, batchSize: 100, fixedGenerative }); // one update
      return { model, start };
    };
    const fixed = oneStep(true),
      free = oneStep(false);
    const generative = new Set(fixed.model.generativeParameters());
    expect(generative.size).toBe(fixed.model.decoder.parameters().length + fixed.model.prior!.parameters().length);
    fixed.model.parameters().forEach((p, i) => {
      const other = free.model.parameters()[i]!;
      if (generative.has(p)) {
        expect(Array.from(p.data)).toEqual(Array.from(fixed.start[i]!)); // not moved
        expect(Array.from(other.data)).not.toEqual(Array.from(free.start[i]!)); // moved when trained
      } else {
        // A first Adam step depends on a parameter's own gradient alone, which fixing others leaves alone.
        expect(Array.from(p.data)).toEqual(Array.from(other.data).map((v) => expect.closeTo(v, 12)));
        expect(Array.from(p.data)).not.toEqual(Array.from(fixed.start[i]!));
      }
      expect(p.requiresGrad).toBe(true); // given back after training
    });
  });
  it("recordGradNorms changes no value and summarises each epoch's norms; clipNorm counts the updates it clips and resumes bit for bit", () => {
    const make = () => new FlowVAE({ K: 2, latent: 4, hidden: 16, seed: 8 });
    const train = data.train.images.subarray(0, 600 * 784),
      validation = data.train.images.subarray(600 * 784, 700 * 784);
    const options = { epochs: 2, batchSize: 50, lr: 2e-3, validation, binarize: "fixed" as const };
    const plain = trainVAE(make(), train, options);
    expect([plain.gradNorms, plain.clippedSteps]).toEqual([[], []]);
    // Every update's norm, by hand in float64, read from the gradients the update stepped on.
    const model = make(),
      byHand: number[] = [];
    const recorded = trainVAE(model, train, {
      ...options,
      recordGradNorms: true,
      onStep: () => {
        let total = 0;
        for (const p of model.parameters()) for (const g of p.grad!.data) total += g * g;
        byHand.push(Math.sqrt(total));
      },
    });
    expect(recorded.losses).toEqual(plain.losses);
    expect(recorded.validationLosses).toEqual(plain.validationLosses);
    expect(recorded.gradNorms).toHaveLength(2);
    recorded.gradNorms.forEach((summary, e) => {
      const epoch = byHand.slice(e * 12, (e + 1) * 12),
        sorted = [...epoch].sort((x, y) => x - y);
      expect(summary.median).toBeCloseTo((sorted[5]! + sorted[6]!) / 2, 9);
      expect(summary.p90).toBeCloseTo(sorted[10]!, 9); // nearest rank: ⌈0.9 · 12⌉ = 11th
      expect(summary.max).toBeCloseTo(sorted[11]!, 9);
      expect(summary.maxStep).toBe(e * 12 + 1 + epoch.indexOf(sorted[11]!));
    });
    // A threshold above every norm clips nothing and changes nothing; one below every norm clips every update.
    const above = trainVAE(make(), train, { ...options, clipNorm: 2 * Math.max(...byHand) });
    expect(above.clippedSteps).toEqual([0, 0]);
    expect(above.losses).toEqual(plain.losses);
    const below = trainVAE(make(), train, { ...options, clipNorm: Math.min(...byHand) / 2 });
    expect(below.clippedSteps).toEqual([12, 12]);
    expect(below.losses[0]).toBe(plain.losses[0]); // the first update's loss is computed before any clipping
    expect(below.losses[1]).not.toBe(plain.losses[1]);
    // Interrupted after epoch 1 and resumed from its checkpoint: the same run, counts and norms included.
    const clipNorm = recorded.gradNorms[0]!.median;
    const whole = trainVAE(make(), train, { ...options, clipNorm });
    expect(whole.clippedSteps[0]).toBeGreaterThan(0);
    let saved = "";
    trainVAE(make(), train, { ...options, clipNorm, epochs: 1, checkpoint: (c) => (saved = JSON.stringify(c)) });
    const rest = trainVAE(make(), train, { ...options, clipNorm, resume: JSON.parse(saved) });
    expect([rest.losses, rest.clippedSteps, rest.gradNorms]).toEqual([
      whole.losses,
      whole.clippedSteps,
      whole.gradNorms,
    ]);
    expect(() => trainVAE(make(), train, { ...options, clipNorm: 0 })).toThrow(
      /trainVAE: the clipping norm must be a positive finite number, got 0/,
    );
  });
  it("summariseGradNorms: median, nearest-rank 90th percentile, largest and its update", () => {
    expect(summariseGradNorms([3, 1, 2], 10)).toEqual({ median: 2, p90: 3, max: 3, maxStep: 10 });
    const ten = [5, 9, 1, 7, 3, 10, 2, 8, 4, 6];
    expect(summariseGradNorms(ten, 1)).toEqual({ median: 5.5, p90: 9, max: 10, maxStep: 6 });
    expect(() => summariseGradNorms([], 1)).toThrow(/no norms/);
  });
  it("a file from before the flow head was its own layer (flow columns at the end of head) loads as the same model", () => {
    const model = new FlowVAE({ inputs: 6, K: 2, latent: 3, hidden: 4, seed: 7, flowInit: "random" });
    saveVAE(path.join(tmp, "new.model.json"), model);
    const file = JSON.parse(readFileSync(path.join(tmp, "new.model.json"), "utf8"));
    const p = file.parameters.parameters;
    const [gw, fw, gb, fb] = [p["head.weight"], p["flowParamsHead.weight"], p["head.bias"], p["flowParamsHead.bias"]];
    const width = 6 + 14; // μ, log σ (2·3) then two planar layers (2·3 + 1 each)
    p["head.weight"] = {
      ...gw,
      shape: [4, width],
      data: Array.from({ length: 4 }, (_, r) => [
        ...gw.data.slice(r * 6, r * 6 + 6),
        ...fw.data.slice(r * 14, r * 14 + 14),
      ]).flat(),
    };
    p["head.bias"] = { ...gb, shape: [width], data: [...gb.data, ...fb.data] };
    delete p["flowParamsHead.weight"];
    delete p["flowParamsHead.bias"];
    writeFileSync(path.join(tmp, "old.model.json"), JSON.stringify(file));
    const loaded = loadVAE(path.join(tmp, "old.model.json"));
    for (const [name, t] of model.namedParameters())
      expect(Array.from(loaded.namedParameters().find(([n]) => n === name)![1].data), name).toEqual(Array.from(t.data));
  });
  it("a damaged model file is refused with the reason, and nothing is half-loaded", () => {
    const model = new FlowVAE({ K: 1, latent: 4, hidden: 8 });
    const file = path.join(tmp, "ok.model.json");
    saveVAE(file, model);
    const content = JSON.parse(readFileSync(file, "utf8"));
    content.parameters.parameters["decoder.0.weight"].shape = [5, 8];
    writeFileSync(path.join(tmp, "bad.model.json"), JSON.stringify(content));
    expect(() => loadVAE(path.join(tmp, "bad.model.json"))).toThrow(
      /parameter "decoder.0.weight" has shape \[5, 8\] in the file, the module expects \[4, 8\]/,
    );
    content.manifest.config.K = -1;
    writeFileSync(path.join(tmp, "bad2.model.json"), JSON.stringify(content));
    expect(() => loadVAE(path.join(tmp, "bad2.model.json"))).toThrow(
      /invalid configuration: FlowVAE: K must be a non-negative integer, got -1/,
    );
    expect(() => loadVAE(path.join(tmp, "missing.json"))).toThrow(/cannot read model file .*missing.json: ENOENT/);
  });
});
