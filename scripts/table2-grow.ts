// Follow-up 6 (docs/results.md): the planar flow grown a step at a time instead of trained from
// scratch (scripts/table2-grow.sh, runs in results/table2-grow). Per seed: K = 0 and 10 as in
// Table 2 and K = 0 continued once, then from each step's best model a continued run of the same K
// and a grown run of the next K. Tables of the runs, their fit on training digits
// (scripts/table2-gaps.sh) and their layers (scripts/table2-layers.sh), and a figure.

import path from "node:path";
import type { Image } from "../src/models/heatmap.js";
import { signed, table } from "./markdown.js";
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
import { type GapRecord, gapRecords } from "./table2-gaps.js";
import { layersRecords } from "./table2-layers.js";

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

/** A row of follow-up 6's tables: its label, its run per seed, and the runs it is compared with. */
interface GrowRow {
  label: string;
  K: number;
  part: Part;
  at: (seed: number) => Table2Record | undefined;
  /** The model a run started from (undefined for a run from scratch). */
  start: (r: Table2Record) => Table2Record | undefined;
  /** For a grown run: the continued run from the same start. */
  continued: (r: Table2Record) => Table2Record | undefined;
  /** The diagonal model trained as often as a run: from scratch for a run from scratch, else continued once. */
  diagonal: (seed: number) => Table2Record | undefined;
}

/** One row per step and part, in the order the runs were made (K = 0 and 10 from scratch, then per step continued and grown). */
function growRows(records: Table2Record[]): GrowRow[] {
  const sameRow = (a: Table2Record, b: Table2Record) => a.K === b.K && partOf(a) === partOf(b);
  const order: Record<Part, number> = { scratch: 0, continued: 1, grown: 2 };
  // A continued run stays at its K; a grown run adds layers: sort by the K each started from.
  const startK = (r: Table2Record) => (partOf(r) === "grown" ? (startOf(records, r)?.K ?? r.K) : r.K);
  return records
    .filter((r, i) => records.findIndex((o) => sameRow(o, r)) === i)
    .sort((a, b) => startK(a) - startK(b) || order[partOf(a)] - order[partOf(b)])
    .map((row) => {
      const part = partOf(row);
      return {
        label:
          part === "scratch"
            ? `${row.K === 0 ? "diagonal Gaussian" : "planar"}, from scratch (as Table 2)`
            : part === "continued"
              ? "the same K, continued"
              : `grown from K = ${startK(row)}`,
        K: row.K,
        part,
        at: (s) => records.find((r) => sameRow(r, row) && r.seed === s),
        start: (r) => startOf(records, r),
        continued: (r) => {
          const start = startOf(records, r);
          return records.find((o) => o.seed === r.seed && partOf(o) === "continued" && o.K === start?.K);
        },
        diagonal: (s) =>
          records.find(
            (o) => o.seed === s && o.K === 0 && partOf(o) === (part === "scratch" ? "scratch" : "continued"),
          ),
      };
    });
}

/** Follow-up 6's runs: a folder's own, and for a variant (scripts/table2-grow.sh --from) the runs from scratch of `from`. */
function growRecords(root: string, folder: string, from: string): { own: Table2Record[]; records: Table2Record[] } {
  const own = table2Records(root, folder);
  const records = [
    ...(from === folder ? [] : table2Records(root, from).filter((r) => partOf(r) === "scratch")),
    ...own,
  ];
  return { own, records };
}

/**
 * Follow-up 6's table: test bound and −ln p(x) per run, the change from the model it started from,
 * the grown run against the continued one from the same start (the extra layers' own effect),
 * against the diagonal model trained as often, and against Table 2's run of the same K from
 * scratch; all paired over the test digits. A variant's folder (scripts/table2-grow.sh --from)
 * takes its runs from scratch from `from`.
 */
export function table2Grow(root: string, folder = GROW_DIR, from = GROW_DIR): string {
  const { own, records } = growRecords(root, folder, from);
  if (!own.length)
    return `(not run yet: bash scripts/table2-grow.sh${from === folder ? "" : ` --from ${from} --out ${folder} --flow-lr R`})`;
  // The continued and grown runs' flow lr (× 1 unless table2-grow.sh --flow-lr); the runs from scratch train at × 1.
  const rates = [...new Set(own.filter((r) => partOf(r) !== "scratch" && r.K > 0).map((r) => r.flowLr))];
  const scratch = table2Records(root, TABLE2_DIR).filter((r) => r.flow === "planar");
  const seeds = seedsIn(records);
  const rows = growRows(records).map((row) => {
    const each = eachSeed(seeds, row.at);
    return [
      row.label,
      `${row.K}`,
      each(cell.elbo),
      each(cell.nll),
      row.part === "scratch" ? "—" : each((r) => paired(row.start(r), r)),
      row.part === "grown" ? each((r) => paired(row.continued(r), r)) : "—",
      row.K === 0 ? "—" : each((r, s) => paired(row.diagonal(s), r)),
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

/**
 * How the continued and grown runs fit the digits they were trained on: each run scored on 500 of
 * its training digits and 500 test digits with the same S (scripts/table2-gaps.sh FOLDER, into
 * results/table2-gaps/<folder>/<run>.<split>.json), and the grown run against the continued one
 * from the same start on each set (paired). Extra layers that fit the training digits better but
 * not the test digits are capacity that does not generalise; on neither, they are not used.
 */
export function table2GrowFit(root: string, folder = GROW_DIR, from = GROW_DIR): string {
  const { records } = growRecords(root, folder, from);
  const gaps = gapRecords(root);
  const score = (r: Table2Record | undefined, split: "train" | "test") =>
    r && gaps.find((g) => g.folder === path.basename(r.folder) && g.run === r.run && g.split === split);
  const both = (r: Table2Record | undefined) => {
    const train = score(r, "train"),
      test = score(r, "test");
    return train && test ? { train, test } : undefined;
  };
  const seeds = seedsIn(records);
  const rows = growRows(records)
    .filter((row) => seeds.some((s) => both(row.at(s))))
    .map((row) => {
      const each = eachSeed(seeds, (s) => {
        const r = row.at(s);
        const scored = both(r);
        return r && scored ? { ...scored, r } : undefined;
      });
      const against = (other: (r: Table2Record) => Table2Record | undefined, split: "train" | "test") =>
        each(({ r, ...own }) => paired(score(other(r), split), own[split] as GapRecord));
      return [
        row.label,
        `${row.K}`,
        each(({ train }) => train.negLogLikelihood.toFixed(2)),
        each(({ test }) => test.negLogLikelihood.toFixed(2)),
        each(({ train, test }) => signed(test.negLogLikelihood - train.negLogLikelihood)),
        row.part === "scratch" ? "—" : against(row.start, "train"),
        row.part === "grown" ? against(row.continued, "train") : "—",
        row.part === "grown" ? against(row.continued, "test") : "—",
      ];
    });
  if (!rows.length) return `(not scored yet: bash scripts/table2-gaps.sh ${folder})`;
  const { samples, examples } = gaps.find((g) => [folder, from].some((f) => g.folder === path.basename(f)))!;
  const header = [
    "q(z\\|x)",
    "K",
    `−ln p(x), training digits (S = ${samples}, ${examples} digits)`,
    "−ln p(x), test digits (the same)",
    "test − training",
    "change from the model it started from, training digits (paired)",
    "grown − continued, training digits (paired)",
    "grown − continued, these test digits (paired)",
  ];
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"], rows);
}

/**
 * Whether a grown flow uses its new layers: per planar run read by scripts/table2-layers.sh (500
 * test digits × 8 draws), how far the layers it started with and the new ones move a draw (Σ ‖Δz‖
 * per draw) and their log-det, and how much the whole flow does to the bound (the test −ELBO on the
 * same draws with every layer at the identity, minus with the flow).
 */
export function table2GrowLayers(root: string, folder = GROW_DIR, from = GROW_DIR): string {
  const { records } = growRecords(root, folder, from);
  const read = layersRecords(root);
  const layersOf = (r: Table2Record | undefined) =>
    r && read.find((l) => l.folder === path.basename(r.folder) && l.run === r.run);
  const seeds = seedsIn(records);
  const sum = (xs: Array<{ step: number; logDet: number }>, key: "step" | "logDet") =>
    xs.reduce((a, l) => a + l[key], 0);
  const rows = growRows(records.filter((r) => r.K > 0))
    .filter((row) => seeds.some((s) => layersOf(row.at(s))))
    .map((row) => {
      const each = eachSeed(seeds, (s) => {
        const r = row.at(s),
          layers = layersOf(r);
        if (!r || !layers) return undefined;
        // A grown run's first layers are its start's; every layer of another run is its own.
        const old = row.part === "grown" ? (row.start(r)?.K ?? 0) : r.K;
        return { layers, old: layers.layers.slice(0, old), added: layers.layers.slice(old) };
      });
      return [
        row.label,
        `${row.K}`,
        each(({ old }) => sum(old, "step").toFixed(2)),
        row.part === "grown" ? each(({ added }) => sum(added, "step").toFixed(2)) : "—",
        each(({ old }) => signed(sum(old, "logDet"))),
        row.part === "grown" ? each(({ added }) => signed(sum(added, "logDet"))) : "—",
        each(({ layers }) => signed(layers.bounds.none - layers.bounds.all)),
      ];
    });
  if (!rows.length) return "(not read yet: bash scripts/table2-layers.sh)";
  const header = [
    "planar q(z\\|x)",
    "K",
    "Σ ‖Δz‖ per draw, the layers it started with",
    "Σ ‖Δz‖ per draw, the new layers",
    "log-det per draw, the layers it started with",
    "log-det per draw, the new layers",
    "test −ELBO without the flow minus with it (same draws)",
  ];
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---:"], rows);
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
