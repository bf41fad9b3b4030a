// `flowgrad posterior`: each test digit's own posterior, fitted for a saved model's fixed decoder
// (models/local-posterior.ts): the bound the posterior family reaches once the encoder is out of
// the picture, for K = 0 (diagonal Gaussian) and longer planar flows, on the same digits.
import { existsSync, readFileSync } from "node:fs";
import { fitLocalPosteriors, meanAndError, pairedDifference } from "../models/index.js";
import { prepareOutputFile, UserError, writeJsonAtomic } from "../node/io.js";
import { loadMnist, PIXELS } from "../node/mnist.js";
import { checkModelInputs, loadVAEFile } from "../node/model-files.js";
import { progress } from "./progress.js";
import { testDigits } from "./vae.js";

export interface PosteriorSettings {
  model: string;
  Ks: number[];
  /** The first this many test digits. */
  digits: number;
  steps: number;
  samples: number;
  lr: number;
  evalSamples: number;
  seed: number;
  out?: string | undefined;
}

export interface PosteriorRecord {
  K: number;
  negativeElbo: number;
  standardError: number;
  negLogLikelihood: number;
  encoderNegativeElbo: number;
  seconds: number;
  perExample: number[];
  perExampleNegLogLikelihood: number[];
}

export function posteriorCommand(s: PosteriorSettings): void {
  const outFile = s.out === undefined ? undefined : prepareOutputFile(s.out);
  const { model, manifest } = loadVAEFile(s.model);
  checkModelInputs(s.model, model, PIXELS, "an MNIST digit");
  if (model.config.stochasticLayers !== 1)
    throw new UserError(`${s.model}: posterior fits models with one stochastic layer only`);
  const all = testDigits(loadMnist().test, manifest.binarize === "dynamic" ? "dynamic" : "threshold");
  if (s.digits > all.length / PIXELS)
    throw new UserError(`--digits ${s.digits}: there are ${all.length / PIXELS} test digits`);
  const images = all.subarray(0, s.digits * PIXELS);
  const { out: _out, Ks: _Ks, ...settings } = s;
  // Rows already fitted with these settings (an interrupted run, run again) are kept.
  const records: PosteriorRecord[] = [];
  if (outFile && existsSync(outFile)) {
    const saved = JSON.parse(readFileSync(outFile, "utf8"));
    if (JSON.stringify(saved.settings) === JSON.stringify(settings)) records.push(...saved.records);
  }
  const save = () =>
    outFile && writeJsonAtomic(outFile, { command: `flowgrad ${process.argv.slice(2).join(" ")}`, settings, records });
  for (const K of s.Ks) {
    if (records.some((r) => r.K === K)) {
      console.log(`K=${K}: fitted before (${outFile}), kept`);
      continue;
    }
    const bar = progress(`posterior K=${K} (${s.digits} digits)`, s.steps);
    const t0 = performance.now();
    let fit: ReturnType<typeof fitLocalPosteriors>;
    try {
      fit = fitLocalPosteriors(model, images, {
        K,
        steps: s.steps,
        samples: s.samples,
        lr: s.lr,
        seed: s.seed,
        evalSamples: s.evalSamples,
        onStep: (step, steps, loss) => {
          if (step % 10 === 0 || step === steps) bar.update(step, `free energy ${loss.toFixed(2)}`);
        },
      });
    } finally {
      bar.stop();
    }
    const bound = meanAndError(fit.negativeElbo);
    records.push({
      K,
      negativeElbo: bound.mean,
      standardError: bound.standardError,
      negLogLikelihood: meanAndError(fit.negLogLikelihood).mean,
      encoderNegativeElbo: meanAndError(fit.encoderNegativeElbo).mean,
      seconds: (performance.now() - t0) / 1000,
      perExample: Array.from(fit.negativeElbo),
      perExampleNegLogLikelihood: Array.from(fit.negLogLikelihood),
    });
    save();
    const r = records.at(-1)!;
    console.log(
      `K=${K}: fitted −ELBO ${r.negativeElbo.toFixed(2)} ± ${r.standardError.toFixed(2)}, −ln p(x) ${r.negLogLikelihood.toFixed(2)} (S = ${s.evalSamples} from the fitted q), the encoder's q₀ −ELBO ${r.encoderNegativeElbo.toFixed(2)} (${r.seconds.toFixed(0)} s)`,
    );
  }
  records.sort((a, b) => a.K - b.K);
  const base = records.find((r) => r.K === 0);
  console.log("\n| K | fitted −ELBO | minus K = 0 (paired) | −ln p(x) from the fitted q | the encoder's q₀: −ELBO |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const r of records) {
    const d =
      base && r !== base ? pairedDifference(Float64Array.from(base.perExample), Float64Array.from(r.perExample)) : null;
    console.log(
      `| ${r.K} | ${r.negativeElbo.toFixed(2)} | ${d ? `${d.mean >= 0 ? "+" : "−"}${Math.abs(d.mean).toFixed(2)} ± ${d.standardError.toFixed(2)}` : "—"} | ${r.negLogLikelihood.toFixed(2)} | ${r.encoderNegativeElbo.toFixed(2)} |`,
    );
  }
  if (outFile) console.log(`\nwritten: ${outFile}`);
}
