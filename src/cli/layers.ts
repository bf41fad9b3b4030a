// `flowgrad layers`: what each planar layer of a saved model's posterior does to the encoder's
// draws on the test digits (models/planar-layer-stats.ts), as a table and, with --out, as JSON.
import { boundWithLayers, planarLayerStats, TRANSLATES } from "../models/index.js";
import { prepareOutputFile, UserError, writeJsonAtomic } from "../node/io.js";
import { loadMnist, PIXELS } from "../node/mnist.js";
import { checkModelInputs, loadVAEFile } from "../node/model-files.js";
import { testDigits } from "./vae.js";

export interface LayersSettings {
  model: string;
  /** The first this many test digits. */
  digits: number;
  draws: number;
  seed: number;
  out?: string | undefined;
}

export function layersCommand(s: LayersSettings): void {
  const outFile = s.out === undefined ? undefined : prepareOutputFile(s.out);
  const { model, manifest } = loadVAEFile(s.model);
  checkModelInputs(s.model, model, PIXELS, "an MNIST digit");
  const c = model.config;
  if (c.flow !== "planar" || c.K === 0)
    throw new UserError(`${s.model}: layers reads planar flows; this model's q(z|x) is ${c.K ? c.flow : "diagonal"}`);
  if (c.stochasticLayers !== 1) throw new UserError(`${s.model}: layers reads models with one stochastic layer only`);
  const all = testDigits(loadMnist().test, manifest.binarize === "dynamic" ? "dynamic" : "threshold");
  if (s.digits > all.length / PIXELS)
    throw new UserError(`--digits ${s.digits}: there are ${all.length / PIXELS} test digits`);
  const images = all.subarray(0, s.digits * PIXELS);
  const report = planarLayerStats(model, images, { draws: s.draws, seed: s.seed });
  // The bound with only the layers that translate, or only those that bend (the rest at the identity).
  const translates = report.layers.map((l) => l.saturated >= TRANSLATES);
  const bound = (keep: (k: number) => boolean) =>
    boundWithLayers(model, images, keep, { draws: s.draws, seed: s.seed });
  const bounds = {
    all: bound(() => true),
    translating: bound((k) => translates[k]!),
    bending: bound((k) => !translates[k]),
    none: bound(() => false),
  };
  console.log(`${s.model}: planar K = ${c.K}, ${s.digits} test digits × ${s.draws} draws from the encoder's q₀\n`);
  console.log(
    "| layer | log-det | step ‖Δz‖ | saturated draws | digits split by it | ‖û‖ | wᵀû | ‖w‖ | û spread over digits |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  report.layers.forEach((l, k) =>
    console.log(
      `| ${k + 1} | ${l.logDet.toFixed(3)} | ${l.step.toFixed(3)} | ${pct(l.saturated)} | ${pct(l.bothSides)} | ${l.uHatNorm.toFixed(3)} | ${l.wDotUHat.toFixed(3)} | ${l.wNorm.toFixed(3)} | ${l.uHatSpread.toFixed(3)} |`,
    ),
  );
  console.log(`\nthe whole flow's log-det: ${report.logDet.toFixed(3)} per draw`);
  console.log(
    `the bound (−ELBO, these draws): every layer ${bounds.all.toFixed(2)}; only the ${translates.filter(Boolean).length} that translate (≥ ${100 * TRANSLATES}% of draws saturated) ${bounds.translating.toFixed(2)}; only the others ${bounds.bending.toFixed(2)}; none (q₀ in the flow's coordinates) ${bounds.none.toFixed(2)}`,
  );
  if (outFile) {
    const { out: _out, ...settings } = s;
    writeJsonAtomic(outFile, {
      command: `flowgrad ${process.argv.slice(2).join(" ")}`,
      settings,
      K: c.K,
      training: trainingOf(manifest),
      logDet: report.logDet,
      translates: TRANSLATES,
      bounds,
      layers: report.layers,
    });
    console.log(`written: ${outFile}`);
  }
}

/** The flow lr and test scores the model file records (flowgrad vae writes them), for reading the layers beside them. */
function trainingOf(manifest: Record<string, unknown>): { flowLr: number | null; negLogLikelihood: number | null } {
  let flowLr: number | null = null;
  try {
    flowLr = (JSON.parse(String(manifest.signature)) as { flowLr?: number }).flowLr ?? null;
  } catch {} // a model file without a signature (made by the library, not the CLI)
  const evaluation = manifest.evaluation as { negLogLikelihood?: number } | undefined;
  return { flowLr, negLogLikelihood: evaluation?.negLogLikelihood ?? null };
}

const pct = (f: number) => `${(100 * f).toFixed(0)}%`;
