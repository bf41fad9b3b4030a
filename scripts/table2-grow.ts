// Follow-up 6 (docs/results.md): the planar flow grown a step at a time instead of trained from
// scratch (scripts/table2-grow.sh, runs in results/table2-grow). Per seed: K = 10 as in Table 2,
// then from each step's best model a continued run of the same K and a grown run of the next K.

import type { Image } from "../src/models/heatmap.js";
import { table } from "./markdown.js";
import {
  cell,
  eachSeed,
  flowLengthFigure,
  NICE_ORANGE,
  PLANAR_BLUE,
  paired,
  runOf,
  seedsIn,
  TABLE2_DIR,
  type Table2Record,
  table2Records,
  table2Tails,
} from "./table2.js";

export const GROW_DIR = "results/table2-grow";
/** Follow-up 6 again with the continued and grown runs at flow lr × 0.5 (table2-grow.sh --flow-lr 0.5 --from GROW_DIR). */
export const GROW_LR_DIR = "results/table2-grow-lr0.5";

type Part = "scratch" | "continued" | "grown";

/** A run's part, from its folder's name: from scratch (Table 2's K = 10), -continued or -grown. */
const partOf = (r: Table2Record): Part =>
  r.run.endsWith("-continued") ? "continued" : r.run.endsWith("-grown") ? "grown" : "scratch";

/**
 * The model a run started from, in the same seed: a continued run, the scratch or grown run of its
 * K; a grown run, the scratch or grown run of the largest K below its own (the step it grew from).
 */
function startOf(records: Table2Record[], r: Table2Record): Table2Record | undefined {
  const steps = records.filter((o) => o.seed === r.seed && partOf(o) !== "continued");
  if (partOf(r) === "continued") return steps.find((o) => o.K === r.K);
  if (partOf(r) === "scratch") return undefined;
  return steps.filter((o) => o.K < r.K).sort((a, b) => b.K - a.K)[0];
}

/**
 * One row per step and part, in the order the runs were made (K = 0 and 10 from scratch, then per
 * step continued and grown): test bound and −ln p(x), the change from the model it started from,
 * the grown run against the continued one from the same start (the extra layers' own effect),
 * against the diagonal model trained as often (from scratch, or continued once), and against
 * Table 2's run of the same K from scratch; all paired over the test digits. A variant's folder
 * (scripts/table2-grow.sh --from) takes its runs from scratch from `from`.
 */
export function table2Grow(root: string, folder = GROW_DIR, from = GROW_DIR): string {
  const own = table2Records(root, folder);
  if (!own.length)
    return `(not run yet: bash scripts/table2-grow.sh${from === folder ? "" : ` --from ${from} --out ${folder} --flow-lr R`})`;
  // A variant (table2-grow.sh --from) starts from the runs from scratch of another folder.
  const records = [
    ...(from === folder ? [] : table2Records(root, from).filter((r) => partOf(r) === "scratch")),
    ...own,
  ];
  // The continued and grown runs' flow lr (× 1 unless table2-grow.sh --flow-lr); the runs from scratch train at × 1.
  const rates = [...new Set(own.filter((r) => partOf(r) !== "scratch" && r.K > 0).map((r) => r.flowLr))];
  const scratch = table2Records(root, TABLE2_DIR).filter((r) => r.flow === "planar");
  const seeds = seedsIn(records);
  const sameRow = (a: Table2Record, b: Table2Record) => a.K === b.K && partOf(a) === partOf(b);
  const order: Record<Part, number> = { scratch: 0, continued: 1, grown: 2 };
  // A continued run stays at its K; a grown run adds layers: sort by the K each started from.
  const startK = (r: Table2Record) => (partOf(r) === "grown" ? (startOf(records, r)?.K ?? r.K) : r.K);
  const rows = records
    .filter((r, i) => records.findIndex((o) => sameRow(o, r)) === i)
    .sort((a, b) => startK(a) - startK(b) || order[partOf(a)] - order[partOf(b)])
    .map((row) => {
      const at = (s: number) => records.find((r) => sameRow(r, row) && r.seed === s);
      const each = eachSeed(seeds, at);
      const part = partOf(row);
      const continued = (r: Table2Record, s: number) => {
        const start = startOf(records, r);
        return records.find((o) => o.seed === s && partOf(o) === "continued" && start && o.K === start.K);
      };
      // The diagonal model trained as often: from scratch for a run from scratch, else continued once.
      const diagonal = (s: number) =>
        records.find((o) => o.seed === s && o.K === 0 && partOf(o) === (part === "scratch" ? "scratch" : "continued"));
      return [
        part === "scratch"
          ? `${row.K === 0 ? "diagonal Gaussian" : "planar"}, from scratch (as Table 2)`
          : part === "continued"
            ? "the same K, continued"
            : `grown from K = ${startK(row)}`,
        `${row.K}`,
        each(cell.elbo),
        each(cell.nll),
        part === "scratch" ? "—" : each((r) => paired(startOf(records, r), r)),
        part === "grown" ? each((r, s) => paired(continued(r, s), r)) : "—",
        row.K === 0 ? "—" : each((r, s) => paired(diagonal(s), r)),
        each((r, s) => paired(runOf(scratch, "planar", r.K, s), r)),
        each(cell.best),
        each(cell.train),
      ];
    });
  const header = [
    `q(z\\|x); flow lr × 1 from scratch, × ${rates.join(", ") || "1"} after`,
    "K",
    "test −ELBO (nats)",
    "test −ln p(x) (nats, S = 200)",
    "change from the model it started from (paired)",
    "grown − continued, same start (paired)",
    "minus the diagonal model trained as often (paired)",
    "minus Table 2's run of this K from scratch (paired)",
    "best epoch of the run, stopped by",
    "train time",
  ];
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:"], rows);
}

/** Follow-up 6's validation tails, each run labelled with its part. */
export function table2GrowTails(root: string, folder = GROW_DIR): string {
  return table2Tails(root, folder, (r) => {
    const part = partOf(r);
    return part === "scratch" ? ", from scratch" : part === "continued" ? ", continued" : ", grown";
  });
}

/**
 * Figure 4 for follow-up 6: the grown planar column beside Table 2's planar runs from scratch at
 * the same lengths and its NICE column. The grown column is each grown run, and the continued run
 * at the lengths not grown to (K = 0 and 10): every point trained again after a first training, so
 * a step along the line is what the extra layers add.
 */
export function figure4Grow(root: string): Image {
  const base = table2Records(root);
  const runs = table2Records(root, GROW_DIR);
  const grownKs = new Set(runs.filter((r) => partOf(r) === "grown").map((r) => r.K));
  const grown = runs.filter((r) => partOf(r) === "grown" || (partOf(r) === "continued" && !grownKs.has(r.K)));
  const lengths = new Set([0, ...grown.map((r) => r.K)]);
  const planar = base.filter((r) => r.flow === "planar" && lengths.has(r.K));
  return flowLengthFigure(
    [
      { label: "planar, grown (K = 0, 10: continued)", colour: [148, 103, 189], records: grown, flow: "planar" },
      { label: "planar, from scratch", colour: PLANAR_BLUE, records: planar, flow: "planar" },
      { label: "NICE", colour: NICE_ORANGE, records: base, flow: "nice" },
    ],
    seedsIn(grown),
  );
}
