import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as ag from "../src/autograd/index.js";
import { Tensor } from "../src/autograd/index.js";
import { FlowDistribution, jacobian, logAbsDet, PlanarFlow, planar, radial, Sequential } from "../src/flows/index.js";
import { chooseMode } from "../src/kernels/gpu/load.js";
import { cpuBackend } from "../src/kernels/index.js";
import { estimateKL, FlowVAE, fit2D, fittedEnergy, labelledGrid, logPartition, trainVAE } from "../src/models/index.js";
import { prepareOutputDir, writeFileAtomic } from "../src/node/io.js";
import { loadMnist } from "../src/node/mnist.js";
import { loadVAEFile, saveVAE } from "../src/node/model-files.js";
import { COMPARISONS, cliHarness, expectClose, expectComparison, expectReduced } from "./helpers.js";

// What issue "Reliability" found answering wrongly or crashing deep inside, each held by a test
// that failed before its fix.

describe("public arguments are checked where they enter, and the message names the argument", () => {
  const x = ag.tensor([1, 2]);
  const cases: Array<[string, () => unknown, RegExp]> = [
    [
      "tensor with a negative shape",
      () => ag.tensor([1, 2], { shape: [-1, -2] }),
      /tensor: shape must be a list of non-negative integers, got \[-1, -2\]/,
    ],
    [
      "tensor with a fractional shape",
      () => ag.tensor([1, 2], { shape: [0.5, 4] }),
      /tensor: shape must be a list of non-negative integers, got \[0\.5, 4\]/,
    ],
    [
      "an unknown dtype",
      () => ag.tensor([1, 2], { dtype: "int8" as never }),
      /tensor: dtype must be "float32" or "float64", got "int8"/,
    ],
    [
      "zeros with an unknown dtype",
      () => ag.zeros([2], { dtype: "float16" as never }),
      /full: dtype must be "float32" or "float64", got "float16"/,
    ],
    [
      "new Tensor with a negative shape",
      () => new Tensor(new Float64Array(2), [-1, -2]),
      /Tensor: shape must be a list of non-negative integers/,
    ],
    [
      "new Tensor from a plain array",
      () => new Tensor([1, 2] as never, [2]),
      /Tensor: data must be a Float64Array, a Float32Array or a Storage, got \[1, 2\]/,
    ],
    [
      "sum over a string axis",
      () => x.sum("1" as never),
      /sum: axis must be an integer or a list of integers, got "1"/,
    ],
    [
      "backward with an array as gradient",
      () => x.mul(ag.tensor([1, 1], { requiresGrad: true })).backward([1, 1] as never),
      /backward: the gradient must be a Tensor, got \[1, 1\]/,
    ],
    [
      "broadcastTo −1",
      () => x.broadcastTo([-1, 2]),
      /broadcastTo: shape must be a list of non-negative integers, got \[-1, 2\]/,
    ],
    ["arange to Infinity", () => ag.arange(0, Infinity), /arange: stop must be a finite number, got Infinity/],
    ["arange with a NaN start", () => ag.arange(NaN, 3), /arange: start must be a finite number, got NaN/],
    ["linspace to NaN", () => ag.linspace(0, NaN, 3), /linspace: stop must be a finite number, got NaN/],
    ["reshape to a string", () => x.reshape("2" as never), /reshape: shape must be a list of integers, got "2"/],
    ["slice with a number for starts", () => x.slice(1 as never), /slice: starts must be a list of integers, got 1/],
    [
      "permute with a string",
      () => ag.tensor([[1, 2]]).permute("10" as never),
      /permute: axes must be a list of integers, got "10"/,
    ],
    [
      "matmul with a number",
      () => ag.tensor([[1, 2]]).matmul(3 as never),
      /matmul: the right operand must be a Tensor, got 3/,
    ],
    ["eye of −1", () => ag.eye(-1), /eye: n must be a non-negative integer, got -1/],
    [
      "indexSelect with a string",
      () => x.indexSelect(0, "1" as never),
      /indexSelect: indices must be a list or a typed array of integers, got "1"/,
    ],
    ["concat of a tensor", () => ag.concat(x as never), /concat: expected a list of tensors, got a Tensor/],
    ["split with a string", () => ag.split(x, "11" as never), /split: sizes must be a list of integers, got "11"/],
    ["unsqueeze at a string axis", () => x.unsqueeze("0" as never), /unsqueeze: an axis must be an integer, got "0"/],
    [
      "where with a number for the condition",
      () => ag.where(1 as never, x, 0),
      /where: the condition must be a Tensor, got 1/,
    ],
    ["exp of a number", () => ag.exp(2 as never), /exp: the input must be a Tensor, got 2/],
    ["grad of a number", () => ag.grad(3 as never), /grad: f must be a function, got 3/],
    ["astype to int32", () => x.astype("int32" as never), /astype: dtype must be "float32" or "float64", got "int32"/],
    [
      "the MNIST loader with half a digit",
      () => loadMnist({ trainCount: 0.5 }),
      /trainCount must be an integer between 1 and 9999, got 0\.5/,
    ],
    [
      "the MNIST loader with a string count",
      () => loadMnist({ trainCount: "100" as never }),
      /trainCount must be an integer between 1 and 9999, got "100"/,
    ],
  ];
  for (const [name, call, message] of cases) it(name, () => expect(call).toThrow(message));
});

describe("checks that can fail: each shown failing on a deliberately broken result", () => {
  it("a device sum that drops one element, or double-counts one, fails the exact-sum check", () => {
    const x = Float64Array.from({ length: 500 }, (_, i) => (i % 8) + 1);
    const reference = new Float64Array(1);
    cpuBackend.host.reduce("sum", x, 1, 500, 1, reference);
    expectReduced("sum", x, 1, 500, 1, reference, reference, true);
    expect(() => expectReduced("sum", x, 1, 500, 1, [reference[0]! - x[17]!], reference, true)).toThrow(
      /sum 0: device/,
    );
    expect(() => expectReduced("sum", x, 1, 500, 1, [reference[0]! + x[3]!], reference, true)).toThrow(/sum 0: device/);
  });
  it("an eq that always answers 0, or a ne that answers eq, fails the comparison check on inputs with ties", () => {
    const a = [1, 0.5, 1, -1],
      b = [1, 1, 1, -1];
    expectComparison("eq", a, [4], b, [4], [1, 0, 1, 1], [4]);
    expect(() => expectComparison("eq", a, [4], b, [4], [0, 0, 0, 0], [4])).toThrow(
      /eq\(1, 1\) at flat index 0: got 0, expected 1/,
    );
    expect(() => expectComparison("ne", a, [4], b, [4], [1, 0, 1, 1], [4])).toThrow(/ne\(1, 1\)/);
  });
  it("the CPU backend's comparisons match their definitions on inputs with ties", () => {
    const a = ag.tensor([
        [1, 0.5, -1],
        [0.5, 0.5, 1],
      ]),
      b = ag.tensor([0.5, 0.5, 1]);
    const COMPARISON_OPS = { eq: ag.eq, ne: ag.ne, gt: ag.gt, ge: ag.ge, lt: ag.lt, le: ag.le };
    for (const op of Object.keys(COMPARISONS) as Array<keyof typeof COMPARISONS>) {
      const compare: (x: ag.Tensor, y: ag.Tensor) => ag.Tensor = COMPARISON_OPS[op];
      expectComparison(op, a.data, [2, 3], b.data, [3], compare(a, b).data, [2, 3]);
    }
  });
  it("maximum and minimum split the gradient evenly at ties, and give it all to the winner elsewhere", () => {
    const a = ag.tensor([1, 2, 3], { requiresGrad: true }),
      b = ag.tensor([1, 5, 0], { requiresGrad: true });
    ag.maximum(a, b).sum().backward();
    expect(Array.from(a.grad!.data)).toEqual([0.5, 0, 1]);
    expect(Array.from(b.grad!.data)).toEqual([0.5, 1, 0]);
    a.zeroGrad();
    b.zeroGrad();
    ag.minimum(a, b).sum().backward();
    expect(Array.from(a.grad!.data)).toEqual([0.5, 1, 0]);
    expect(Array.from(b.grad!.data)).toEqual([0.5, 0, 1]);
  });
});

describe("numerics at the edges: the log-det is the map's, or the layer refuses", () => {
  const bruteForce = (f: (z: Tensor) => Tensor, z: Tensor) => {
    const values = Array.from(logAbsDet(jacobian(f, z).detach()).data);
    expect(values.every(Number.isFinite), `log|det J| = ${values}`).toBe(true); // a tolerance scaled by ∞ would pass anything
    return values;
  };
  it("planar with |u|, |w| = 1e8 and u = −w (the constraint active): the map is not the identity, and its log-det is log|det J|", () => {
    const p = { u: ag.tensor([-1e8, -5e7]), w: ag.tensor([1e8, 5e7]), b: ag.tensor([0]) };
    // Points on the hyperplane wᵀz + b = 0 (tanh' = 1, the log-det most negative) and near it.
    const z = ag.tensor([
      [0, 0],
      [1e-9, -2e-9],
      [3e-9, 1e-9],
    ]);
    const out = planar(z, p);
    expect(out.logAbsDet.data[0]!).toBeLessThan(-18); // 1 + wᵀû = slack ≈ 1e-8 (the floor) on the hyperplane
    expectClose(
      out.logAbsDet.data,
      bruteForce((x) => planar(x, p).z, z),
      1e-3,
      1e-3,
    );
  });
  it("planar parameters whose û float64 cannot hold (|u|, |w| = 1e6, not parallel, the constraint active) are refused by name", () => {
    const p = { u: ag.tensor([-1e6, 3e5]), w: ag.tensor([1e6, 5e5]), b: ag.tensor([0]) };
    expect(() => planar(ag.tensor([[0, 0]]), p)).toThrow(
      /planar: parameters too large for float64 \(‖u‖ = 1\.04e\+6, ‖w‖ = 1\.12e\+6\)/,
    );
    expect(() => planar(ag.tensor([[0, 0]]), p, "composed")).toThrow(/planar: parameters too large for float64/);
  });
  it("planar at w = 0 is a translation: log-det 0 (softplus(0) used to describe another map)", () => {
    const p = { u: ag.tensor([0.7, -0.2]), w: ag.tensor([0, 0]), b: ag.tensor([0.4]) };
    for (const implementation of ["fused", "composed"] as const) {
      expectClose(
        planar(
          ag.tensor([
            [0.3, 1],
            [-2, 0.5],
          ]),
          p,
          implementation,
        ).logAbsDet.data,
        [0, 0],
        0,
        1e-15,
      );
    }
  });
  it("radial with α underflowing to 0 (raw α ≤ −745) is finite at z = z0, with the log-det of its Jacobian", () => {
    const p = { z0: ag.tensor([0.5, -0.5]), alpha: ag.tensor([-800]), beta: ag.tensor([0.3]) };
    const z = ag.tensor([
      [0.5, -0.5],
      [1, 1],
    ]);
    const out = radial(z, p);
    expect([...out.z.data, ...out.logAbsDet.data].every(Number.isFinite)).toBe(true);
    expectClose(out.z.data.subarray(0, 2), [0.5, -0.5], 0, 0); // z0 stays where it is
    expectClose(
      out.logAbsDet.data.subarray(1),
      bruteForce((x) => radial(x, p).z, ag.tensor([[1, 1]])),
      1e-9,
      1e-9,
    );
  });
  it("a fit with far too many layers says that an update made the parameters non-finite, not that the input points were bad", () => {
    expect(() => fit2D({ target: "U1", flow: "planar", K: 3000, steps: 3, batchSize: 20, seed: 0 })).toThrow(
      /fit U1: diverged: the update of step \d left parameters the flow cannot use \(PlanarChain: parameter \w+ holds NaN/,
    );
  });
  it("a diverged fit stops with an error (learning rate 1e3 on U1) instead of returning a result", () => {
    expect(() => fit2D({ target: "U1", flow: "planar", K: 8, steps: 600, batchSize: 100, lr: 1e3, seed: 0 })).toThrow(
      /^fit U1: diverged: .*lower the learning rate \(it was 1000\)/,
    );
  });
  it("a fit whose free energy climbs above where it started (learning rate 10) is stopped by the guard, with the numbers", () => {
    expect(() => fit2D({ target: "U1", flow: "planar", K: 8, steps: 900, batchSize: 200, lr: 10, seed: 0 })).toThrow(
      /^fit U1: diverged: the free energy rose from 13\.\d+ before training to \d+\.\d+ \(mean of steps \d+–\d+\); lower the learning rate \(it was 10\)/,
    );
  });
  it("the divergence guard leaves an ordinary fit alone, and the fit's numbers are those of its own random stream", () => {
    const a = fit2D({ target: "U2", flow: "planar", K: 2, steps: 300, batchSize: 50, seed: 3 });
    const b = fit2D({ target: "U2", flow: "planar", K: 2, steps: 300, batchSize: 50, seed: 3 });
    expect(a.losses).toEqual(b.losses); // deterministic given the seed
    expect(a.losses.at(-1)!).toBeLessThan(a.losses[0]! + 10);
  });
});

describe("scores against exact values", () => {
  it("estimateKL of a Gaussian q against the walled U2 matches KL(q‖p) by quadrature", () => {
    // q = N(m, diag(s²)) through an identity flow (planar with u = w = 0); KL = ∫ q (ln q + U) + ln Z.
    const m = [0.3, -0.2],
      s = [0.6, 0.4];
    const identity = new Sequential([new PlanarFlow(2, { u: [0, 0], w: [0, 0], b: 0 })]);
    const q = new FlowDistribution(identity, { mean: m, logStd: s.map(Math.log) });
    const logZ = logPartition("U2", 800);
    const U = fittedEnergy("U2");
    const n = 600,
      half = 4,
      h = (2 * half) / n;
    const points = new Float64Array(2 * n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        points[2 * (i * n + j)] = m[0]! - half * s[0]! + (i + 0.5) * h * s[0]!;
        points[2 * (i * n + j) + 1] = m[1]! - half * s[1]! + (j + 0.5) * h * s[1]!;
      }
    const energies = ag.noGrad(() => U(ag.tensor(points, { shape: [n * n, 2] }))).data;
    let kl = 0;
    for (let k = 0; k < n * n; k++) {
      const a = (points[2 * k]! - m[0]!) / s[0]!,
        b = (points[2 * k + 1]! - m[1]!) / s[1]!;
      const logQ = -0.5 * (a * a + b * b) - Math.log(2 * Math.PI * s[0]! * s[1]!);
      kl += Math.exp(logQ) * (logQ + energies[k]!) * h * h * s[0]! * s[1]!;
    }
    kl += logZ;
    const estimate = estimateKL(q, "U2", logZ, 100_000);
    expect(Math.abs(estimate.kl - kl)).toBeLessThan(4 * estimate.standardError);
    expect(estimate.standardError).toBeLessThan(0.02);
  });
});

describe("training paths not covered elsewhere", () => {
  it("RMSprop (the paper's optimizer) fits U1, and the VAE trains with it", () => {
    const logZ = logPartition("U1", 600);
    const { q } = fit2D({
      target: "U1",
      flow: "planar",
      K: 4,
      steps: 600,
      batchSize: 100,
      lr: 0.005,
      optimizer: "rmsprop",
      seed: 0,
    });
    expect(estimateKL(q, "U1", logZ, 20_000).kl).toBeLessThan(1);
    const data = loadMnist();
    const model = new FlowVAE({ K: 1, latent: 4, hidden: 16 });
    const r = trainVAE(model, data.train.images.subarray(0, 200 * 784), {
      epochs: 2,
      batchSize: 50,
      lr: 1e-3,
      optimizer: "rmsprop",
    });
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(r.losses.at(-1)!).toBeLessThan(r.losses[0]!);
  });
  it("annealing in trainVAE: β rises from 0.01 to 1 over annealSteps, so the first steps see the free energy with the likelihood scaled down", () => {
    const data = loadMnist();
    const images = data.train.images.subarray(0, 100 * 784);
    const first = (annealSteps: number) =>
      trainVAE(new FlowVAE({ K: 0, latent: 4, hidden: 16 }), images, {
        epochs: 1,
        batchSize: 100,
        lr: 1e-3,
        annealSteps,
        seed: 5,
      }).losses[0]!;
    // F_β = E[ln q − β ln p(x, z)]: with −ln p(x, z) ≈ 550 nats per digit at the start, β = 0.01 removes ~99 % of it.
    const plain = first(0),
      annealed = first(1000);
    expect(plain).toBeGreaterThan(300);
    expect(annealed).toBeLessThan(plain * 0.05);
  });
});

describe("a GPU mode that cannot run names its first blocker", () => {
  const fake = {
    GPU: {
      isHeadlessGLSupported: false,
      isWebAssemblySupported: true,
      isWebGLSupported: false,
      isWebGL2Supported: false,
    },
  } as never;
  it("headlessgl without the gl package says so before asking for an X display", () => {
    const display = process.env.DISPLAY;
    delete process.env.DISPLAY;
    try {
      expect(() =>
        chooseMode(
          fake,
          "headlessgl",
          null,
          "headlessgl needs the optional gl package (headless-gl), which is not installed or not built here",
        ),
      ).toThrow(/not available: headlessgl needs the optional gl package/);
      expect(() => chooseMode(fake, "headlessgl", null, null)).toThrow(/not available: headlessgl needs an X display/);
    } finally {
      if (display !== undefined) process.env.DISPLAY = display;
    }
  });
});

describe("files: atomic, never replacing what is not a regular file, safe with two runs in one folder", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "flowgrad-files-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  it("a symbolic link or a device at the output name is refused, and left as it was", () => {
    const target = path.join(tmp, "precious.json");
    writeFileSync(target, "keep me");
    const link = path.join(tmp, "link.json");
    symlinkSync(target, link);
    expect(() => writeFileAtomic(link, "{}")).toThrow(/refusing to write .*link\.json: it is a symbolic link/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toBe("keep me");
    expect(() => writeFileAtomic("/dev/null", "{}")).toThrow(/refusing to write \/dev\/null: it is a device/);
    mkdirSync(path.join(tmp, "folder.json"));
    expect(() => writeFileAtomic(path.join(tmp, "folder.json"), "{}")).toThrow(/it is a folder/);
    expect(readdirSync(tmp).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
  it("preparing a folder removes temporaries of dead processes only, not those of a run still writing", async () => {
    const dir = path.join(tmp, "shared");
    mkdirSync(dir);
    // A process that has exited, and one that is running (this one): their pids name their temporaries.
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    const stale = `.a.json.${dead}.abc123.tmp`,
      live = `.b.json.${process.pid}.def456.tmp`;
    writeFileSync(path.join(dir, stale), "{ half");
    writeFileSync(path.join(dir, live), "{ being written");
    prepareOutputDir(dir);
    expect(readdirSync(dir)).toEqual([live]);
  });
});

describe("the flowgrad command: model files, outputs and concurrent runs", () => {
  const { cli, tmp, run } = cliHarness("flowgrad-reliable-");

  it("two fits writing into one folder at the same time both complete, with their files whole", async () => {
    const start = (target: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          [cli, "fit", "--target", target, "--K", "2", "--steps", "400", "--kl-samples", "20000", "--out", "both"],
          { cwd: tmp },
        );
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("exit", (code) => resolve({ code, stderr }));
      });
    // Staggered so that the second run's start-up clean-up falls in the first one's writes.
    const first = start("U1");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const results = await Promise.all([first, start("U2")]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(path.join(tmp, "both")).sort()).toEqual([
      "U1-planar-K2.json",
      "U1-planar-K2.model.json",
      "U1-planar-K2.png",
      "U2-planar-K2.json",
      "U2-planar-K2.model.json",
      "U2-planar-K2.png",
    ]);
    for (const t of ["U1", "U2"])
      expect(JSON.parse(readFileSync(path.join(tmp, "both", `${t}-planar-K2.json`), "utf8")).target).toBe(t);
  }, 90_000);

  it("a diverged fit exits 1 with the reason and writes nothing", () => {
    const r = run("fit", "--K", "8", "--lr", "1000", "--steps", "600", "--out", "diverged");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/flowgrad: fit U1: diverged: /);
    expect(readdirSync(path.join(tmp, "diverged"))).toEqual([]);
  }, 60_000);

  it("model files: null content, another kind, unknown fields and a VAE trained on inputs of another size are refused by name", () => {
    writeFileSync(path.join(tmp, "null.model.json"), "null");
    writeFileSync(
      path.join(tmp, "kind.model.json"),
      JSON.stringify({ manifest: { kind: "flowgrad.flow2d", version: 1, config: {} }, parameters: {} }),
    );
    writeFileSync(
      path.join(tmp, "field.model.json"),
      JSON.stringify({ manifest: { kind: "flowgrad.vae", version: 1, config: { layers: 3 } }, parameters: {} }),
    );
    const small = new FlowVAE({ inputs: 10, latent: 2, hidden: 4, K: 1 });
    saveVAE(path.join(tmp, "small.model.json"), small);
    expect(loadVAEFile(path.join(tmp, "small.model.json")).model.config.inputs).toBe(10); // a valid file, loaded
    const expectations: Array<[string, string[], RegExp]> = [
      [
        "null",
        ["sample", "--model", "null.model.json"],
        /null\.model\.json is not a flowgrad VAE model file: its content is null/,
      ],
      [
        "kind",
        ["sample", "--model", "kind.model.json"],
        /is not a flowgrad VAE model file \(expected manifest kind "flowgrad\.vae", version 1\)/,
      ],
      ["field", ["sample", "--model", "field.model.json"], /unknown configuration fields layers/],
      [
        "inputs (sample)",
        ["sample", "--model", "small.model.json", "--out", "s.png"],
        /small\.model\.json: the model was trained on inputs of 10 values, but a 28 × 28 digit image has 784/,
      ],
      [
        "inputs (compare)",
        ["compare", "--models", "small.model.json", "--samples", "2"],
        /small\.model\.json: the model was trained on inputs of 10 values, but an MNIST digit has 784/,
      ],
    ];
    for (const [label, args, message] of expectations) {
      const r = run(...args);
      expect(r.status, label).toBe(1);
      expect(r.stderr, label).toMatch(message);
      expect(r.stderr, label).not.toMatch(/TypeError|at .*\.js:\d+/);
    }
    expect(existsSync(path.join(tmp, "s.png"))).toBe(false);
  }, 60_000);

  it("demo (the main job) fits every target at every K, prints the table and writes the figure and the summary", () => {
    const r = run("demo", "--K", "2,3", "--steps", "60", "--kl-samples", "1000", "--out", "demo");
    expect(r.status, r.stderr).toBe(0);
    for (const t of ["U1", "U2", "U3", "U4"])
      expect(r.stdout).toMatch(new RegExp(`\\| ${t} \\| planar \\| 3 \\| \\d+\\.\\d{4} \\|`));
    expect(readdirSync(path.join(tmp, "demo")).sort()).toEqual(["figure3.png", "summary.json"]);
    const summary = JSON.parse(readFileSync(path.join(tmp, "demo/summary.json"), "utf8"));
    expect(summary.records.map((x: { target: string; K: number }) => `${x.target}:${x.K}`)).toEqual([
      "U1:2",
      "U1:3",
      "U2:2",
      "U2:3",
      "U3:2",
      "U3:3",
      "U4:2",
      "U4:3",
    ]);
    const png = readFileSync(path.join(tmp, "demo/figure3.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // 4 rows of panels and 1 + 2 columns, with room for the rows' names and the columns' titles.
    const grid = labelledGrid(["U1", "U2", "U3", "U4"], ["true density", "planar K = 2", "planar K = 3"], 128);
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([grid.image.width, grid.image.height]);
    // And the default is the paper's Figure 3: K = 2, 8, 32.
    expect(run("demo", "--help").stdout.replace(/\s+/g, " ")).toMatch(
      /flow lengths, comma-separated \(the paper's Figure 3: 2, 8, 32\) \(default: \[2,8,32\]\)/,
    );
  }, 120_000);

  it("sample draws digits from a saved model into a PNG grid", () => {
    saveVAE(path.join(tmp, "digits.model.json"), new FlowVAE({ latent: 2, hidden: 8, K: 1 }));
    const r = run("sample", "--model", "digits.model.json", "--out", "grid/digits.png", "--seed", "3");
    expect(r.status, r.stderr).toBe(0);
    const png = readFileSync(path.join(tmp, "grid/digits.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(10 * 28); // ten digits across
  }, 60_000);

  it("compare checks that it can write its output before evaluating anything", () => {
    const model = new FlowVAE({ latent: 2, hidden: 4, K: 0 });
    saveVAE(path.join(tmp, "tiny.model.json"), model);
    writeFileSync(path.join(tmp, "blocker"), "a file where the output's folder should be");
    const started = performance.now();
    const r = run("compare", "--models", "tiny.model.json", "--samples", "200", "--out", "blocker/compare.json");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot write to output folder .*blocker: .*blocker is not a folder/);
    expect(r.stdout).toBe(""); // no model was scored
    expect(performance.now() - started).toBeLessThan(20_000);
  }, 60_000);
});
