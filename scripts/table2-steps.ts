// Table 2's steps over the training seeds: each longer flow against the row it extends, and planar
// against NICE at each length, paired over the test digits per seed, then averaged over the seeds
// with the standard error between them. The paired errors under each seed measure the test digits
// alone; the error between seeds is what a step must beat to hold for another training run.

import { signed, table } from "./markdown.js";
import {
  blewUp,
  PAPER_NLL,
  pairedStep,
  perSeed,
  ROWS,
  runOf,
  seedMean,
  seedsIn,
  TABLE2_DIR,
  TABLE2_KS,
  table2Records,
} from "./table2.js";

type Row = { label: string; from: [string, number]; to: [string, number] };

/** The comparisons the paper's argument rests on, each "to − from": below zero where `to` is better. */
const STEPS: Row[] = [
  // each flow row against the row it extends, as Table 2 pairs them
  ...ROWS.flatMap(({ flow, K, above }) =>
    above
      ? [
          {
            label: `${flow === "nice" ? "NICE k" : "planar K"} = ${above[1]} → ${K}`,
            from: above,
            to: [flow, K] as [string, number],
          },
        ]
      : [],
  ),
  ...TABLE2_KS.map((K) => ({
    label: `planar − NICE at K = ${K}`,
    from: ["nice", K] as [string, number],
    to: ["planar", K] as [string, number],
  })),
];

const paperStep = ({ from, to }: Row) => {
  const a = PAPER_NLL[from.join(" ")],
    b = PAPER_NLL[to.join(" ")];
  // to the paper's one decimal place
  return a === undefined || b === undefined ? "—" : `${b >= a ? "+" : "−"}${Math.abs(b - a).toFixed(1)}`;
};

/**
 * One row per comparison: its paired change in each seed ("blew up" where either run's training
 * blew up), how many seeds go the paper's way (below zero) by more than their paired standard
 * error, the mean over the seeds whose runs trained through with the standard error between them,
 * whether that mean is below zero by more than its standard error, and the paper's change.
 */
export function table2Steps(root: string, folder = TABLE2_DIR): string {
  const records = table2Records(root, folder);
  const seeds = seedsIn(records);
  const rows = STEPS.map((row) => {
    // Each seed's pair of runs, its paired step, and whether either run blew up; worked out once.
    const perSeedStep = new Map(
      seeds.map((s) => {
        const a = runOf(records, ...row.from, s),
          b = runOf(records, ...row.to, s);
        return [s, a && b ? { d: pairedStep(a, b)!, broke: blewUp(a) || blewUp(b) } : null] as const;
      }),
    );
    const clean = seeds.flatMap((s) => {
      const x = perSeedStep.get(s);
      return x && !x.broke ? [x.d] : [];
    });
    const wins = clean.filter((d) => d.mean < -d.standardError).length;
    const m = seedMean(clean.map((d) => d.mean));
    return [
      row.label,
      perSeed(seeds, (s) => {
        const x = perSeedStep.get(s);
        return x ? `${signed(x.d.mean, x.d.standardError)}${x.broke ? " (blew up)" : ""}` : null;
      }),
      clean.length ? `${wins} of ${clean.length}` : "—",
      m ? `${signed(m.mean, m.standardError)} (${m.n} seeds)` : "—",
      m ? (m.mean < -m.standardError ? "yes" : "no") : "—",
      paperStep(row),
    ];
  });
  const header = [
    "comparison (−ln p(x), later − earlier)",
    "change per seed (paired over the test digits)",
    "seeds below zero by more than their paired s.e.",
    "mean over the seeds (± s.e. between seeds)",
    "below zero by more than that s.e.?",
    "paper's change",
  ];
  return (
    table(header, ["---", "---:", "---:", "---:", "---", "---:"], rows) +
    "\n\nBelow zero is the paper's way: the longer flow, or planar over NICE, is better. A pair where either run's training blew up (a validation bound more than 10 nats above its best after it) is shown and left out of the counts and the mean."
  );
}
