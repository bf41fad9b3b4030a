// Follow-up 8 to Table 2 (docs/results.md): rows of Table 2 trained again with the paper's annealed
// free energy, β_t = min(1, 0.01 + t/T), each run paired with Table 2's run of the same row and seed
// (trained at β = 1 throughout). The runs of each T are in results/table2-anneal/steps<T>/, from
// `bash scripts/table2.sh --out results/table2-anneal/steps<T> … -- --anneal-steps <T>`.

import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { annealedEpoch } from "../src/models/anneal.js";
import { table } from "./markdown.js";
import { cell, eachSeed, paired, perSeed, rowsOf, runOf, seedsIn, table2Records } from "./table2.js";

export const ANNEAL_DIR = "results/table2-anneal";

/** The row a row extends: the next shorter flow of its kind in the folder, else the diagonal model. */
function extended(rows: Array<{ flow: string; K: number }>, row: { flow: string; K: number }): [string, number] | null {
  if (row.K === 0) return null;
  const shorter = rows.filter((r) => r.flow === row.flow && r.K > 0 && r.K < row.K).map((r) => r.K);
  return shorter.length ? [row.flow, Math.max(...shorter)] : ["planar", 0];
}

/** The annealing lengths run: T of every results/table2-anneal/steps<T>/ folder, shortest first. */
export function annealLengths(root: string): number[] {
  const dir = path.join(root, ANNEAL_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^steps(\d+)$/.exec(f))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * The annealed rows, by annealing length, seeds side by side: each paired on the test digits with
 * the row it extends (same T), with Table 2's run of the same row and seed, and (planar rows) with
 * annealed NICE of the same length and T. `updatesPerEpoch` turns T into epochs (80: 8,000 digits in 100s).
 */
export function table2Anneal(root: string, updatesPerEpoch = 80): string {
  const base = table2Records(root);
  const body = annealLengths(root).flatMap((T) => {
    const records = table2Records(root, `${ANNEAL_DIR}/steps${T}`);
    const seeds = seedsIn(records);
    const rows = rowsOf(records);
    return rows.map((row) => {
      const at = (s: number) => runOf(records, row.flow, row.K, s);
      const each = eachSeed(seeds, at);
      const above = extended(rows, row);
      return [
        `${T.toLocaleString("en")} (epoch ${annealedEpoch(T, updatesPerEpoch)})`,
        row.K === 0 ? "diagonal Gaussian" : row.flow === "nice" ? "+ NICE" : "+ planar flow",
        `${row.K}`,
        each(cell.elbo),
        each(cell.nll),
        above ? perSeed(seeds, (s) => paired(runOf(records, ...above, s), at(s))) : "—",
        perSeed(seeds, (s) => paired(runOf(base, row.flow, row.K, s), at(s))),
        row.flow === "planar" && row.K > 0
          ? perSeed(seeds, (s) => paired(runOf(records, "nice", row.K, s), at(s)))
          : "—",
        each(cell.best),
        each(cell.train),
      ];
    });
  });
  const header = [
    "annealed over (updates; β = 1 from epoch)",
    "posterior q(z\\|x)",
    "K",
    "test −ELBO (nats)",
    "test −ln p(x) (nats, S = 200)",
    "change from the row it extends (paired)",
    "minus the same row without annealing (Table 2, paired)",
    "planar − NICE at this K (paired)",
    "best epoch of the run, stopped by",
    "train time",
  ];
  return table(header, ["---:", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:"], body);
}
