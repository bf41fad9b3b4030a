// `flowgrad fit` and `flowgrad demo`: the paper's section 6.1 experiments from the command line.
import path from "node:path";
import { noGrad, Random, tensor } from "../autograd/index.js";
import { ContinuousFlow, type FlowDistribution } from "../flows/index.js";
import { drawDensity, gridPoints, type Image, labelledGrid } from "../models/heatmap.js";
import {
  type CNF2DOptions,
  energy,
  estimateKLAsync,
  type Flow2DKind,
  fit2DAsync,
  type KLEstimate,
  logPartition,
  TARGETS,
  type TargetName,
} from "../models/index.js";
import { prepareOutputDir, writeJsonAtomic, writePng } from "../node/io.js";
import { onHost } from "./host.js";
import { progress } from "./progress.js";

export interface FitSettings {
  target: TargetName;
  flow: Flow2DKind;
  K: number;
  /** For flow "cnf": solver, steps, trace and gradient. */
  cnf?: CNF2DOptions;
  steps: number;
  batch: number;
  lr: number;
  optimizer: "adam" | "rmsprop";
  seed: number;
  klSamples: number;
}

export interface FitRecord extends Omit<FitSettings, "klSamples"> {
  /** Trainable numbers in q. */
  parameters: number;
  /** For a CNF: evaluations of its vector field in the last solve of the KL estimate (one batch of samples). */
  fieldEvaluations?: number;
  seconds: number;
  finalLoss: number;
  kl: KLEstimate;
}

const PANEL = 128;

/** ln p on the figure grid: −U(z) − ln Z. */
export function targetLogDensity(target: TargetName, logZ: number): Float64Array {
  const points = tensor(gridPoints(PANEL), { shape: [PANEL * PANEL, 2] });
  return noGrad(() => energy(target)(points).neg().sub(logZ).toHost().data as Float64Array);
}

/** ln q_K on the figure grid, through the flow's inverse. */
export function fittedLogDensity(q: FlowDistribution): Float64Array {
  if (q.flow.dim === 4) return sampledLogDensity(q);
  return q.logProb(tensor(gridPoints(PANEL), { shape: [PANEL * PANEL, 2] })).toHost().data as Float64Array;
}

/**
 * ln q(z) on the figure grid from a histogram of 200,000 samples: for a Hamiltonian flow, whose q
 * lives on (z, ρ), the marginal density of z has no closed form (ρ would have to be integrated out).
 */
function sampledLogDensity(q: FlowDistribution): Float64Array {
  const counts = new Float64Array(PANEL * PANEL),
    random = new Random(2024);
  for (let drawn = 0; drawn < 200_000; drawn += 10_000)
    binPoints(noGrad(() => q.sample(10_000, random).z).toHost().data, 4, counts);
  return counts.map((c) => Math.log(c)); // −∞ where no sample fell: drawn as 0
}

/** Count points (rows of `stride` values, z1 and z2 first) into the figure grid's cells over (−4, 4)². */
export function binPoints(points: ArrayLike<number>, stride: number, counts: Float64Array): void {
  const half = 4,
    h = (2 * half) / PANEL;
  for (let i = 0; i < points.length; i += stride) {
    const col = Math.floor((points[i]! + half) / h),
      row = Math.floor((half - points[i + 1]!) / h);
    if (col >= 0 && col < PANEL && row >= 0 && row < PANEL) counts[row * PANEL + col]++;
  }
}

export const FIGURE_PANEL = PANEL;

export async function runFit(settings: FitSettings, logZ: number): Promise<{ record: FitRecord; q: FlowDistribution }> {
  const { target, flow, K, steps } = settings;
  const bar = progress(`fit ${target} ${flow} K=${K}`, steps);
  let result: Awaited<ReturnType<typeof fit2DAsync>>;
  try {
    const options = {
      target,
      flow,
      K,
      steps,
      cnf: settings.cnf,
      batchSize: settings.batch,
      lr: settings.lr,
      optimizer: settings.optimizer,
      seed: settings.seed,
      onStep: (t: number, loss: number, beta: number) => {
        if (t % 50 === 0 || t === steps - 1) bar.update(t + 1, `F ${loss.toFixed(3)} β ${beta.toFixed(2)}`);
      },
    };
    // The async driver on every backend: it yields to the event loop, so Ctrl-C is answered mid-fit.
    result = await fit2DAsync(options);
  } finally {
    bar.stop();
  }
  const kl = await estimateKLAsync(result.q, target, logZ, settings.klSamples);
  const continuous = result.q.flow instanceof ContinuousFlow ? result.q.flow : null;
  const record: FitRecord = {
    target,
    flow,
    K,
    ...(settings.cnf ? { cnf: settings.cnf } : {}),
    steps,
    batch: settings.batch,
    lr: settings.lr,
    optimizer: settings.optimizer,
    seed: settings.seed,
    parameters: result.q.parameters().reduce((n, p) => n + p.size, 0),
    ...(continuous?.lastStats ? { fieldEvaluations: continuous.lastStats.evaluations } : {}),
    seconds: result.seconds,
    finalLoss: result.losses[result.losses.length - 1]!,
    kl,
  };
  return { record, q: result.q };
}

/** One figure like the paper's Figure 3: a row per target, the true density then each fit. */
/** Rows of target densities and their fits, labelled: the row's target, "true density", then `columns`. */
export function figure(
  rows: Array<{ target: TargetName; logZ: number; fits: FlowDistribution[] }>,
  columns: string[],
): Image {
  const grid = labelledGrid(
    rows.map((r) => r.target),
    ["true density", ...columns],
    PANEL,
  );
  rows.forEach((row, i) => {
    const { left, top } = grid.at(i, 0);
    drawDensity(grid.image, targetLogDensity(row.target, row.logZ), PANEL, left, top);
    row.fits.forEach((q, j) => {
      const panel = grid.at(i, j + 1);
      drawDensity(grid.image, fittedLogDensity(q), PANEL, panel.left, panel.top);
    });
  });
  return grid.image;
}

export function klTable(records: FitRecord[]): string {
  const lines = [
    "| target | flow | K | KL(q‖p) nats | ± s.e. | F | ln Z | steps | time |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of records) {
    lines.push(
      `| ${r.target} | ${r.flow} | ${r.K} | ${r.kl.augmented ? "≤ " : ""}${r.kl.kl.toFixed(4)} | ${r.kl.standardError.toFixed(4)} | ${r.kl.freeEnergy.toFixed(4)} | ${r.kl.logZ.toFixed(4)} | ${r.steps} | ${r.seconds.toFixed(1)} s |`,
    );
  }
  return lines.join("\n");
}

export async function fitCommand(settings: FitSettings, out: string): Promise<void> {
  const dir = prepareOutputDir(out);
  const logZ = onHost(() => logPartition(settings.target));
  const { record, q } = await runFit(settings, logZ);
  const stem = `${settings.target}-${settings.flow}-K${settings.K}`;
  writeJsonAtomic(path.join(dir, `${stem}.json`), {
    ...record,
    command: `flowgrad ${process.argv.slice(2).join(" ")}`,
  });
  writeJsonAtomic(path.join(dir, `${stem}.model.json`), {
    manifest: {
      kind: "flowgrad.flow2d",
      target: settings.target,
      flow: settings.flow,
      K: settings.K,
      ...(settings.cnf ? { cnf: settings.cnf } : {}),
    },
    parameters: q.stateDict(),
  });
  writePng(
    path.join(dir, `${stem}.png`),
    onHost(() => figure([{ target: settings.target, logZ, fits: [q] }], [`${settings.flow} K = ${settings.K}`])),
  );
  console.log(klTable([record]));
  console.log(`\nwritten: ${path.join(dir, stem)}.{json,model.json,png}`);
}

export async function demoCommand(options: {
  out: string;
  steps: number;
  Ks: number[];
  seed: number;
  klSamples: number;
}): Promise<void> {
  const dir = prepareOutputDir(options.out);
  const started = performance.now();
  const records: FitRecord[] = [];
  const rows: Array<{ target: TargetName; logZ: number; fits: FlowDistribution[] }> = [];
  for (const target of TARGETS) {
    const logZ = onHost(() => logPartition(target));
    const fits: FlowDistribution[] = [];
    for (const K of options.Ks) {
      const { record, q } = await runFit(
        {
          target,
          flow: "planar",
          K,
          steps: options.steps,
          batch: 200,
          lr: 0.01,
          optimizer: "adam",
          seed: options.seed,
          klSamples: options.klSamples,
        },
        logZ,
      );
      records.push(record);
      fits.push(q);
      console.log(
        `${target} planar K=${K}: KL ${record.kl.kl.toFixed(4)} ± ${record.kl.standardError.toFixed(4)} nats (${record.seconds.toFixed(1)} s)`,
      );
    }
    rows.push({ target, logZ, fits });
  }
  writePng(
    path.join(dir, "figure3.png"),
    onHost(() =>
      figure(
        rows,
        options.Ks.map((K) => `planar K = ${K}`),
      ),
    ),
  );
  writeJsonAtomic(path.join(dir, "summary.json"), {
    command: `flowgrad ${process.argv.slice(2).join(" ")}`,
    seconds: (performance.now() - started) / 1000,
    records,
  });
  console.log(`\n${klTable(records)}\n`);
  console.log(
    `figure: ${path.join(dir, "figure3.png")} (rows U1–U4; columns: true density, then K = ${options.Ks.join(", ")})`,
  );
  console.log(
    `results: ${path.join(dir, "summary.json")}; total ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}
