#!/usr/bin/env node
// The `flowgrad` command. User errors (bad options, unwritable folders) print one line and exit 1.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { GPU_MODES, type GpuMode } from "../kernels/gpu/load.js";
import { backendInfo, initBackend, loadedGpuBackend } from "../kernels/index.js";
import { TARGETS, type TargetName } from "../models/index.js";
import { UserError } from "../node/io.js";
import { calibrateCommand, describeThresholds } from "./calibrate.js";
import { figureCommand } from "./figure.js";
import { demoCommand, fitCommand } from "./fit.js";
import { exitOnInterrupt } from "./interrupt.js";
import { langevinCommand } from "./langevin.js";
import { type LayersSettings, layersCommand } from "./layers.js";
import { type PosteriorSettings, posteriorCommand } from "./posterior.js";
import { type CompareSettings, compareCommand, sampleCommand, vaeCommand } from "./vae.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const version = (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer.`);
    return n;
  };
}
function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${name} must be a positive number.`);
    return n;
  };
}
function integer(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n))
      throw new InvalidArgumentError(`${name} must be an integer.`);
    return n;
  };
}
function intList(name: string, allowZero = false) {
  return (value: string): number[] =>
    value.split(",").map((v) => {
      if (allowZero && v.trim() === "0") return 0;
      return positiveInt(name)(v);
    });
}

const program = new Command()
  .name("flowgrad")
  .description("Variational inference with normalizing flows (Rezende & Mohamed, 2015) on a from-scratch autograd.")
  .version(version)
  .showHelpAfterError("(run with --help for usage)")
  .addOption(
    new Option("--backend <name>", "compute backend (default: $FLOWGRAD_BACKEND, else cpu)").choices([
      "cpu",
      "gpu",
      "auto",
    ]),
  )
  .addOption(
    new Option("--gpu-mode <mode>", "gpu.js mode for gpu/auto (default: $FLOWGRAD_GPU_MODE, else auto)").choices([
      "auto",
      ...GPU_MODES,
    ]),
  )
  .hook("preAction", async () => {
    // Load the backend before any op runs; say what runs when it is not the plain CPU backend.
    const o = program.opts<{ backend?: string; gpuMode?: GpuMode | "auto" }>();
    await initBackend(o.backend, { gpuMode: o.gpuMode });
    const info = backendInfo();
    if (info.backend !== "cpu")
      console.error(
        `flowgrad: backend ${info.backend}, gpu.js ${info.gpuMode} mode (${info.kernelClass}${info.adapter ? ` on ${info.adapter}` : ""})`,
      );
    if (info.autoThresholds)
      console.error(
        `flowgrad: auto sends ${describeThresholds(info.autoThresholds)} to gpu.js: ${info.autoThresholdSource}`,
      );
  });

program
  .command("fit")
  .description(
    "fit planar or radial flows, or a continuous flow (CNF), to one of the paper's 2-D densities (section 6.1) and score the fit by KL",
  )
  .addOption(new Option("--target <name>", "target density").choices([...TARGETS]).default("U1"))
  .addOption(
    new Option(
      "--flow <kind>",
      "flow: planar or radial layers, NICE (K coupling layers), a CNF (neural ODE), or a Hamiltonian flow (its KL is an upper bound, on (z, ρ))",
    )
      .choices(["planar", "radial", "nice", "cnf", "hamiltonian"])
      .default("planar"),
  )
  .option(
    "--K <n>",
    "number of flow layers (planar, radial) or leapfrog steps (hamiltonian); for cnf, hidden units per layer of its MLP",
    positiveInt("K"),
    32,
  )
  .addOption(
    new Option("--solver <name>", "cnf: ODE solver, fixed-step RK4 or adaptive Dormand–Prince 5(4)")
      .choices(["rk4", "dopri5"])
      .default("rk4"),
  )
  .option("--ode-steps <n>", "cnf with rk4: steps from t = 0 to 1", positiveInt("ode-steps"), 10)
  .addOption(
    new Option("--trace <how>", "cnf: tr(∂f/∂z) exactly (D products) or by Hutchinson's estimator (one)")
      .choices(["exact", "hutchinson"])
      .default("exact"),
  )
  .addOption(
    new Option(
      "--gradient <how>",
      "cnf: backpropagate through the solver's steps, or solve the adjoint ODE backwards (memory constant in the steps)",
    )
      .choices(["backprop", "adjoint"])
      .default("backprop"),
  )
  .option("--steps <n>", "parameter updates", positiveInt("steps"), 20_000)
  .option("--batch <n>", "samples per step", positiveInt("batch"), 200)
  .option("--lr <x>", "learning rate (cosine-decayed to lr/20)", positiveNumber("lr"), 0.01)
  .addOption(new Option("--optimizer <name>", "optimizer").choices(["adam", "rmsprop"]).default("adam"))
  .option("--seed <n>", "random seed", integer("seed"), 0)
  .option("--kl-samples <n>", "samples for the KL estimate", positiveInt("kl-samples"), 100_000)
  .option("--out <dir>", "output folder", "results/fit")
  .action(
    async (o: {
      target: TargetName;
      flow: "planar" | "radial" | "nice" | "cnf" | "hamiltonian";
      K: number;
      solver: "rk4" | "dopri5";
      odeSteps: number;
      trace: "exact" | "hutchinson";
      gradient: "backprop" | "adjoint";
      steps: number;
      batch: number;
      lr: number;
      optimizer: "adam" | "rmsprop";
      seed: number;
      klSamples: number;
      out: string;
    }) => {
      const cnf =
        o.flow === "cnf" ? { solver: o.solver, steps: o.odeSteps, trace: o.trace, gradient: o.gradient } : undefined;
      await fitCommand(
        {
          target: o.target,
          flow: o.flow,
          K: o.K,
          cnf,
          steps: o.steps,
          batch: o.batch,
          lr: o.lr,
          optimizer: o.optimizer,
          seed: o.seed,
          klSamples: o.klSamples,
        },
        o.out,
      );
    },
  );

program
  .command("figure")
  .description(
    "one figure like the paper's Figure 3 from saved 2-D fits (flowgrad fit writes *.model.json): a row per target, the true density, then each model; --langevin adds the Langevin flow's particles",
  )
  .requiredOption("--models <files>", "comma-separated .model.json files written by flowgrad fit", (v: string) =>
    v.split(",").filter(Boolean),
  )
  .option("--langevin", "add a column of Langevin (MALA) particles at t = 10")
  .option("--out <file>", "PNG file to write", "results/flows-figure.png")
  .action((o: { models: string[]; langevin?: boolean; out: string }) =>
    figureCommand(o.models, o.langevin ?? false, o.out),
  );

program
  .command("langevin")
  .description(
    "the Langevin flow (section 3.2) on a 2-D density: particles from N(0, I) under dz = −∇U dt + √2 dW, their kernel Stein discrepancy to p against time",
  )
  .addOption(new Option("--target <name>", "target density").choices([...TARGETS]).default("U1"))
  .option("--particles <n>", "particles", positiveInt("particles"), 1000)
  .option("--step-size <x>", "time step h", positiveNumber("step-size"), 0.01)
  .option("--steps <n>", "steps", positiveInt("steps"), 1000)
  .option("--adjusted", "Metropolis-adjusted (MALA) instead of plain Euler–Maruyama (ULA)")
  .option("--seed <n>", "random seed", integer("seed"), 0)
  .option("--out <dir>", "output folder", "results/langevin")
  .action(
    (o: {
      target: TargetName;
      particles: number;
      stepSize: number;
      steps: number;
      adjusted?: boolean;
      seed: number;
      out: string;
    }) =>
      langevinCommand(
        {
          target: o.target,
          particles: o.particles,
          stepSize: o.stepSize,
          steps: o.steps,
          adjusted: o.adjusted ?? false,
          seed: o.seed,
        },
        o.out,
      ),
  );

program
  .command("demo")
  .description("the main job: fit U1–U4 with planar flows, print the KL table and write the figure")
  .option("--steps <n>", "parameter updates per fit", positiveInt("steps"), 20_000)
  .option("--K <list>", "flow lengths, comma-separated (the paper's Figure 3: 2, 8, 32)", intList("K"), [2, 8, 32])
  .option("--seed <n>", "random seed", integer("seed"), 0)
  .option("--kl-samples <n>", "samples for each KL estimate", positiveInt("kl-samples"), 100_000)
  .option("--out <dir>", "output folder", "results/demo")
  .action(async (o: { steps: number; K: number[]; seed: number; klSamples: number; out: string }) => {
    await demoCommand({ out: o.out, steps: o.steps, Ks: o.K, seed: o.seed, klSamples: o.klSamples });
  });

program
  .command("vae")
  .description(
    "train DLGMs with flow posteriors on the real MNIST digits (section 6.2) and score −ln p(x) by importance sampling",
  )
  .option("--K <list>", "flow lengths to train, comma-separated (0 = diagonal Gaussian)", intList("K", true), [10])
  .addOption(
    new Option(
      "--flow <kind>",
      "posterior flow: planar or radial layers (amortised), or NICE coupling layers (shared; K of them, then a scaling)",
    )
      .choices(["planar", "radial", "nice"])
      .default("planar"),
  )
  .option("--nice-hidden <list>", "NICE: hidden layer sizes of each coupling network", intList("nice-hidden"), [50])
  .addOption(
    new Option("--layers <n>", "stochastic layers (1 = VAE, 2 = DLGM with L = 2)").choices(["1", "2"]).default("1"),
  )
  .addOption(
    new Option("--flow-init <how>", "flow layers start as the identity for every digit, or from a small random head")
      .choices(["identity", "random"])
      .default("identity"),
  )
  .addOption(
    new Option(
      "--flow-head <how>",
      "flow parameters: a read-out of the encoder's features (no gradient into the encoder), sharing its gradient like μ and log σ, or global: one set for every digit (not amortised, like NICE's couplings)",
    )
      .choices(["readout", "shared", "global"])
      .default("readout"),
  )
  .option("--latent <n>", "latent dimension", positiveInt("latent"), 40)
  .option(
    "--hidden <n>",
    "hidden units per layer of the encoder and decoder (the paper's 400)",
    positiveInt("hidden"),
    400,
  )
  .option("--epochs <n>", "the most passes over the training digits", positiveInt("epochs"), 10)
  .option("--batch <n>", "minibatch size", positiveInt("batch"), 100)
  .option("--lr <x>", "learning rate", positiveNumber("lr"), 1e-3)
  .addOption(
    new Option("--optimizer <name>", "Adam, or the paper's RMSprop with momentum 0.9")
      .choices(["adam", "rmsprop"])
      .default("adam"),
  )
  .option(
    "--flow-lr <factor>",
    "the flow's parameters (flow head or NICE couplings) learn at this multiple of --lr",
    positiveNumber("flow-lr"),
    1,
  )
  .option(
    "--anneal-steps <n>",
    "updates over which β rises from 0.01 to 1 (annealed free energy; early stopping waits for β = 1; 0 = none)",
    integer("anneal-steps"),
    0,
  )
  .option(
    "--clip-norm <x>",
    "scale every update's gradients down to this global 2-norm where they exceed it (the record counts the clipped updates per epoch)",
    positiveNumber("clip-norm"),
  )
  .option(
    "--grad-norms",
    "record each epoch's gradient norms (median, 90th percentile, largest and its update) in the results JSON; changes no value",
  )
  .addOption(
    new Option("--binarize <how>", "pixels to {0, 1}: threshold at 0.5, or a fresh Bernoulli draw per minibatch")
      .choices(["threshold", "dynamic"])
      .default("threshold"),
  )
  .option("--validation <n>", "training digits held out for early stopping (0 = none)", integer("validation"), 1000)
  .option("--patience <n>", "stop after this many epochs without a better validation bound", positiveInt("patience"), 5)
  .option("--samples <n>", "importance samples per test digit", positiveInt("samples"), 200)
  .option("--train-count <n>", "use only the first n training digits", positiveInt("train-count"))
  .option(
    "--start-from <file>",
    "a .model.json written by flowgrad vae, of the same sizes: every K starts from its encoder, μ and log σ head and decoder (the flow as --flow-init says)",
  )
  .option(
    "--fixed-decoder",
    "train q(z|x) alone: the generative model (decoder; with --layers 2 the prior network too) stays as it starts, so with --start-from every K shares one p(x|z)",
  )
  .option(
    "--keep-flow",
    "with --start-from: the saved model's K′ flow layers (same --flow and --flow-head, K′ ≤ K) become the first K′ here and the rest start at the identity, so each K starts as that model's q(z|x): a grown flow",
  )
  .option("--seed <n>", "random seed", integer("seed"), 0)
  .option("--out <dir>", "output folder", "results/vae")
  .option(
    "--resume",
    "continue an interrupted run in --out with the same options: finished models are kept, the others continue from their last checkpoint",
  )
  .option(
    "--max-minutes <m>",
    "stop each model's training after the epoch that passes m minutes, then evaluate it (the table says it stopped by time, not by early stopping)",
    positiveNumber("max-minutes"),
  )
  .option(
    "--checkpoint-every <seconds>",
    "save a checkpoint for --resume after the first epoch that ends this long after the last one (0: every epoch)",
    integer("checkpoint-every"),
    60,
  )
  .action(
    async (o: {
      K: number[];
      flow: "planar" | "radial" | "nice";
      niceHidden: number[];
      layers: string;
      flowInit: "identity" | "random";
      flowHead: "readout" | "shared" | "global";
      latent: number;
      hidden: number;
      epochs: number;
      batch: number;
      lr: number;
      optimizer: "adam" | "rmsprop";
      flowLr: number;
      annealSteps: number;
      clipNorm?: number;
      gradNorms?: boolean;
      binarize: "threshold" | "dynamic";
      validation: number;
      patience: number;
      samples: number;
      trainCount?: number;
      startFrom?: string;
      fixedDecoder?: boolean;
      keepFlow?: boolean;
      seed: number;
      out: string;
      resume?: boolean;
      checkpointEvery: number;
      maxMinutes?: number;
    }) => {
      if (o.annealSteps < 0) throw new UserError("anneal-steps must be 0 or more");
      if (o.checkpointEvery < 0) throw new UserError("checkpoint-every must be 0 or more seconds");
      if (o.validation < 0) throw new UserError("validation must be 0 or more");
      if (o.keepFlow && o.startFrom === undefined)
        throw new UserError("--keep-flow takes the flow of the model given with --start-from; give --start-from FILE");
      await vaeCommand({
        Ks: o.K,
        flow: o.flow,
        layers: o.layers === "2" ? 2 : 1,
        flowInit: o.flowInit,
        flowHead: o.flowHead,
        latent: o.latent,
        hidden: o.hidden,
        niceHidden: o.niceHidden,
        epochs: o.epochs,
        batch: o.batch,
        lr: o.lr,
        optimizer: o.optimizer,
        flowLr: o.flowLr,
        annealSteps: o.annealSteps,
        clipNorm: o.clipNorm, // absent unless set (like the two below): earlier runs' signatures stay valid
        gradNorms: o.gradNorms ? true : undefined,
        binarize: o.binarize,
        validation: o.validation,
        patience: o.patience,
        samples: o.samples,
        trainCount: o.trainCount,
        startFrom: o.startFrom,
        fixedDecoder: o.fixedDecoder ? true : undefined, // absent unless set: earlier runs' signatures stay valid for --resume
        keepFlow: o.keepFlow ? true : undefined,
        seed: o.seed,
        out: o.out,
        resume: o.resume ?? false,
        checkpointEvery: o.checkpointEvery,
        maxMinutes: o.maxMinutes,
      });
    },
  );

program
  .command("posterior")
  .description(
    "fit each test digit's own posterior (no encoder) for a saved VAE's fixed decoder: the bound a diagonal Gaussian and K planar layers reach on the same generative model, beside the encoder's",
  )
  .requiredOption("--model <file>", "a .model.json written by flowgrad vae (one stochastic layer)")
  .option(
    "--K <list>",
    "planar flow lengths, comma-separated (0: the diagonal Gaussian alone)",
    intList("K", true),
    [0, 10, 20, 40, 80],
  )
  .option("--digits <n>", "the first n test digits", positiveInt("digits"), 30)
  .option("--steps <n>", "Adam updates per fit (the last third at a tenth of --lr)", positiveInt("steps"), 2000)
  .option("--samples <n>", "draws per digit per update", positiveInt("samples"), 8)
  .option("--lr <x>", "learning rate", positiveNumber("lr"), 1e-2)
  .option("--eval-samples <n>", "draws per digit for the final bound and −ln p(x)", positiveInt("eval-samples"), 500)
  .option("--seed <n>", "random seed", integer("seed"), 0)
  .option("--out <file>", "also write the results as JSON (run again with the same options: finished K are kept)")
  .action((o: Omit<PosteriorSettings, "Ks"> & { K: number[] }) => {
    const { K, ...rest } = o;
    posteriorCommand({ ...rest, Ks: K });
  });

program
  .command("layers")
  .description(
    "what each planar layer of a saved VAE's posterior does to the encoder's draws on the test digits: its log-det, how far it moves them, how many it saturates (a translation, not a bend)",
  )
  .requiredOption("--model <file>", "a .model.json written by flowgrad vae with a planar flow")
  .option("--digits <n>", "the first n test digits", positiveInt("digits"), 500)
  .option("--draws <n>", "draws per digit from the encoder's q₀", positiveInt("draws"), 8)
  .option("--seed <n>", "random seed", integer("seed"), 0)
  .option("--out <file>", "also write the statistics as JSON")
  .action((o: LayersSettings) => layersCommand(o));

program
  .command("sample")
  .description("draw digits from a saved VAE model into a PNG grid")
  .requiredOption("--model <file>", "a .model.json written by flowgrad vae")
  .option("--out <file>", "PNG file to write", "samples.png")
  .option("--seed <n>", "random seed", integer("seed"), 0)
  .action((o: { model: string; out: string; seed: number }) => sampleCommand(o.model, o.out, o.seed));

program
  .command("compare")
  .description(
    "score saved VAE models on the same digits (test, or --split train): −ln p(x) of each, and paired differences between consecutive ones",
  )
  .requiredOption("--models <files>", "comma-separated .model.json files written by flowgrad vae", (v: string) =>
    v.split(",").filter(Boolean),
  )
  .addOption(
    new Option(
      "--binarize <how>",
      "test digits: threshold, or the fixed stochastic binarisation (default: as recorded in the model files)",
    ).choices(["threshold", "dynamic"]),
  )
  .option("--samples <n>", "importance samples per digit", positiveInt("samples"), 200)
  .addOption(
    new Option(
      "--split <which>",
      "the digits to score: test, or train (the digits the models were fitted on, validation digits left out: with test, how far they generalise)",
    )
      .choices(["test", "train"])
      .default("test"),
  )
  .option("--count <n>", "only the first n digits of the split", positiveInt("count"))
  .option("--out <file>", "also write the results as JSON")
  .action((o: CompareSettings) => compareCommand(o));

program
  .command("calibrate")
  .description(
    'time gpu.js (--gpu-mode) against the CPU backend across sizes and print the thresholds for "--backend auto" on this machine (FLOWGRAD_AUTO_THRESHOLD)',
  )
  .option("--ms <n>", "time per backend and size, after a warm-up run", positiveNumber("ms"), 300)
  .option(
    "--element-sizes <list>",
    "elementwise sizes, comma-separated (default 1024 … 4194304, by 4×)",
    intList("element-sizes"),
  )
  .option("--matmul-sizes <list>", "matrix sides, comma-separated (default 16 … 512, by 2×)", intList("matmul-sizes"))
  .option("--out <file>", "also write the measurements as JSON")
  .option(
    "--save",
    'save the thresholds for this machine and mode, where "auto" finds them ($FLOWGRAD_CALIBRATION, else ~/.cache/flowgrad/calibration.json)',
  )
  .action((o: { ms: number; elementSizes?: number[]; matmulSizes?: number[]; out?: string; save?: boolean }) =>
    calibrateCommand(
      program.opts<{ gpuMode?: GpuMode | "auto" }>().gpuMode,
      { msPerCase: o.ms, elementSizes: o.elementSizes, matmulSizes: o.matmulSizes },
      o.out,
      o.save ?? false,
    ),
  );

program
  .command("bench")
  .description("run the benchmark suites (from a clone of the repository: they live in bench/)")
  .option("--quick", "the short run (under 2 minutes on 2 cores)")
  .action((o: { quick?: boolean }) => {
    const runner = path.join(root, "dist/bench/run.js");
    if (!existsSync(runner))
      throw new UserError("the benchmarks run from a clone of the flowgrad repository: npm ci && npm run bench");
    const r = spawnSync(process.execPath, [runner, ...(o.quick ? ["--quick"] : [])], { stdio: "inherit" });
    process.exitCode = r.status ?? 1;
  });

exitOnInterrupt();
try {
  await program.parseAsync();
  const webgpu = loadedGpuBackend()?.info.gpuMode === "webgpu"; // loaded, even if no longer selected (calibrate)
  loadedGpuBackend()?.dispose(); // textures, kernels, and webgpu's device
  // Once loaded, Dawn (webgpu) polls for events and would keep the process alive.
  if (webgpu) process.exit(process.exitCode ?? 0);
} catch (error) {
  const debug = process.env.FLOWGRAD_DEBUG === "1";
  process.stderr.write(`flowgrad: ${(error as Error).message}\n${debug ? `${(error as Error).stack}\n` : ""}`);
  process.exit(1);
}
