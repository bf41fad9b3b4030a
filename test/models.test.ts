import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { Random, tensor } from "../src/autograd/index.js";
import {
  boundWithLayers,
  ENERGIES,
  estimateKL,
  evaluateVAE,
  fit2D,
  fittedEnergy,
  labelledGrid,
  logPartition,
  makeFlow2D,
  planarLayerStats,
  sampleBinary,
} from "../src/models/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { loadVAEFile } from "../src/node/model-files.js";
import { cliHarness, expectClose } from "./helpers.js";

// Independent plain-JS transcriptions of Table 1 of the paper.
const w1 = (z1: number) => Math.sin((2 * Math.PI * z1) / 4);
const w2 = (z1: number) => 3 * Math.exp(-0.5 * ((z1 - 1) / 0.6) ** 2);
const w3 = (z1: number) => 3 / (1 + Math.exp(-(z1 - 1) / 0.3));
const table1 = {
  U1: (a: number, b: number) =>
    0.5 * ((Math.hypot(a, b) - 2) / 0.4) ** 2 -
    Math.log(Math.exp(-0.5 * ((a - 2) / 0.6) ** 2) + Math.exp(-0.5 * ((a + 2) / 0.6) ** 2)),
  U2: (a: number, b: number) => 0.5 * ((b - w1(a)) / 0.4) ** 2,
  U3: (a: number, b: number) =>
    -Math.log(Math.exp(-0.5 * ((b - w1(a)) / 0.35) ** 2) + Math.exp(-0.5 * ((b - w1(a) + w2(a)) / 0.35) ** 2)),
  U4: (a: number, b: number) =>
    -Math.log(Math.exp(-0.5 * ((b - w1(a)) / 0.4) ** 2) + Math.exp(-0.5 * ((b - w1(a) + w3(a)) / 0.35) ** 2)),
};

describe("the paper's 2-D energies", () => {
  const pts = [
    [0.3, -1.2],
    [2, 0],
    [-1.7, 2.4],
    [3.9, -3.9],
    [0, 0.01],
  ];
  for (const name of ["U1", "U2", "U3", "U4"] as const) {
    it(`${name} matches Table 1`, () => {
      const U = ENERGIES[name](tensor(pts));
      expectClose(
        U.data,
        pts.map(([a, b]) => table1[name](a!, b!)),
        1e-12,
        1e-12,
      );
      // Inside the box the fitted energy is the paper's; outside, U2–U4 get the wall.
      expectClose(fittedEnergy(name)(tensor(pts)).data, U.data, 0, 0);
    });
  }
  it("ln Z of the walled U2 equals its closed form", () => {
    // ∫ e^{−½((z2 − w1)/0.4)²} dz2 = 0.4√(2π) for every z1; along z1: 8 inside the box + 0.1√(2π) from the two walls.
    const exact = Math.log((8 + 0.1 * Math.sqrt(2 * Math.PI)) * 0.4 * Math.sqrt(2 * Math.PI));
    expect(Math.abs(logPartition("U2") - exact)).toBeLessThan(1e-6);
  });
  it("ln Z of U1 by quadrature is stable under refinement", () => {
    expect(Math.abs(logPartition("U1", 600) - logPartition("U1", 1250))).toBeLessThan(1e-6);
  });
});

describe("fitting the annealed free energy", () => {
  it("a short planar fit of U1 lowers KL(q‖p) well below the base distribution's", () => {
    const logZ = logPartition("U1", 600);
    const before = estimateKL(makeFlow2D("planar", 4, new Random(0)), "U1", logZ, 20_000);
    const { q, losses } = fit2D({ target: "U1", flow: "planar", K: 4, steps: 600, batchSize: 100, lr: 0.02, seed: 0 });
    const after = estimateKL(q, "U1", logZ, 20_000);
    expect(after.kl).toBeGreaterThan(-3 * after.standardError); // a KL is never negative
    expect(after.kl).toBeLessThan(before.kl / 2);
    expect(losses.every(Number.isFinite)).toBe(true);
  });
  it("radial flows train too", () => {
    const logZ = logPartition("U1", 600);
    const before = estimateKL(makeFlow2D("radial", 4, new Random(1)), "U1", logZ, 20_000);
    const { q } = fit2D({
      target: "U1",
      flow: "radial",
      K: 4,
      steps: 400,
      batchSize: 100,
      lr: 0.02,
      seed: 1,
      annealSteps: 1,
    });
    expect(estimateKL(q, "U1", logZ, 20_000).kl).toBeLessThan(before.kl / 2);
  });
  it("rejects bad settings by name", () => {
    expect(() => makeFlow2D("planar", 0, new Random(0))).toThrow(/K must be a positive integer, got 0/);
    expect(() => makeFlow2D("spline" as never, 2, new Random(0))).toThrow(/unknown flow "spline"/);
    expect(() => fit2D({ target: "U9" as never, flow: "planar", K: 2, steps: 10 })).toThrow(
      /unknown target "U9"; choose one of U1, U2, U3, U4/,
    );
  });
});

describe("the flowgrad command", () => {
  const { cli, tmp, run } = cliHarness("flowgrad-cli-");
  /** A vae run small enough for a test: K = 0 and 1, a 4-D latent, 8 hidden units, 3 epochs on 400 digits. */
  const tinyVae = (out: string, ...extra: string[]) => [
    "vae",
    "--K",
    "0,1",
    "--latent",
    "4",
    "--hidden",
    "8",
    "--epochs",
    "3",
    "--train-count",
    "400",
    "--validation",
    "100",
    ...extra,
    "--out",
    out,
  ];

  it("fits, prints the KL table and writes JSON, model and PNG atomically", () => {
    const r = run("fit", "--target", "U1", "--K", "2", "--steps", "200", "--kl-samples", "2000", "--out", "out");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| U1 \| planar \| 2 \| \d+\.\d{4} \|/);
    const files = readdirSync(path.join(tmp, "out")).sort();
    expect(files).toEqual(["U1-planar-K2.json", "U1-planar-K2.model.json", "U1-planar-K2.png"]); // no temporaries left
    const record = JSON.parse(readFileSync(path.join(tmp, "out/U1-planar-K2.json"), "utf8"));
    expect(record.kl.samples).toBe(2000);
    expect(readFileSync(path.join(tmp, "out/U1-planar-K2.png")).subarray(1, 4).toString()).toBe("PNG");
  }, 60_000);
  it("langevin simulates particles and prints their Stein discrepancy against time beside exact samples", () => {
    const r = run(
      "langevin",
      "--target",
      "U2",
      "--particles",
      "60",
      "--steps",
      "40",
      "--adjusted",
      "--out",
      "langevin",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| 0\.40 \| 40 \| -?\d+\.\d{5} \| \d+\.\d{5} \|/);
    expect(r.stdout).toMatch(/\| exact samples of p \| \|/);
    expect(readdirSync(path.join(tmp, "langevin")).sort()).toEqual(["U2-langevin-mala.json", "U2-langevin-mala.png"]);
    const record = JSON.parse(readFileSync(path.join(tmp, "langevin/U2-langevin-mala.json"), "utf8"));
    expect(record.rows.map((x: { step: number }) => x.step)).toEqual([0, 10, 30, 40]);
    expect(record.acceptance).toBeGreaterThan(0);
  }, 60_000);
  it("figure draws saved fits of several kinds into one image, a row per target; a model file of another kind is refused", () => {
    for (const [flow, K] of [
      ["cnf", "4"],
      ["hamiltonian", "2"],
    ]) {
      const r = run(
        "fit",
        "--flow",
        flow!,
        "--K",
        K!,
        "--ode-steps",
        "2",
        "--steps",
        "20",
        "--kl-samples",
        "500",
        "--out",
        "fig",
      );
      expect(r.status, r.stderr).toBe(0);
    }
    const r = run(
      "figure",
      "--models",
      "fig/U1-cnf-K4.model.json,fig/U1-hamiltonian-K2.model.json",
      "--out",
      "fig/flows.png",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/U1: CNF \(4 hidden\), Hamiltonian K = 2/);
    // 3 columns, 1 row, laid out as labelledGrid lays them out, with the titles inked above the panels.
    const png = PNG.sync.read(readFileSync(path.join(tmp, "fig/flows.png")));
    const grid = labelledGrid(["U1"], ["true density", "CNF (4 hidden)", "Hamiltonian K = 2"], 128);
    expect([png.width, png.height]).toEqual([grid.image.width, grid.image.height]);
    for (let column = 0; column < 3; column++) {
      const { left, top } = grid.at(0, column);
      let ink = 0;
      for (let y = 0; y < top; y++)
        for (let x = left; x < left + 128; x++) if (png.data[4 * (y * png.width + x)]! < 128) ink++;
      expect(ink, `title of column ${column}`).toBeGreaterThan(20);
    }
    writeFileSync(
      path.join(tmp, "fig/vae.model.json"),
      JSON.stringify({ manifest: { kind: "flowgrad.vae", version: 1, config: {} }, parameters: {} }),
    );
    const bad = run("figure", "--models", "fig/vae.model.json");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/is not a flowgrad 2-D fit model file/);
  }, 90_000);
  it("fit --flow cnf trains a continuous flow (by the adjoint method here) and records its parameter count and field evaluations", () => {
    const r = run(
      "fit",
      "--flow",
      "cnf",
      "--K",
      "4",
      "--ode-steps",
      "2",
      "--trace",
      "hutchinson",
      "--gradient",
      "adjoint",
      "--steps",
      "20",
      "--kl-samples",
      "1000",
      "--out",
      "cnf",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| U1 \| cnf \| 4 \| \d+\.\d{4} \|/);
    const record = JSON.parse(readFileSync(path.join(tmp, "cnf/U1-cnf-K4.json"), "utf8"));
    expect(record.cnf).toEqual({ solver: "rk4", steps: 2, trace: "hutchinson", gradient: "adjoint" });
    expect(record.parameters).toBe(3 * 4 + 4 + 4 * 4 + 4 + 4 * 2 + 2); // MLP 3-4-4-2
    expect(record.fieldEvaluations).toBe(8); // 2 RK4 steps of 4 evaluations, for the KL estimate's last batch
  }, 60_000);
  it("vae: trains with early stopping and dynamic binarisation, writes the table, JSON, model and digits", () => {
    const r = run(...tinyVae("vae", "--binarize", "dynamic", "--samples", "5"));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /\| planar \| 1 \| 1 \| [1-3] \/ [1-3] \((epochs|early-stopping)\) \| \d+\.\d\d \| \d+\.\d\d \|/,
    );
    // The evaluation announces its size (S = 5 is already short: no advice to shorten it) …
    expect(r.stdout).toMatch(
      /vae planar K=1: estimating test −ln p\(x\) by importance sampling, S = 5 per digit on \d+ digits/,
    );
    expect(r.stdout).not.toMatch(/--samples 20 takes a tenth/);
    // … and the run ends by listing every file it wrote.
    const listed = r.stdout
      .slice(r.stdout.lastIndexOf("written:"))
      .split("\n")
      .slice(1)
      .map((l) => path.basename(l.trim()))
      .filter(Boolean);
    expect(listed.sort()).toEqual(readdirSync(path.join(tmp, "vae")).sort());
    expect(readdirSync(path.join(tmp, "vae")).sort()).toEqual([
      "vae-planar-K0-L1.model.json",
      "vae-planar-K0-L1.samples.png",
      "vae-planar-K1-L1.model.json",
      "vae-planar-K1-L1.samples.png",
      "vae-planar-L1.json",
    ]);
    const { records } = JSON.parse(readFileSync(path.join(tmp, "vae/vae-planar-L1.json"), "utf8"));
    for (const rec of records) {
      expect(rec.binarize).toBe("dynamic");
      expect(rec.validationLosses.length).toBe(rec.epochsRun);
      expect(rec.validationLosses[rec.bestEpoch - 1]).toBe(Math.min(...rec.validationLosses));
      expect(rec.negLogLikelihood).toBeLessThan(rec.negativeElbo);
      expect(rec.stoppedBy).toBe(rec.epochsRun < 3 ? "early-stopping" : "epochs");
      // Every test digit's −ln p(x), so runs can be paired later; their mean is the estimate.
      const mean = rec.perExample.reduce((a: number, b: number) => a + b, 0) / rec.perExample.length;
      expect(mean).toBeCloseTo(rec.negLogLikelihood, 3);
    }
    expect(r.stdout).toMatch(
      /K=1 − K=0: [+-]\d+\.\d\d ± \d+\.\d\d nats of −ln p\(x\), paired over the same test digits/,
    );
    // compare: the saved models scored again on the same digits give the same numbers.
    const c = run(
      "compare",
      "--models",
      "vae/vae-planar-K0-L1.model.json,vae/vae-planar-K1-L1.model.json",
      "--samples",
      "5",
      "--out",
      "vae/compare.json",
    );
    expect(c.status, c.stderr).toBe(0);
    const compared = JSON.parse(readFileSync(path.join(tmp, "vae/compare.json"), "utf8"));
    expect(compared.binarize).toBe("dynamic"); // read from the model files
    expect(compared.models.map((m: { negLogLikelihood: number }) => m.negLogLikelihood)).toEqual(
      records.map((rec: { negLogLikelihood: number }) => rec.negLogLikelihood),
    );
    const { paired } = JSON.parse(readFileSync(path.join(tmp, "vae/vae-planar-L1.json"), "utf8"));
    expect(compared.paired[0].meanDifference).toBeCloseTo(paired[0].meanDifference, 10);
    expect(paired[0].meanDifference).toBeCloseTo(records[1].negLogLikelihood - records[0].negLogLikelihood, 10);
    // --split train: the 300 digits the models were fitted on (400 − 100 held out), one fixed draw
    // of their binarisation; scored here again from the MNIST intensities, not through the CLI.
    const models = "vae/vae-planar-K0-L1.model.json,vae/vae-planar-K1-L1.model.json";
    const t = run("compare", "--models", models, "--samples", "5", "--split", "train", "--out", "vae/train.json");
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/paired over the same training digits/);
    const onTrain = JSON.parse(readFileSync(path.join(tmp, "vae/train.json"), "utf8"));
    expect([onTrain.split, onTrain.digits]).toEqual(["train", 300]);
    const fitted = sampleBinary(loadMnist().train.intensities.subarray(0, 300 * 784), new Random(2017));
    const { model } = loadVAEFile(path.join(tmp, "vae/vae-planar-K1-L1.model.json"));
    expect(onTrain.models[1].negLogLikelihood).toBeCloseTo(evaluateVAE(model, fitted, 5, 99).negLogLikelihood, 10);
    // --count takes the first digits of the split, and no more than it has.
    const few = run("compare", "--models", models, "--samples", "5", "--count", "20", "--out", "vae/few.json");
    expect(few.status, few.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(tmp, "vae/few.json"), "utf8")).models[0].examples).toBe(20);
    const tooMany = run("compare", "--models", models, "--split", "train", "--count", "301");
    expect(tooMany.status).toBe(1);
    expect(tooMany.stderr).toMatch(/--count 301: the train digits number 300/);
    // posterior: per-digit fits on K = 0's decoder; a second run with one more K keeps the first ones.
    const fitArgs = ["posterior", "--model", "vae/vae-planar-K0-L1.model.json", "--digits", "3", "--steps", "5"];
    const post = run(...fitArgs, "--K", "0,1", "--eval-samples", "10", "--out", "vae/post.json");
    expect(post.status, post.stderr).toBe(0);
    expect(post.stdout).toMatch(/\| 1 \| \d+\.\d\d \| [+−]\d+\.\d\d ± \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \|/);
    const again = run(...fitArgs, "--K", "0,1,2", "--eval-samples", "10", "--out", "vae/post.json");
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/K=1: fitted before/);
    const fits = JSON.parse(readFileSync(path.join(tmp, "vae/post.json"), "utf8"));
    expect(fits.records.map((r: { K: number }) => r.K)).toEqual([0, 1, 2]);
    for (const r of fits.records) expect(r.perExample).toHaveLength(3);
    const tooManyDigits = run(...fitArgs.slice(0, 3), "--digits", "5000");
    expect(tooManyDigits.status).toBe(1);
    expect(tooManyDigits.stderr).toMatch(/--digits 5000: there are 1000 test digits/);
    // layers: the planar layer of K = 1 on the first test digits (the dynamic model's fixed draw of them), as planarLayerStats reads it.
    const lay = run(
      "layers",
      "--model",
      "vae/vae-planar-K1-L1.model.json",
      "--digits",
      "4",
      "--draws",
      "3",
      "--out",
      "vae/layers.json",
    );
    expect(lay.status, lay.stderr).toBe(0);
    expect(lay.stdout).toMatch(/\| 1 \| -?\d+\.\d{3} \| \d+\.\d{3} \| \d+% \| \d+% \|/);
    const layers = JSON.parse(readFileSync(path.join(tmp, "vae/layers.json"), "utf8"));
    const digits = sampleBinary(loadMnist().test.intensities, new Random(2015)).subarray(0, 4 * 784);
    const direct = planarLayerStats(loadVAEFile(path.join(tmp, "vae/vae-planar-K1-L1.model.json")).model, digits, {
      draws: 3,
    });
    expect(layers.layers).toEqual(direct.layers);
    const k1 = loadVAEFile(path.join(tmp, "vae/vae-planar-K1-L1.model.json")).model;
    expect(layers.bounds.all).toBe(boundWithLayers(k1, digits, () => true, { draws: 3 }));
    expect(layers.bounds.none).toBe(boundWithLayers(k1, digits, () => false, { draws: 3 }));
    expect(lay.stdout).toMatch(/the bound \(−ELBO, these draws\): every layer \d+\.\d\d; only the [01] that translate/);
    expect(layers.training.negLogLikelihood).toBe(records[1].negLogLikelihood);
    const noFlow = run("layers", "--model", "vae/vae-planar-K0-L1.model.json");
    expect(noFlow.status).toBe(1);
    expect(noFlow.stderr).toMatch(/layers reads planar flows; this model's q\(z\|x\) is diagonal/);
    // --start-from with --fixed-decoder: K = 1 trains q(z|x) on K = 0's saved decoder, which it keeps.
    const base = "vae/vae-planar-K0-L1.model.json";
    const fixed = run(...tinyVae("fixed", "--K", "1", "--start-from", base, "--fixed-decoder", "--samples", "2"));
    expect(fixed.status, fixed.stderr).toBe(0);
    const decoder = (file: string) =>
      loadVAEFile(path.join(tmp, file))
        .model.decoder.parameters()
        .map((p) => Array.from(p.data));
    expect(decoder("fixed/vae-planar-K1-L1.model.json")).toEqual(decoder(base));
    const settings = JSON.parse(readFileSync(path.join(tmp, "fixed/vae-planar-L1.json"), "utf8")).settings;
    expect([settings.startFrom, settings.fixedDecoder]).toEqual([base, true]);
    // --keep-flow: K = 2 grows from K = 1's saved flow, whose head columns it starts with.
    // (--lr 1e-12: its one epoch of training leaves every parameter where it started, to 1e-9)
    const k1File = "vae/vae-planar-K1-L1.model.json";
    const grown = run(
      ...tinyVae("grown", "--K", "2", "--start-from", k1File, "--keep-flow", "--epochs", "1", "--lr", "1e-12"),
    );
    expect(grown.status, grown.stderr).toBe(0);
    const head = (file: string) => loadVAEFile(path.join(tmp, file)).model.flowParamsHead!;
    const before = head(k1File),
      after = head("grown/vae-planar-K2-L1.model.json");
    expect(Array.from(after.bias.data.subarray(0, before.outFeatures))).toEqual(
      Array.from(before.bias.data, (v) => expect.closeTo(v, 9)),
    );
    const grownRun = JSON.parse(readFileSync(path.join(tmp, "grown/vae-planar-L1.json"), "utf8"));
    expect(grownRun.settings.keepFlow).toBe(true);
    // A run from a saved model scores its start as epoch 0, on the validation draws every epoch
    // uses: here epoch 1's parameters are the start's (to 1e-9), so their bounds agree.
    const [g] = grownRun.records;
    expect(g.startValidationLoss).toBeCloseTo(g.validationLosses[0], 5);
    expect(JSON.parse(readFileSync(path.join(tmp, "fixed/vae-planar-L1.json"), "utf8")).records[0]).toHaveProperty(
      "startValidationLoss",
    );
    const noStart = run(...tinyVae("nostart", "--K", "2", "--keep-flow"));
    expect(noStart.status).toBe(1);
    expect(noStart.stderr).toMatch(/--keep-flow takes the flow of the model given with --start-from/);
    const shorter = run(...tinyVae("shorter", "--K", "0", "--start-from", k1File, "--keep-flow"));
    expect(shorter.status).toBe(1);
    expect(shorter.stderr).toMatch(
      /--start-from .*K1-L1.model.json: .*a planar flow with K = 1 .* cannot start a planar flow with K = 0/,
    );
    const other = run(...tinyVae("other", "--K", "1", "--latent", "5", "--start-from", base));
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/--start-from vae\/vae-planar-K0-L1.model.json: .*differs in latent \(4, here 5\)/);
  }, 150_000);
  // Where gpu.js webgpu runs (test/webgpu.test.ts) the fit command trains there; elsewhere it must
  // refuse with the reason, and the test is skipped (not where CI asked for webgpu).
  it("fit --backend gpu --gpu-mode webgpu trains and estimates KL on webgpu; ln Z and the figure run on the CPU backend, which it says", (context) => {
    const r = run(
      "--backend",
      "gpu",
      "--gpu-mode",
      "webgpu",
      "fit",
      "--K",
      "2",
      "--steps",
      "20",
      "--kl-samples",
      "1000",
      "--out",
      "webgpu-fit",
    );
    const refused = /gpu.js mode "webgpu" was requested but is not available: (.*)/.exec(r.stderr);
    if (r.status === 1 && refused && process.env.FLOWGRAD_EXPECT_WEBGPU !== "1")
      context.skip(`gpu.js webgpu is not available here: ${refused[1]}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/flowgrad: backend gpu, gpu.js webgpu mode \(WebGPUKernel on .+\)/);
    expect(r.stderr).toMatch(/figures and ln Z \(a float64 reference integral\) run on the CPU backend/);
    expect(JSON.parse(readFileSync(path.join(tmp, "webgpu-fit", "U1-planar-K2.json"), "utf8")).steps).toBe(20);
  }, 60_000);
  it("calibrate times gpu.js against the CPU backend, prints the thresholds for auto, and writes them as JSON", () => {
    const r = run(
      "--gpu-mode",
      "webasm",
      "calibrate",
      "--ms",
      "5",
      "--element-sizes",
      "1024,4096",
      "--matmul-sizes",
      "8,16",
      "--out",
      "cal/webasm.json",
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/gpu.js webasm mode \(WebAssemblyKernel\) against the CPU backend/);
    expect(r.stdout).toMatch(
      /\| 8 elementwise ops, n = 1024 \| 1024 \| \d+\.\d{3} ms \| \d+\.\d{3} ms \| \d+\.\d\d \|/,
    );
    expect(r.stdout).toMatch(/\| 2 × matmul, n = 8 \| 512 \|/);
    const saved = JSON.parse(readFileSync(path.join(tmp, "cal/webasm.json"), "utf8"));
    expect(saved.gpu.gpuMode).toBe("webasm");
    expect(saved.environment).toMatchObject({ node: process.version, cores: expect.any(Number) });
    expect(r.stdout).toContain(saved.setting); // FLOWGRAD_AUTO_THRESHOLD=…, as printed
    expect(saved.setting).toMatch(/^FLOWGRAD_AUTO_THRESHOLD=(\d+|inf),(\d+|inf)$/);
    expect(readdirSync(path.join(tmp, "cal"))).toEqual(["webasm.json"]);
  }, 60_000);
  it('calibrate --save keeps one entry per machine and mode, and "--backend auto" then says it uses it', () => {
    const env = { ...process.env, FLOWGRAD_CALIBRATION: path.join(tmp, "saved", "calibration.json") };
    const calibrate = () =>
      spawnSync(
        process.execPath,
        [
          cli,
          "--gpu-mode",
          "webasm",
          "calibrate",
          "--ms",
          "1",
          "--element-sizes",
          "1024",
          "--matmul-sizes",
          "8",
          "--save",
        ],
        { encoding: "utf8", cwd: tmp, env },
      );
    for (let i = 0; i < 2; i++) {
      const r = calibrate();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`in ${env.FLOWGRAD_CALIBRATION}: "--backend auto" uses it from now on`);
    }
    const store = JSON.parse(readFileSync(env.FLOWGRAD_CALIBRATION, "utf8"));
    expect(store).toMatchObject({ format: "flowgrad-auto-thresholds", version: 1 });
    expect(store.machines).toHaveLength(1); // the second run replaced the first
    expect(store.machines[0]).toMatchObject({ gpuMode: "webasm", adapter: null, cores: os.cpus().length });
    const fit = spawnSync(
      process.execPath,
      [
        cli,
        "--backend",
        "auto",
        "--gpu-mode",
        "webasm",
        "fit",
        "--K",
        "1",
        "--steps",
        "5",
        "--kl-samples",
        "100",
        "--out",
        "auto-fit",
      ],
      { encoding: "utf8", cwd: tmp, env },
    );
    expect(fit.status, fit.stderr).toBe(0);
    expect(fit.stderr).toMatch(
      new RegExp(
        `flowgrad: auto sends (no elementwise work|elementwise work from \\d+ elements) and (no products|products from \\d+ multiply-adds) to gpu.js: measured by flowgrad calibrate on ${store.machines[0].measured.slice(0, 10)} \\(${env.FLOWGRAD_CALIBRATION.replace(/[.\\/]/g, "\\$&")}\\)`,
      ),
    );
    const off = spawnSync(process.execPath, [cli, "--gpu-mode", "webasm", "calibrate", "--save"], {
      encoding: "utf8",
      cwd: tmp,
      env: { ...env, FLOWGRAD_CALIBRATION: "off" },
    });
    expect(off.status).toBe(1);
    expect(off.stderr).toMatch(/calibrate --save: FLOWGRAD_CALIBRATION is "off"/);
  }, 60_000);
  it("calibrate --gpu-mode webgpu measures there and exits (Dawn would keep the process alive)", (context) => {
    const r = spawnSync(
      process.execPath,
      [cli, "--gpu-mode", "webgpu", "calibrate", "--ms", "5", "--element-sizes", "1024", "--matmul-sizes", "8"],
      { encoding: "utf8", cwd: tmp, timeout: 50_000 },
    );
    const refused = /gpu.js mode "webgpu" was requested but is not available: (.*)/.exec(r.stderr);
    if (r.status === 1 && refused && process.env.FLOWGRAD_EXPECT_WEBGPU !== "1")
      context.skip(`gpu.js webgpu is not available here: ${refused[1]}`);
    expect(r.status, r.stderr).toBe(0); // null: it hung until the timeout
    expect(r.stderr).toMatch(/gpu.js webgpu mode \(WebGPUKernel on .+\) against the CPU backend/);
    expect(r.stdout).toMatch(/FLOWGRAD_AUTO_THRESHOLD=(\d+|inf),(\d+|inf)/);
  }, 60_000);
  it("bad input: a clear one-line message, exit code 1, no stack trace", () => {
    for (const [args, message] of [
      [["fit", "--target", "U7"], /argument 'U7' is invalid. Allowed choices are U1, U2, U3, U4/],
      [["fit", "--flow", "spline"], /Allowed choices are planar, radial/],
      [["fit", "--K", "0"], /K must be a positive integer/],
      [["fit", "--K", "abc"], /K must be a positive integer/],
      [["fit", "--lr", "fast"], /lr must be a positive number/],
      [
        ["fit", "--steps", "5", "--out", "/proc/flowgrad-cannot-write"],
        /cannot write to output folder \/proc\/flowgrad-cannot-write/,
      ],
      [
        ["fit", "--steps", "5", "--out", "out/U1-planar-K2.png/sub"],
        /cannot write to output folder .*U1-planar-K2.png\/sub: .*U1-planar-K2.png is not a folder/,
      ],
      [["vae", "--validation", "9000"], /--validation 9000 leaves no training digits \(there are 9000\)/],
      [["vae", "--binarize", "sometimes"], /Allowed choices are threshold, dynamic/],
      [["vae", "--checkpoint-every", "-1"], /checkpoint-every must be 0 or more seconds/],
      [["vae", "--max-minutes", "0"], /max-minutes must be a positive number/],
      [["vae", "--flow-lr", "0"], /flow-lr must be a positive number/],
      [["--backend", "tpu", "fit"], /argument 'tpu' is invalid. Allowed choices are cpu, gpu, auto/],
      [["compare", "--models", "missing.model.json"], /cannot read model file missing.model.json: ENOENT/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["calibrate", "--element-sizes", "1024,x"], /element-sizes must be a positive integer/],
    ] as const) {
      const r = run(...args);
      expect(r.status, args.join(" ")).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });
  it("vae --resume after Ctrl-C: finished models are kept, the interrupted one continues from its checkpoint, and the results equal an uninterrupted run's", async () => {
    const { spawn } = await import("node:child_process");
    const { existsSync } = await import("node:fs");
    // 20 epochs, so that K = 1 is still training when the signal lands, however late the poll sees its checkpoint.
    const args = (out: string) => tinyVae(out, "--samples", "3", "--checkpoint-every", "0", "--epochs", "20");
    const straight = run(...args("resume-straight"));
    expect(straight.status, straight.stderr).toBe(0);
    // Interrupted once K = 1 has saved a checkpoint (after every epoch).
    const child = spawn(process.execPath, [cli, ...args("resume-cut")], { cwd: tmp });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const checkpoint = path.join(tmp, "resume-cut/vae-planar-K1-L1.checkpoint.json");
    // Two checkpoints of K = 1 at least (one file rewritten), so the list of what was saved is tested for repeats.
    const epochsSaved = () =>
      existsSync(checkpoint) ? JSON.parse(readFileSync(checkpoint, "utf8")).state.epochsRun : 0;
    for (let i = 0; i < 300 && epochsSaved() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(readdirSync(path.join(tmp, "resume-cut"))).toContain("vae-planar-K0-L1.model.json");
    // What was saved, each file once, though the checkpoint was rewritten after every epoch.
    const listed = stderr.split("Saved before the interruption:\n")[1]!.trim().split("\n");
    expect(listed.filter((f) => f.endsWith("vae-planar-K1-L1.checkpoint.json"))).toHaveLength(1);
    expect(new Set(listed).size).toBe(listed.length);
    // The epoch the interrupted run last saved, part-way through: the resumed run must continue from exactly there.
    const saved: number = JSON.parse(readFileSync(checkpoint, "utf8")).state.epochsRun;
    expect(saved).toBeGreaterThanOrEqual(2);
    expect(saved).toBeLessThan(20);
    const resumed = run(...args("resume-cut"), "--resume");
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/K=0: finished before the interruption/);
    expect(resumed.stdout).toContain(`K=1: resuming after epoch ${saved} (`);
    const result = (dir: string) => JSON.parse(readFileSync(path.join(tmp, dir, "vae-planar-L1.json"), "utf8"));
    const [a, b] = [result("resume-straight"), result("resume-cut")];
    const numbers = (r: { records: Array<Record<string, unknown>> }) =>
      r.records.map(({ negativeElbo, negLogLikelihood, validationLosses, bestEpoch }) => ({
        negativeElbo,
        negLogLikelihood,
        validationLosses,
        bestEpoch,
      }));
    expect(numbers(b)).toEqual(numbers(a));
    expect(b.paired).toEqual(a.paired);
    expect(readdirSync(path.join(tmp, "resume-cut")).some((f) => f.includes("checkpoint"))).toBe(false);
    // A checkpoint is resumed only with the options it was made with.
    const other = spawn(process.execPath, [cli, ...args("resume-other")], { cwd: tmp });
    const otherCheckpoint = path.join(tmp, "resume-other/vae-planar-K0-L1.checkpoint.json");
    for (let i = 0; i < 300 && !existsSync(otherCheckpoint); i++) await new Promise((r) => setTimeout(r, 50));
    const otherExited = new Promise((resolve) => other.on("exit", resolve));
    other.kill("SIGINT");
    await otherExited;
    const refused = run(...args("resume-other").map((a) => (a === "8" ? "9" : a)), "--resume");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/is a checkpoint of a run with other settings; resume with the same options/);
  }, 120_000);
  it("Ctrl-C stops a run at once, says what was and was not saved, and leaves no file; stale temporaries are cleaned", async () => {
    const { spawn } = await import("node:child_process");
    const out = path.join(tmp, "interrupted");
    const child = spawn(process.execPath, [cli, "fit", "--steps", "1000000", "--out", out], { cwd: tmp });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    await new Promise((resolve) => setTimeout(resolve, 2000)); // training by now
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const sent = performance.now();
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(performance.now() - sent).toBeLessThan(2000); // answered mid-fit, not at its end
    expect(stderr).toMatch(
      /interrupted during fit U1 planar K=32 \(\d+ of 1000000\): the work in progress was not saved/,
    );
    expect(stderr).toMatch(/Nothing was saved: no file was written/);
    expect(readdirSync(out)).toEqual([]);
    // A temporary from a write cut short (by a process that is gone) is removed when the folder is
    // used again. The pid is one no process has now: a fixed one can be running (pids wrap).
    let gone = 99_999;
    for (; ; gone++) {
      try {
        process.kill(gone, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ESRCH") break;
      }
    }
    writeFileSync(path.join(out, `.U1-planar-K2.json.${gone}.abc123.tmp`), "{ half");
    const r = run("fit", "--K", "2", "--steps", "50", "--kl-samples", "1000", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["U1-planar-K2.json", "U1-planar-K2.model.json", "U1-planar-K2.png"]);
  }, 60_000);
  it("--help lists the subcommands", () => {
    const r = run("--help");
    expect(r.status).toBe(0);
    for (const cmd of [
      "fit",
      "demo",
      "figure",
      "langevin",
      "vae",
      "sample",
      "compare",
      "posterior",
      "layers",
      "calibrate",
      "bench",
    ])
      expect(r.stdout).toContain(cmd);
  });
});
