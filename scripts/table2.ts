// The paper's Table 2 and Figure 4 from the runs of scripts/table2.sh: each run is one model (a
// posterior flow, a length K, a seed) in results/table2/<flow>-K<K>-seed<s>/, written by
// `flowgrad vae`. Rows missing runs show "—"; a row whose training stopped by time, not by early
// stopping, says so. Used by scripts/docs-tables.ts (the table in docs and README, and the figure).

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Image } from "../src/models/heatmap.js";
import { lineChart } from "../src/models/line-chart.js";
import { meanAndError, pairedDifference } from "../src/models/statistics.js";
import { pm, signed, table } from "./markdown.js";

export const TABLE2_DIR = "results/table2";
export const TABLE2_KS = [10, 20, 40, 80];
/** The paper's test −ln p(x) (Table 2) as the reference at hand gives them (../shared/reference). */
export const PAPER_NLL: Record<string, number> = {
  "planar 0": 89.9,
  "planar 10": 87.5,
  "planar 20": 86.5,
  "planar 40": 85.7,
  "planar 80": 85.1,
  "nice 80": 87.2,
};

export interface Table2Record {
  flow: string;
  K: number;
  seed: number;
  negativeElbo: number;
  negLogLikelihood: number;
  standardError: number;
  perExample: number[];
  bestEpoch: number;
  epochsRun: number;
  stoppedBy: string;
  trainSeconds: number;
  evalSeconds: number;
  /** The validation −ELBO after every epoch (the same draws each time). */
  validationLosses: number[];
  /** A run from a saved model (--start-from): its start's validation −ELBO, epoch 0 (bestEpoch 0: kept). */
  startValidationLoss?: number;
  /** The flow parameters' learning rate, as a multiple of the rest's (`vae --flow-lr`; 1 in Table 2). */
  flowLr: number;
  /** How q(z|x)'s flow parameters come from x (`vae --flow-head`; "readout", amortised, in Table 2). */
  flowHead: string;
  /** The run's folder, <flow>-K<K>-seed<s> and any suffix a follow-up gives it (-grown, -lr0.1). */
  run: string;
  /** The folder of runs it is in (results/table2, results/table2-grow, …). */
  folder: string;
}

/** Every model run found under results/table2, with its seed. */
export function table2Records(root: string, folder = TABLE2_DIR): Table2Record[] {
  const dir = path.join(root, folder);
  if (!existsSync(dir)) return [];
  const out: Table2Record[] = [];
  for (const run of readdirSync(dir).sort()) {
    const runDir = path.join(dir, run);
    if (!statSync(runDir).isDirectory()) continue; // s2000.json sits beside the runs
    for (const file of readdirSync(runDir).filter((f) => /^vae-\w+-L1\.json$/.test(f))) {
      const json = JSON.parse(readFileSync(path.join(runDir, file), "utf8"));
      for (const r of json.records)
        out.push({
          ...r,
          flow: r.K === 0 ? "planar" : r.flow,
          seed: json.settings.seed,
          flowLr: json.settings.flowLr ?? 1,
          flowHead: json.settings.flowHead ?? "readout",
          run,
          folder,
        });
    }
  }
  return out;
}

/** The table's rows in order: the diagonal Gaussian, planar K, NICE k; `above` is the row each extends. */
export const ROWS: Array<{ flow: string; K: number; label: string; above: [string, number] | null }> = [
  { flow: "planar", K: 0, label: "diagonal Gaussian", above: null },
  ...TABLE2_KS.map((K, i) => ({
    flow: "planar",
    K,
    label: "+ planar flow",
    above: ["planar", i ? TABLE2_KS[i - 1]! : 0] as [string, number],
  })),
  ...TABLE2_KS.map((K, i) => ({
    flow: "nice",
    K,
    label: "+ NICE",
    above: (i ? ["nice", TABLE2_KS[i - 1]!] : ["planar", 0]) as [string, number],
  })),
];

/** Nats above the best validation bound past which a later epoch counts as a blow-up, not noise (the tails move < 3). */
const BLOW_UP_NATS = 10;

/** The epoch index (0-based) of the worst validation bound more than BLOW_UP_NATS above the best after it; −1 if none. */
function blowUp(r: Table2Record): number {
  const v = r.validationLosses ?? [];
  const best = v[r.bestEpoch - 1];
  let worst = -1;
  if (best === undefined) return worst;
  for (let e = r.bestEpoch; e < v.length; e++)
    if (v[e]! > best + BLOW_UP_NATS && (worst < 0 || v[e]! > v[worst]!)) worst = e;
  return worst;
}

/** Whether a run's training blew up after its best epoch (its spread and steps are the blow-up's, not training noise). */
export const blewUp = (r: Table2Record) => blowUp(r) >= 0;

/** How a run stopped, and, where training blew up after its best epoch, the worst epoch that says so. */
function stoppedBy(r: Table2Record): string {
  const worst = blowUp(r);
  return worst < 0
    ? r.stoppedBy
    : `${r.stoppedBy} after training blew up (validation −ELBO ${r.validationLosses[worst]!.toFixed(0)} at epoch ${worst + 1})`;
}

const mapRun = <R, T>(r: R | undefined, f: (r: R) => T): T | null => (r ? f(r) : null);

export const runOf = (records: Table2Record[], flow: string, K: number, seed: number) =>
  records.find((r) => r.flow === flow && r.K === K && r.seed === seed);

/** Every seed that has a run, in order: the tables' values are per seed, separated by " / ". */
export const seedsIn = (records: Array<{ seed: number }>) =>
  [...new Set(records.map((r) => r.seed))].sort((a, b) => a - b);

/** One value per seed: "—" for a seed without one (so seed 1 is never read as seed 0), "—" alone when none has one. */
export function perSeed(seeds: number[], value: (seed: number) => string | null): string {
  const v = seeds.map(value);
  return v.every((x) => x === null) ? "—" : v.map((x) => x ?? "—").join(" / ");
}

type Scored = { perExample: number[] } | undefined;

/** b − a, paired over the same digits (each run's perExample), with its standard error; null where either run is missing. */
export function pairedStep(a: Scored, b: Scored): { mean: number; standardError: number } | null {
  return a && b ? pairedDifference(Float64Array.from(a.perExample), Float64Array.from(b.perExample)) : null;
}

/**
 * The mean over seeds of their steps (null where a seed's runs are missing), with the standard
 * error between seeds — the training seed's noise, which the paired errors leave out; null with
 * fewer than two seeds.
 */
export function seedMean(steps: Array<number | null>): { mean: number; standardError: number; n: number } | null {
  const d = steps.filter((x) => x !== null);
  return d.length < 2 ? null : { ...meanAndError(d), n: d.length };
}

/** pairedStep as "±" text. */
export function paired(a: Scored, b: Scored): string | null {
  const d = pairedStep(a, b);
  return d && signed(d.mean, d.standardError);
}

/** A row's cells for one run each: `f` of each seed's run (and the seed), per seed (perSeed), where `at` finds a seed's run. */
export const eachSeed =
  <R>(seeds: number[], at: (seed: number) => R | undefined) =>
  (f: (r: R, seed: number) => string | null) =>
    perSeed(seeds, (s) => mapRun(at(s), (r) => f(r, s)));

/** How Table 2 and its follow-ups show a run's values. */
export const cell = {
  elbo: (r: Table2Record) => r.negativeElbo.toFixed(2),
  nll: (r: Table2Record) => pm(r.negLogLikelihood, r.standardError, 2),
  best: (r: Table2Record) => `${r.bestEpoch === 0 ? "0 (the start)" : r.bestEpoch} of ${r.epochsRun}, ${stoppedBy(r)}`,
  train: (r: Table2Record) => `${Math.round(r.trainSeconds)} s`,
};

/**
 * How much −ln p(x) moves between training seeds of the same model: the pooled standard deviation
 * over rows with two or more seeds, √(Σ_rows Σ_seeds (x − row mean)² / Σ_rows (n − 1)), leaving out
 * runs that blew up (their spread is the blow-up's, not training noise). Null with no such row.
 */
export function seedSpread(records: Table2Record[]): { sd: number; rows: number } | null {
  const groups = new Map<string, number[]>();
  for (const r of records) {
    if (blewUp(r)) continue;
    const key = `${r.flow} ${r.K}`;
    groups.set(key, [...(groups.get(key) ?? []), r.negLogLikelihood]);
  }
  let squares = 0,
    dof = 0,
    rows = 0;
  for (const xs of groups.values()) {
    if (xs.length < 2) continue;
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    squares += xs.reduce((a, x) => a + (x - mean) ** 2, 0);
    dof += xs.length - 1;
    rows++;
  }
  return rows ? { sd: Math.sqrt(squares / dof), rows } : null;
}

/** Table 2 as markdown: per-seed values separated by " / ", seed 0 first. */
export function table2(root: string, folder = TABLE2_DIR): string {
  const records = table2Records(root, folder);
  const header = [
    "posterior q(z\\|x)",
    "K",
    "test −ELBO (nats)",
    "test −ln p(x) (nats, S = 200)",
    "change from the row it extends (paired)",
    "planar − NICE at this K (paired)",
    "best epoch of the run, stopped by",
    "train time",
    "eval time",
    "paper's −ln p(x)",
  ];
  const seeds = seedsIn(records);
  const rows = ROWS.map(({ flow, K, label, above }) => {
    const at = (s: number) => runOf(records, flow, K, s);
    const each = eachSeed(seeds, at);
    return [
      label,
      `${K}`,
      each(cell.elbo),
      each(cell.nll),
      above ? perSeed(seeds, (s) => paired(runOf(records, ...above, s), at(s))) : "—",
      flow === "nice" ? perSeed(seeds, (s) => paired(at(s), runOf(records, "planar", K, s))) : "—",
      each(cell.best),
      each(cell.train),
      each((r) => `${Math.round(r.evalSeconds)} s`),
      PAPER_NLL[`${flow} ${K}`]?.toFixed(1) ?? "—",
    ];
  });
  // The estimate's convergence: one model scored again with ten times the samples (scripts/table2.sh).
  const check = path.join(root, folder, "s2000.json");
  let note = "";
  const again = runOf(records, "planar", 10, 0);
  if (existsSync(check) && again) {
    const m = JSON.parse(readFileSync(check, "utf8")).models[0];
    note = `\n\nPlanar K = 10, seed 0, scored again with S = 2,000 importance samples: ${pm(m.negLogLikelihood, m.standardError, 2)} nats, against ${cell.nll(again)} with S = 200.`;
  }
  const spread = seedSpread(records);
  if (spread)
    note += `\n\nTraining runs' own spread: pooled over the ${spread.rows} row${spread.rows === 1 ? "" : "s"} with two or more seeds (runs that blew up left out), one run's −ln p(x) has a standard deviation of ${spread.sd.toFixed(2)} nats between seeds; the paired standard errors above measure the test digits alone.`;
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---:"], rows) + note;
}

/** A posterior by name, as the tables' run columns give it: "diagonal Gaussian", "planar K = 10", "NICE K = 20". */
export const posteriorName = (r: { flow: string; K: number }) =>
  r.K === 0 ? "diagonal Gaussian" : `${r.flow === "nice" ? "NICE" : "planar"} K = ${r.K}`;

/** Sorts rows in the table's order: the diagonal model, planar by K, NICE by K. */
export const tableOrder = (r: { flow: string; K: number }) => (r.flow === "nice" ? 1000 : 0) + r.K;

/** Rows in the table's order (tableOrder): each flow and length a folder's records have runs of, once. */
export function rowsOf(records: Array<{ flow: string; K: number }>): Array<{ flow: string; K: number }> {
  return records
    .filter((r, i) => records.findIndex((o) => o.flow === r.flow && o.K === r.K) === i)
    .map(({ flow, K }) => ({ flow, K }))
    .sort((a, b) => tableOrder(a) - tableOrder(b));
}

/**
 * The validation curves' tails: for each run, its best epoch's bound and every epoch after it, so
 * a reader sees that the bound had stopped improving when early stopping ended the run.
 * `describe` adds a follow-up's own words to a run's label.
 */
export function table2Tails(
  root: string,
  folder = TABLE2_DIR,
  describe: (r: Table2Record) => string = () => "",
): string {
  const records = table2Records(root, folder).sort((a, b) => tableOrder(a) - tableOrder(b) || a.seed - b.seed);
  const rows = records.map((r) => {
    const v = r.validationLosses ?? [],
      best = (r.bestEpoch === 0 ? r.startValidationLoss : v[r.bestEpoch - 1]) ?? Number.NaN;
    const after = v.slice(r.bestEpoch);
    const label =
      posteriorName(r) +
      (r.flowLr === 1 ? "" : `, flow lr × ${r.flowLr}`) +
      (r.flowHead === "global" ? ", global flow parameters" : "") +
      describe(r);
    return [
      label,
      `${r.seed}`,
      `${best.toFixed(2)} (epoch ${r.bestEpoch === 0 ? "0, the start" : r.bestEpoch})`,
      after.length ? after.map((x) => x.toFixed(2)).join(", ") : "—",
      after.length ? `+${(Math.min(...after) - best).toFixed(2)}` : "—",
      stoppedBy(r),
    ];
  });
  return table(
    ["run", "seed", "best validation −ELBO", "the epochs after it", "best of those − best", "stopped by"],
    ["---", "---:", "---:", "---", "---:", "---"],
    rows,
  );
}

/** A line per seed of one planar or NICE column: its runs, and the flow whose points it draws (K = 0 is the diagonal model). */
export interface FigureColumn {
  label: string;
  colour: [number, number, number];
  records: Table2Record[];
  flow: string;
}

/**
 * A figure's colour for the i-th of n seeds: seed 0 in `rgb`, each later one further toward white,
 * by 28% a seed or by 75% / (n − 1) where n seeds would pass 75%, so every seed keeps a shade of its own.
 */
export const shade = (rgb: [number, number, number], i: number, n = 1) =>
  rgb.map((c) => Math.round(c + (255 - c) * i * Math.min(0.28, 0.75 / Math.max(1, n - 1)))) as [number, number, number];

/**
 * The bound, −ln p(x) and their gap against the flow length: one line per column and training
 * seed (the seeds differ by as much as the rows do, so an average would hide it; a point is
 * missing where that seed's run is), seed 0 in the column's colour, later seeds paler. A run whose
 * training blew up is a hollow point off the line, outside the axes' range (an arrow at the edge).
 */
export function flowLengthFigure(columns: FigureColumn[], seeds: number[]): Image {
  const Ks = [0, ...TABLE2_KS];
  if (!seeds.length) seeds = [0];
  const series = (f: (r: Table2Record) => number) =>
    seeds.flatMap((seed, i) =>
      columns.map((c) => {
        const runs = Ks.map((K) => runOf(c.records, K === 0 ? "planar" : c.flow, K, seed));
        return {
          label: `${c.label}, seed ${seed}`,
          colour: shade(c.colour, i, seeds.length),
          values: runs.map((r) => mapRun(r, f)),
          apart: runs.map((r) => mapRun(r, blewUp) ?? false),
        };
      }),
    );
  return lineChart(
    [
      { title: "test -ELBO", series: series((r) => r.negativeElbo) },
      { title: "test -ln p(x)", series: series((r) => r.negLogLikelihood) },
      { title: "gap (KL to posterior)", series: series((r) => r.negativeElbo - r.negLogLikelihood) },
    ],
    Ks.map(String),
    "flow length K (nats on the y axes)",
  );
}

export const PLANAR_BLUE: [number, number, number] = [31, 119, 180],
  NICE_ORANGE: [number, number, number] = [255, 127, 14];

/** Figure 4 as the paper draws it: Table 2's planar and NICE columns against the flow length. */
export function figure4(root: string, folder = TABLE2_DIR): Image {
  const records = table2Records(root, folder);
  return flowLengthFigure(
    [
      { label: "planar", colour: PLANAR_BLUE, records, flow: "planar" },
      { label: "NICE", colour: NICE_ORANGE, records, flow: "nice" },
    ],
    seedsIn(records),
  );
}

export const SWEEP_DIR = "results/table2-sweep";
/** The training settings a sweep variant may change, with the values scripts/table2.sh trains with. */
const SWEEP_DEFAULTS: Record<string, unknown> = {
  flowHead: "readout",
  flowLr: 1,
  flowInit: "identity",
  annealSteps: 0,
  binarize: "threshold",
  optimizer: "adam",
  lr: 0.001,
};

/**
 * The screen of scripts/table2-sweep.sh: every variant's runs side by side, each trained for the
 * same minutes (all at once, one thread each), compared on the validation bound at equal epochs
 * (same seed, same validation draws), against the diagonal model trained on the same binarisation.
 */
export function table2Sweep(root: string, folder = SWEEP_DIR): string {
  const dir = path.join(root, folder);
  if (!existsSync(dir)) return "(no sweep run: bash scripts/table2-sweep.sh)";
  type Run = { variant: string; changes: string; settings: Record<string, unknown>; r: Record<string, unknown> };
  const runs: Run[] = [];
  const variants = readdirSync(dir)
    .filter((v) => statSync(path.join(dir, v)).isDirectory())
    .sort((a, b) => (a === "base" ? -1 : b === "base" ? 1 : a.localeCompare(b)));
  for (const variant of variants) {
    for (const run of readdirSync(path.join(dir, variant)).sort()) {
      const runDir = path.join(dir, variant, run);
      if (!statSync(runDir).isDirectory()) continue;
      for (const file of readdirSync(runDir).filter((f) => /^vae-\w+-L1\.json$/.test(f))) {
        const json = JSON.parse(readFileSync(path.join(runDir, file), "utf8"));
        const settings = json.settings as Record<string, unknown>;
        const changes = Object.entries(SWEEP_DEFAULTS)
          .filter(([k, v]) => settings[k] !== undefined && settings[k] !== v)
          .map(([k]) => `${k} ${String(settings[k])}`)
          .join(", ");
        for (const r of json.records) runs.push({ variant, changes: changes || "as Table 2", settings, r });
      }
    }
  }
  const at = (r: Record<string, unknown>, epoch: number) => (r.validationLosses as number[])[epoch - 1];
  // The diagonal model of the same variant, else one trained on the same binarisation (no flow, so
  // the flow settings do not touch it).
  const diagonal = (run: Run) =>
    runs.find((o) => o.r.K === 0 && o.variant === run.variant) ??
    runs.find((o) => o.r.K === 0 && o.settings.binarize === run.settings.binarize && o.settings.annealSteps === 0);
  const rows = runs.map((run) => {
    const { r } = run;
    const d = run.r.K === 0 ? null : diagonal(run);
    const common = d ? Math.min(r.epochsRun as number, d.r.epochsRun as number) : 0;
    const gap = d ? at(r, common)! - at(d.r, common)! : null;
    return [
      `${run.variant} (${run.changes})`,
      r.K === 0 ? "diagonal" : `${r.flow} K = ${r.K}`,
      `${r.epochsRun}`,
      [20, 30].map((e) => at(r, e)?.toFixed(1) ?? "—").join(" / "),
      Math.min(...(r.validationLosses as number[])).toFixed(2),
      gap === null ? "—" : `${signed(gap)} (epoch ${common})`,
      (r.negLogLikelihood as number).toFixed(2),
    ];
  });
  const header = [
    "variant (what it changes)",
    "q(z\\|x)",
    "epochs in the time",
    "validation −ELBO after epoch 20 / 30",
    "best validation −ELBO",
    "minus the diagonal model's, at equal epochs",
    `test −ln p(x) (S = ${runs[0]?.settings.samples ?? "?"})`,
  ];
  return table(header, ["---", "---", "---:", "---:", "---:", "---:", "---:"], rows);
}
