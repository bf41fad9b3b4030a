// `flowgrad vae` and `flowgrad sample`: DLGMs with flow posteriors on MNIST (section 6.2).
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { Random } from "../autograd/index.js";
import {
  type BestSoFar,
  blankImage,
  drawGrey,
  evaluateVAEAsync,
  type FlowKind,
  FlowVAE,
  type GradNormSummary,
  pairedDifference,
  sampleBinary,
  sampleDigits,
  type TrainingCheckpoint,
  trainVAEAsync,
  type VAEEvaluation,
} from "../models/index.js";
import { filesWritten, prepareOutputDir, prepareOutputFile, UserError, writeJsonAtomic, writePng } from "../node/io.js";
import { loadMnist, type MnistSplit, PIXELS } from "../node/mnist.js";
import { checkModelInputs, loadVAE, loadVAEFile, saveVAE } from "../node/model-files.js";
import { onHost } from "./host.js";
import { progress } from "./progress.js";

export interface VAESettings {
  Ks: number[];
  /** Seconds of training between checkpoints (each after an epoch); 0: after every epoch. */
  checkpointEvery: number;
  /** Stop each model's training after the epoch that passes this many minutes (then evaluate it). */
  maxMinutes?: number | undefined;
  flow: FlowKind;
  layers: 1 | 2;
  flowInit: "identity" | "random";
  flowHead: "readout" | "shared" | "global";
  latent: number;
  hidden: number;
  /** NICE only: hidden layer sizes of each coupling network */
  niceHidden: number[];
  epochs: number;
  batch: number;
  lr: number;
  optimizer: "adam" | "rmsprop";
  /** The flow's parameters learn at flowLr · lr. */
  flowLr: number;
  annealSteps: number;
  /** --clip-norm: the gradients' global norm is clipped to this before every update */
  clipNorm?: number | undefined;
  /** --grad-norms: record each epoch's gradient norms */
  gradNorms?: true | undefined;
  /** "threshold": intensity ≥ 0.5; "dynamic": a fresh Bernoulli draw per minibatch (test and validation drawn once) */
  binarize: "threshold" | "dynamic";
  /** training digits held out for early stopping (0 = none: train all epochs) */
  validation: number;
  patience: number;
  samples: number;
  seed: number;
  trainCount?: number;
  /** A saved model (.model.json) whose encoder, μ and log σ head and generative model every K starts from. */
  startFrom?: string | undefined;
  /** Train q(z|x) alone: the generative model stays as it starts (with startFrom: the saved model's). */
  fixedDecoder?: boolean | undefined;
  /** With startFrom: the saved model's flow layers start this model's first K′ too (the rest at the identity). */
  keepFlow?: boolean | undefined;
  out: string;
  /** Continue an interrupted run in `out`: finished models are kept, the rest resume from their checkpoints. */
  resume?: boolean;
}

/** The progress line's note after an epoch: its validation bound, the best so far, and how near early stopping is. */
export function earlyStoppingInfo(epoch: number, validationLoss: number, best: BestSoFar, patience: number): string {
  const left = patience - Math.max(0, epoch - best.countsFrom),
    annealing = epoch < best.countsFrom ? `annealing until epoch ${best.countsFrom}, then ` : "";
  return `validation −ELBO ${validationLoss.toFixed(2)} after epoch ${epoch} (best ${best.loss.toFixed(2)}, epoch ${best.epoch}; ${annealing}stops after ${left} more without a better one)`;
}

/** Settings a checkpoint must share with the run that resumes it (the epoch budget may grow). */
function runSignature(s: VAESettings, K: number): string {
  const {
    Ks: _ks,
    epochs: _epochs,
    out: _out,
    resume: _resume,
    samples: _samples,
    checkpointEvery: _every,
    maxMinutes: _minutes,
    ...rest
  } = s;
  return JSON.stringify({ ...rest, K });
}

/** A saved checkpoint of this K's training, if --resume and one is there; refused if its settings differ. */
function readCheckpoint(file: string, signature: string): TrainingCheckpoint | undefined {
  if (!existsSync(file)) return undefined;
  let saved: { signature?: string; state?: TrainingCheckpoint };
  try {
    saved = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UserError(`cannot read checkpoint ${file}: ${(error as Error).message}`);
  }
  if (saved?.signature !== signature || saved.state?.format !== "flowgrad.training-checkpoint")
    throw new UserError(
      `${file} is a checkpoint of a run with other settings; resume with the same options, or delete it to start over`,
    );
  return saved.state;
}

interface VAERecord extends VAEEvaluation {
  K: number;
  flow: FlowKind;
  layers: number;
  epochs: number;
  epochsRun: number;
  /** 0: no epoch beat the parameters the run started from (--start-from), which it kept */
  bestEpoch: number;
  validationLosses: number[];
  /** --clip-norm: how many updates of each epoch were clipped */
  clippedSteps?: number[];
  /** --grad-norms or --clip-norm: each epoch's gradient norms, before clipping */
  gradNorms?: GradNormSummary[];
  /** --start-from: the validation −ELBO of the start (epoch 0) */
  startValidationLoss?: number;
  binarize: "threshold" | "dynamic";
  trainSeconds: number;
  evalSeconds: number;
  finalTrainLoss: number;
  /** Why training ended: "early-stopping" (converged, in that sense), "epochs" or "time" (--max-minutes). */
  stoppedBy: "early-stopping" | "epochs" | "time";
  /** −ln p(x) of each test digit (nats, 4 decimals), so models of different runs can be paired. */
  perExample: number[];
}

function digitGrid(model: FlowVAE, file: string, seed: number): void {
  const n = 10,
    cell = 28 * 2,
    gap = 2;
  const image = blankImage(gap + n * (cell + gap), gap + n * (cell + gap));
  const digits = sampleDigits(model, n * n, seed);
  for (let i = 0; i < n * n; i++) {
    drawGrey(
      image,
      digits.subarray(i * 784, (i + 1) * 784),
      28,
      28,
      gap + (i % n) * (cell + gap),
      gap + Math.floor(i / n) * (cell + gap),
      2,
    );
  }
  writePng(file, image);
}

export async function vaeCommand(s: VAESettings): Promise<void> {
  const dir = prepareOutputDir(s.out);
  const data = loadMnist();
  const { fit, pool } = trainingSplit(data.train, s.trainCount, s.validation),
    P = PIXELS;
  // Held-out digits come from the end of the training split; the test split is never looked at.
  // With dynamic binarisation the test and validation digits are drawn once, with fixed seeds that
  // do not depend on --seed, so every model is scored on the same binary digits.
  const dynamic = s.binarize === "dynamic";
  const train = (dynamic ? data.train.intensities : data.train.images).subarray(0, fit * P);
  const heldOut = dynamic
    ? sampleBinary(data.train.intensities.subarray(fit * P, pool * P), new Random(2016))
    : data.train.images.subarray(fit * P, pool * P);
  const validation = s.validation > 0 ? heldOut : undefined;
  const test = testDigits(data.test, s.binarize);
  const records: VAERecord[] = [];
  const perExample: Float64Array[] = [];
  const start = s.startFrom === undefined ? undefined : loadVAEFile(s.startFrom).model;
  for (const K of s.Ks) {
    const stem = path.join(dir, `vae-${s.flow}-K${K}-L${s.layers}`);
    const checkpointFile = `${stem}.checkpoint.json`,
      modelFile = `${stem}.model.json`,
      signature = runSignature(s, K);
    if (s.resume && !existsSync(checkpointFile) && existsSync(modelFile)) {
      // Finished before the interruption: its record and per-digit −ln p(x) are in its model file.
      const { manifest } = loadVAEFile(modelFile);
      const done = manifest as { signature?: string; record?: VAERecord; perExample?: number[] };
      if (done.signature === signature && done.record && done.perExample) {
        records.push(done.record);
        perExample.push(Float64Array.from(done.perExample));
        console.log(`vae ${s.flow} K=${K}: finished before the interruption (${modelFile}), kept`);
        continue;
      }
    }
    const resume = s.resume ? readCheckpoint(checkpointFile, signature) : undefined;
    if (resume) console.log(`vae ${s.flow} K=${K}: resuming after epoch ${resume.epochsRun} (${checkpointFile})`);
    const model = new FlowVAE({
      K,
      flow: s.flow,
      flowInit: s.flowInit,
      flowHead: s.flowHead,
      stochasticLayers: s.layers,
      latent: s.latent,
      hidden: s.hidden,
      niceHidden: s.niceHidden,
      seed: s.seed,
    });
    if (start) {
      try {
        model.startFrom(start, { flow: s.keepFlow ?? false });
      } catch (error) {
        throw new UserError(`--start-from ${s.startFrom}: ${(error as Error).message}`);
      }
    }
    const label = `vae ${s.flow} K=${K}`;
    // The bar's 100% is the --epochs ceiling; with early stopping the info says how near the stop is.
    const bar = progress(validation ? `${label} (≤ ${s.epochs} epochs)` : label, 1);
    let result: Awaited<ReturnType<typeof trainVAEAsync>>;
    let lastValidation = "";
    try {
      const options = {
        epochs: s.epochs,
        batchSize: s.batch,
        lr: s.lr,
        optimizer: s.optimizer,
        flowLrScale: s.flowLr,
        annealSteps: s.annealSteps,
        ...(s.clipNorm !== undefined ? { clipNorm: s.clipNorm } : {}),
        recordGradNorms: s.gradNorms === true,
        seed: s.seed + 1,
        binarize: dynamic ? "dynamic" : "fixed",
        validation,
        patience: s.patience,
        fixedGenerative: s.fixedDecoder ?? false,
        // From a trained model, the start is epoch 0: kept if no epoch beats it.
        scoreStart: start !== undefined,
        onStep: (step: number, total: number, loss: number) => {
          if (step % 5 === 0 || step === total)
            bar.update(step / total, `step ${step}/${total} F ${loss.toFixed(1)}${lastValidation}`);
        },
        onEpoch: (epoch: number, v: number | null, best: BestSoFar | null) => {
          if (v !== null && best) lastValidation = ` · ${earlyStoppingInfo(epoch, v, best, s.patience)}`;
        },
        // After an epoch, at most every --checkpoint-every seconds, everything needed to continue exactly from there (--resume).
        checkpoint: (state: TrainingCheckpoint) => writeJsonAtomic(checkpointFile, { signature, state }),
        checkpointSeconds: s.checkpointEvery,
        ...(s.maxMinutes !== undefined ? { maxSeconds: s.maxMinutes * 60 } : {}),
        ...(resume ? { resume } : {}),
      } as const;
      // The async driver on every backend: it yields to the event loop, so Ctrl-C is answered mid-epoch.
      result = await trainVAEAsync(model, train, options);
    } finally {
      bar.stop();
    }
    if (validation)
      console.log(
        result.bestEpoch === 0
          ? `${label}: no epoch of ${result.epochsRun} beat the validation −ELBO of the model it started from; testing that model`
          : `${label}: best validation −ELBO after epoch ${result.bestEpoch} of ${result.epochsRun}; testing those parameters`,
      );
    // The S-sample estimate often takes longer than a short training run: say so, and how to shorten it.
    console.log(
      `${label}: estimating test −ln p(x) by importance sampling, S = ${s.samples} per digit on ${data.test.count} digits (${(s.samples * data.test.count).toLocaleString("en")} passes through the model)${s.samples > 20 ? "; --samples 20 takes a tenth of the time, with a noisier estimate" : ""}`,
    );
    const evalBar = progress(`${label} eval`, data.test.count);
    const t0 = performance.now();
    const onEvalProgress = (done: number) => evalBar.update(done);
    const { perExample: nll, ...evaluation } = await evaluateVAEAsync(model, test, s.samples, 99, onEvalProgress);
    evalBar.stop();
    perExample.push(nll);
    const record: VAERecord = {
      K,
      flow: s.flow,
      layers: s.layers,
      epochs: s.epochs,
      epochsRun: result.epochsRun,
      bestEpoch: result.bestEpoch,
      validationLosses: result.validationLosses,
      ...(s.clipNorm !== undefined ? { clippedSteps: result.clippedSteps } : {}),
      ...(result.gradNorms.length > 0 ? { gradNorms: result.gradNorms } : {}),
      ...(result.startValidationLoss !== null ? { startValidationLoss: result.startValidationLoss } : {}),
      binarize: s.binarize,
      trainSeconds: result.seconds,
      evalSeconds: (performance.now() - t0) / 1000,
      finalTrainLoss: result.losses[result.losses.length - 1]!,
      stoppedBy: result.stoppedBy,
      ...evaluation,
      perExample: Array.from(nll, (v) => Math.round(v * 1e4) / 1e4),
    };
    records.push(record);
    saveVAE(modelFile, model, {
      trainedEpochs: result.bestEpoch,
      binarize: s.binarize,
      evaluation,
      signature,
      record,
      perExample: Array.from(nll),
    });
    rmSync(checkpointFile, { force: true }); // finished: the model file is what a resume keeps
    onHost(() => digitGrid(model, `${stem}.samples.png`, s.seed));
    console.log(
      `K=${K}: test −ELBO ${record.negativeElbo.toFixed(2)}, −ln p(x) ${record.negLogLikelihood.toFixed(2)} ± ${record.standardError.toFixed(2)} nats (train ${record.trainSeconds.toFixed(0)} s, eval ${record.evalSeconds.toFixed(0)} s)`,
    );
  }
  const paired = pairedLines(
    s.Ks.map((K) => `K=${K}`),
    perExample,
  );
  writeJsonAtomic(path.join(dir, `vae-${s.flow}-L${s.layers}.json`), {
    command: `flowgrad ${process.argv.slice(2).join(" ")}`,
    settings: s,
    records,
    paired: paired.records,
  });
  const lines = [
    "| flow | K | layers | best epoch / run (stopped by) | test −ELBO | test −ln p(x) (IS, S=" +
      s.samples +
      ") | ± s.e. | train time | eval time |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of records) {
    lines.push(
      `| ${r.K === 0 ? "none (diagonal Gaussian)" : r.flow} | ${r.K} | ${r.layers} | ${r.bestEpoch} / ${r.epochsRun} (${r.stoppedBy}) | ${r.negativeElbo.toFixed(2)} | ${r.negLogLikelihood.toFixed(2)} | ${r.standardError.toFixed(2)} | ${r.trainSeconds.toFixed(0)} s | ${r.evalSeconds.toFixed(0)} s |`,
    );
  }
  console.log(
    `\n${lines.join("\n")}\n${paired.text}\nwritten:\n${filesWritten()
      .filter((f) => existsSync(f))
      .map((f) => `  ${f}`)
      .join("\n")}`,
  );
}

/** Paired differences of −ln p(x) between consecutive models, over the same test digits. */
function pairedLines(
  labels: string[],
  perExample: Float64Array[],
  split: "test" | "train" = "test",
): { records: Array<{ from: string; to: string; meanDifference: number; standardError: number }>; text: string } {
  const records = [];
  for (let i = 1; i < perExample.length; i++) {
    const d = pairedDifference(perExample[i - 1]!, perExample[i]!);
    records.push({ from: labels[i - 1]!, to: labels[i]!, meanDifference: d.mean, standardError: d.standardError });
  }
  const text = records
    .map(
      (r) =>
        `${r.to} − ${r.from}: ${r.meanDifference >= 0 ? "+" : ""}${r.meanDifference.toFixed(2)} ± ${r.standardError.toFixed(2)} nats of −ln p(x), paired over the same ${split === "test" ? "test" : "training"} digits`,
    )
    .join("\n");
  return { records, text: text ? `\n${text}\n` : "" };
}

/** The test digits a model was scored on: thresholded, or the one fixed stochastic binarisation. */
export function testDigits(test: MnistSplit, binarize: "threshold" | "dynamic"): Float64Array {
  return binarize === "dynamic" ? sampleBinary(test.intensities, new Random(2015)) : test.images;
}

/** How many of the training split's digits a run fits (`fit`, from the start) and holds out (the rest of `pool`). */
function trainingSplit(train: MnistSplit, trainCount: number | undefined, validation: number) {
  const pool = trainCount ? Math.min(trainCount, train.count) : train.count;
  if (validation >= pool)
    throw new UserError(`--validation ${validation} leaves no training digits (there are ${pool})`);
  return { fit: pool - validation, pool };
}

/**
 * The digits the models in `loaded` were fitted on (the held-out validation digits left out), as
 * their signatures record it; one fixed draw where they trained on fresh draws (dynamic).
 */
function fittedDigits(
  loaded: Array<{ file: string; manifest: Record<string, unknown> }>,
  train: MnistSplit,
  mode: "threshold" | "dynamic",
): Float64Array {
  const splits = new Set(
    loaded.map(({ file, manifest }) => {
      let s: { trainCount?: number; validation?: unknown } = {};
      try {
        s = JSON.parse(String(manifest.signature));
      } catch {
        // older model files have no signature
      }
      if (typeof s.validation !== "number")
        throw new UserError(
          `${file} does not record which digits it was trained on (no signature); --split train needs it`,
        );
      return trainingSplit(train, s.trainCount, s.validation).fit;
    }),
  );
  if (splits.size > 1)
    throw new UserError("the models were trained on different numbers of digits; --split train scores them on one set");
  const fit = [...splits][0]!;
  return mode === "dynamic"
    ? sampleBinary(train.intensities.subarray(0, fit * PIXELS), new Random(2017))
    : train.images.subarray(0, fit * PIXELS);
}

export interface CompareSettings {
  models: string[];
  /** The digits' binarisation; by default the one the model files record. */
  binarize?: "threshold" | "dynamic" | undefined;
  samples: number;
  /** "test": the test digits; "train": the digits the models were fitted on (how far they generalise). */
  split: "test" | "train";
  /** Only the first `count` digits of the split. */
  count?: number | undefined;
  out?: string | undefined;
}

/** Score saved models on the same digits: −ln p(x) of each and paired differences between consecutive ones. */
export async function compareCommand({ models, binarize, samples, split, count, out }: CompareSettings): Promise<void> {
  // Checked first: finding out after minutes of evaluation that the result cannot be written loses them.
  const outFile = out === undefined ? undefined : prepareOutputFile(out);
  const loaded = models.map((file) => ({ file, ...loadVAEFile(file) }));
  for (const { file, model } of loaded) checkModelInputs(file, model, PIXELS, "an MNIST digit");
  const modes = new Set(loaded.map((m) => binarize ?? (m.manifest.binarize === "dynamic" ? "dynamic" : "threshold")));
  if (modes.size > 1)
    throw new UserError(
      "the models were trained with different binarisations; pass --binarize to score them on one set of digits",
    );
  const mode = [...modes][0]!;
  const data = loadMnist();
  const all = split === "train" ? fittedDigits(loaded, data.train, mode) : testDigits(data.test, mode);
  const available = all.length / PIXELS;
  if (count !== undefined && count > available)
    throw new UserError(`--count ${count}: the ${split} digits number ${available}`);
  const digits = all.subarray(0, (count ?? available) * PIXELS);
  const perExample: Float64Array[] = [];
  const rows: Array<Record<string, unknown>> = [];
  for (const { file, model } of loaded) {
    const bar = progress(`eval ${path.basename(file)}`, digits.length / PIXELS);
    const onProgress = (done: number, total: number) => bar.update(done, `${done}/${total} digits`);
    const { perExample: nll, ...evaluation } = await evaluateVAEAsync(model, digits, samples, 99, onProgress);
    bar.stop();
    perExample.push(nll);
    // Each digit's −ln p(x) too, so that runs scored on the same digits can be paired later.
    rows.push({
      file,
      K: model.config.K,
      flow: model.config.flow,
      layers: model.config.stochasticLayers,
      ...evaluation,
      perExample: Array.from(nll),
    });
    console.log(
      `${path.basename(file)}: ${split === "test" ? "test" : "training-digit"} −ELBO ${evaluation.negativeElbo.toFixed(2)}, −ln p(x) ${evaluation.negLogLikelihood.toFixed(2)} ± ${evaluation.standardError.toFixed(2)} nats`,
    );
  }
  const paired = pairedLines(
    loaded.map((m) => path.basename(m.file)),
    perExample,
    split,
  );
  console.log(paired.text);
  if (outFile) {
    const file = outFile;
    writeJsonAtomic(file, {
      command: `flowgrad ${process.argv.slice(2).join(" ")}`,
      binarize: mode,
      split,
      digits: digits.length / PIXELS,
      samples,
      models: rows,
      paired: paired.records,
    });
    console.log(`written: ${file}`);
  }
}

export function sampleCommand(modelFile: string, out: string, seed: number): void {
  const file = prepareOutputFile(out);
  const model = loadVAE(modelFile);
  checkModelInputs(modelFile, model, PIXELS, "a 28 × 28 digit image");
  onHost(() => digitGrid(model, file, seed));
  console.log(`written: ${file}`);
}
