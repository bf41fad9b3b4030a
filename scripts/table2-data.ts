// Follow-up 7 (docs/results.md): Table 2's planar rows fitted on fewer training digits
// (scripts/table2-data.sh, runs in results/table2-data/train<N>/), beside Table 2's own runs on
// all 8,000. The question it measures: does the flow length's step back grow as the data shrinks?

import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { Image } from "../src/models/heatmap.js";
import { lineChart } from "../src/models/line-chart.js";
import { signed, table } from "./markdown.js";
import {
  cell,
  eachSeed,
  PLANAR_BLUE,
  paired,
  pairedStep,
  perSeed,
  runOf,
  seedMean,
  seedSpread,
  seedsIn,
  shade,
  TABLE2_DIR,
  type Table2Record,
  table2Records,
} from "./table2.js";

export const DATA_DIR = "results/table2-data";
/** Table 2's own runs: fitted on the 8,000 training digits that the 1,000 validation digits leave. */
const TABLE2_DIGITS = 8000;

/** Each training-set size run, smallest first, with its runs (Table 2's planar rows of those K for 8,000). */
export function dataRecords(root: string): Array<{ digits: number; records: Table2Record[] }> {
  const dir = path.join(root, DATA_DIR);
  const sizes = existsSync(dir)
    ? readdirSync(dir)
        .map((f) => /^train(\d+)$/.exec(f))
        .filter((m) => m !== null)
        .map((m) => ({ digits: Number(m[1]), records: table2Records(root, `${DATA_DIR}/${m[0]}`) }))
    : [];
  const Ks = new Set(sizes.flatMap((s) => s.records.map((r) => r.K)));
  const table2 = table2Records(root, TABLE2_DIR).filter((r) => r.flow === "planar" && Ks.has(r.K) && r.flowLr === 1);
  return [...sizes, { digits: TABLE2_DIGITS, records: table2 }].sort((a, b) => a.digits - b.digits);
}

type Run = (seed: number) => Table2Record | undefined;

/** The mean of b − a over the test digits, paired; null where either run is missing. */
const step = (a: Table2Record | undefined, b: Table2Record | undefined) => pairedStep(a, b)?.mean ?? null;

/** seedMean of b − a, as table text. */
function acrossSeeds(seeds: number[], a: Run, b: Run): string | null {
  const m = seedMean(seeds.map((s) => step(a(s), b(s))));
  return m && `${signed(m.mean, m.standardError)} (${m.n} seeds)`;
}

/**
 * One row per training-set size and planar K (K = 0: the diagonal Gaussian): the test bound and
 * −ln p(x) per seed, the paired change from the next shorter flow per seed, and that change's mean
 * over seeds with the standard error between them.
 */
export function table2Data(root: string): string {
  const sizes = dataRecords(root);
  const rows = sizes.flatMap(({ digits, records }) => {
    const seeds = seedsIn(records);
    const Ks = [...new Set(records.map((r) => r.K))].sort((a, b) => a - b);
    return Ks.map((K, i) => {
      const at = (s: number) => runOf(records, "planar", K, s);
      const below = (s: number) => (i ? runOf(records, "planar", Ks[i - 1]!, s) : undefined);
      const each = eachSeed(seeds, at);
      return [
        `${digits.toLocaleString("en-US")}${digits === TABLE2_DIGITS ? " (Table 2)" : ""}`,
        K === 0 ? "diagonal Gaussian" : `planar K = ${K}`,
        each(cell.elbo),
        each(cell.nll),
        i ? perSeed(seeds, (s) => paired(below(s), at(s))) : "—",
        i ? (acrossSeeds(seeds, below, at) ?? "—") : "—",
        each(cell.best),
        each(cell.train),
      ];
    });
  });
  const header = [
    "training digits",
    "posterior q(z\\|x)",
    "test −ELBO (nats)",
    "test −ln p(x) (nats, S = 200)",
    "change from the row above (paired)",
    "its mean over seeds (± s.e. between seeds)",
    "best epoch of the run, stopped by",
    "train time",
  ];
  // One run's spread between seeds, per size (as under Table 2): how much a step between rows can move by chance.
  const spreads = sizes.flatMap(({ digits, records }) => {
    const s = seedSpread(records);
    return s ? [`${s.sd.toFixed(2)} nats on ${digits.toLocaleString("en-US")} digits`] : [];
  });
  const note = spreads.length
    ? `\n\nOne run's −ln p(x), standard deviation between seeds pooled over a size's rows (runs that blew up left out): ${spreads.join(", ")}.`
    : "";
  return table(header, ["---:", "---", "---:", "---:", "---:", "---:", "---", "---:"], rows) + note;
}

/**
 * The flow length's steps against the training-set size: one panel per step (K = 0 → 10, 10 → 20,
 * …), the paired change in test −ln p(x) at each size, one line per seed (later seeds paler) and
 * their mean in black (where two or more seeds have run) — below zero where the longer flow is
 * better, as in the paper.
 */
export function figureData(root: string): Image {
  const sizes = dataRecords(root);
  const all = sizes.flatMap((s) => s.records);
  const Ks = [...new Set(all.map((r) => r.K))].sort((a, b) => a - b);
  const seeds = seedsIn(all);
  const panels = Ks.slice(1).map((K, i) => {
    const steps = sizes.map(({ records }) =>
      seeds.map((seed) => step(runOf(records, "planar", Ks[i]!, seed), runOf(records, "planar", K, seed))),
    );
    return {
      title: `K = ${Ks[i]} to ${K}`,
      series: [
        ...seeds.map((seed, j) => ({
          label: `seed ${seed}`,
          colour: shade(PLANAR_BLUE, j, seeds.length),
          values: steps.map((d) => d[j]!),
        })),
        { label: "mean of the seeds", colour: [0, 0, 0] as const, values: steps.map((d) => seedMean(d)?.mean ?? null) },
      ],
    };
  });
  return lineChart(
    panels,
    sizes.map((s) => `${s.digits}`),
    "training digits (y: change in -ln p(x), nats)",
  );
}
