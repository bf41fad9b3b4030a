// How far Table 2's models generalise (docs/results.md): each model of Table 2 and its follow-ups
// scored with the same S on the first digits it was fitted on and on the first test digits, by
// scripts/table2-gaps.sh (flowgrad compare --split train|test), one JSON per model and split in
// results/table2-gaps/<folder>/<flow>-K<K>-seed<s>.<split>.json.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { signed, table } from "./markdown.js";
import { eachSeed, paired, seedsIn, TABLE2_KS } from "./table2.js";
import { FLOWLR_DIR, flowLrFor, GLOBAL_DIR } from "./table2-followups.js";

export const GAPS_DIR = "results/table2-gaps";

export interface GapRecord {
  /** The folder of the runs scored: table2, table2-flowlr, table2-global or table2-grow. */
  folder: string;
  /** The run's folder name: <flow>-K<K>-seed<s>, with a follow-up's suffix (-grown) where it has one. */
  run: string;
  flow: string;
  K: number;
  seed: number;
  split: "train" | "test";
  negativeElbo: number;
  negLogLikelihood: number;
  perExample: number[];
  samples: number;
  examples: number;
}

/** Every scoring under results/table2-gaps. */
export function gapRecords(root: string, dir = GAPS_DIR): GapRecord[] {
  const out: GapRecord[] = [];
  const base = path.join(root, dir);
  if (!existsSync(base)) return out;
  for (const folder of readdirSync(base).sort()) {
    for (const file of readdirSync(path.join(base, folder)).sort()) {
      const name = /^((\w+)-K(\d+)-seed(\d+)(?:-[\w.]+)?)\.(train|test)\.json$/.exec(file);
      if (!name) continue;
      const json = JSON.parse(readFileSync(path.join(base, folder, file), "utf8"));
      const m = json.models[0];
      out.push({
        folder,
        run: name[1]!,
        flow: Number(name[3]) === 0 ? "planar" : name[2]!,
        K: Number(name[3]),
        seed: Number(name[4]),
        split: name[5] as "train" | "test",
        negativeElbo: m.negativeElbo,
        negLogLikelihood: m.negLogLikelihood,
        perExample: m.perExample,
        samples: json.samples,
        examples: m.examples,
      });
    }
  }
  return out;
}

/** The table's rows: Table 2's columns, then the follow-ups' planar rows that are runs of their own. */
const ROWS: Array<{ folder: string; flow: string; K: number; label: string }> = [
  { folder: "table2", flow: "planar", K: 0, label: "diagonal Gaussian" },
  ...TABLE2_KS.map((K) => ({ folder: "table2", flow: "planar", K, label: "planar, flow lr × 1 (Table 2)" })),
  ...TABLE2_KS.map((K) => ({ folder: "table2", flow: "nice", K, label: "NICE (Table 2)" })),
  ...TABLE2_KS.slice(1).map((K) => ({
    folder: path.basename(FLOWLR_DIR),
    flow: "planar",
    K,
    label: `planar, flow lr × ${flowLrFor(K)} (follow-up 1)`,
  })),
  ...TABLE2_KS.map((K) => ({
    folder: path.basename(GLOBAL_DIR),
    flow: "planar",
    K,
    label: `planar, global, flow lr × ${flowLrFor(K)} (follow-up 2)`,
  })),
];

/**
 * −ln p(x) on the digits each model was fitted on and on test digits (the same S and number of
 * digits), the difference between them, each model's change from its seed's diagonal model on
 * each set (paired over the same digits), and the bound's gap (−ELBO − (−ln p(x))) on each.
 */
export function table2Gaps(root: string, dir = GAPS_DIR): string {
  const records = gapRecords(root, dir);
  if (!records.length) return "(not scored yet: bash scripts/table2-gaps.sh)";
  const seeds = seedsIn(records);
  // A run of its own: a suffixed folder (follow-up 6's -grown) is not one of these rows.
  const find = (folder: string, flow: string, K: number, seed: number, split: string) =>
    records.find((r) => r.folder === folder && r.run === `${flow}-K${K}-seed${seed}` && r.split === split);
  const rows = ROWS.filter(({ folder, flow, K }) => seeds.some((s) => find(folder, flow, K, s, "train"))).map(
    ({ folder, flow, K, label }) => {
      const each = eachSeed(seeds, (s) => {
        const train = find(folder, flow, K, s, "train"),
          test = find(folder, flow, K, s, "test");
        return train && test ? { train, test } : undefined;
      });
      const fromDiagonal = (split: "train" | "test") => (r: Record<typeof split, GapRecord>, s: number) =>
        paired(find("table2", "planar", 0, s, split), r[split]);
      return [
        label,
        `${K}`,
        each((r) => r.train.negLogLikelihood.toFixed(2)),
        each((r) => r.test.negLogLikelihood.toFixed(2)),
        each((r) => signed(r.test.negLogLikelihood - r.train.negLogLikelihood)),
        K === 0 ? "—" : each(fromDiagonal("train")),
        K === 0 ? "—" : each(fromDiagonal("test")),
        each((r) => (r.train.negativeElbo - r.train.negLogLikelihood).toFixed(2)),
        each((r) => (r.test.negativeElbo - r.test.negLogLikelihood).toFixed(2)),
      ];
    },
  );
  const { samples, examples } = records[0]!;
  const header = [
    "posterior q(z\\|x)",
    "K",
    `−ln p(x), training digits (S = ${samples}, ${examples} digits)`,
    "−ln p(x), test digits (the same)",
    "test − training",
    "minus the diagonal model, training digits (paired)",
    "minus the diagonal model, test digits (paired)",
    "−ELBO − (−ln p(x)), training digits",
    "−ELBO − (−ln p(x)), test digits",
  ];
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"], rows);
}
