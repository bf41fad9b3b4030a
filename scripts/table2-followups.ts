// The follow-ups to Table 2 (docs/results.md): the planar column again with the flow's learning
// rate at 10/K (results/table2-flowlr), and with one set of flow parameters for every digit
// (results/table2-global), each laid out like Table 2 and drawn against the flow length beside NICE.
// Their runs come from scripts/table2.sh --out <folder> … -- --flow-lr 10/K [--flow-head global].

import type { Image } from "../src/models/heatmap.js";
import { table } from "./markdown.js";
import {
  cell,
  eachSeed,
  flowLengthFigure,
  NICE_ORANGE,
  PLANAR_BLUE,
  paired,
  perSeed,
  runOf,
  seedsIn,
  TABLE2_KS,
  type Table2Record,
  table2Records,
} from "./table2.js";

export const FLOWLR_DIR = "results/table2-flowlr";
export const GLOBAL_DIR = "results/table2-global";
/** Table 2 again on dynamically binarised digits (scripts/table2.sh --out results/table2-dynamic … -- --binarize dynamic --flow-lr 10/K). */
export const DYNAMIC_DIR = "results/table2-dynamic";
/** Planar K at rates off the 10/K rule, one run at a time (scripts/table2.sh --out results/table2-rates … -- --flow-lr R). */
export const RATES_DIR = "results/table2-rates";

/** The flow's learning rate, as a multiple of the rest's, that the follow-ups give planar K: 10/K (× 1 at K = 10, as in Table 2). */
export const flowLrFor = (K: number) => (K <= 10 ? 1 : 10 / K);

/**
 * Table 2's records with the planar column replaced by a follow-up's planar runs at flow lr × 10/K
 * with this flow head. Table 2's own models stand in where they are the same setting: the diagonal
 * model always, and planar K = 10 for the read-out head (it trained at × 1 = 10/10). Runs at other
 * rates or with another head are left out.
 */
export function planarColumn(
  table2Runs: Table2Record[],
  followUpRuns: Table2Record[],
  flowHead: "readout" | "global",
): Table2Record[] {
  const fromTable2 = (K: number) => K === 0 || (flowHead === "readout" && K === 10);
  const kept = table2Runs.filter((r) => r.flow !== "planar" || fromTable2(r.K));
  const column = (r: Table2Record) =>
    r.flow === "planar" && !fromTable2(r.K) && r.flowLr === flowLrFor(r.K) && r.flowHead === flowHead;
  return [...kept, ...followUpRuns.filter(column)];
}

/**
 * A planar column laid out like Table 2 (seeds side by side): each row paired on the test digits
 * with the row above, with `reference`'s planar run of the same K and seed (shown as — where it is
 * the same run), and with NICE of the same length.
 */
function columnTable(
  column: Table2Record[],
  label: (K: number) => string,
  reference: { records: Table2Record[]; header: string },
): string {
  const seeds = seedsIn(column);
  const rows = [0, ...TABLE2_KS].map((K, i) => {
    const at = (s: number) => runOf(column, "planar", K, s);
    const each = eachSeed(seeds, at);
    const pairedWith = (records: Table2Record[], flow: string, K2: number) =>
      perSeed(seeds, (s) => {
        const from = runOf(records, flow, K2, s);
        return from === at(s) ? null : paired(from, at(s));
      });
    return [
      label(K),
      `${K}`,
      K === 0 ? "—" : `× ${flowLrFor(K)}`,
      each(cell.elbo),
      each(cell.nll),
      i ? pairedWith(column, "planar", i > 1 ? TABLE2_KS[i - 2]! : 0) : "—",
      pairedWith(reference.records, "planar", K),
      K ? pairedWith(column, "nice", K) : "—",
      each(cell.best),
      each(cell.train),
    ];
  });
  const header = [
    "posterior q(z\\|x)",
    "K",
    "flow lr",
    "test −ELBO (nats)",
    "test −ln p(x) (nats, S = 200)",
    "change from the row above (paired)",
    reference.header,
    "planar − NICE at this K (paired)",
    "best epoch of the run, stopped by",
    "train time",
  ];
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:"], rows);
}

/**
 * The follow-up on the flow's learning rate (scripts/table2.sh --out results/table2-flowlr … -- --flow-lr 10/K):
 * the planar column again, each K's flow at × 10/K, with paired differences from the row above,
 * from the same K at × 1 (Table 2) and from NICE at the same length.
 */
export function table2FlowLr(root: string, folder = FLOWLR_DIR): string {
  const base = table2Records(root);
  const column = planarColumn(base, table2Records(root, folder), "readout");
  return columnTable(
    column,
    (K) => (K === 0 ? "diagonal Gaussian (Table 2)" : K === 10 ? "+ planar flow (Table 2)" : "+ planar flow"),
    { records: base, header: "minus the same K at × 1 (Table 2, paired)" },
  );
}

/**
 * The follow-up on amortisation (scripts/table2.sh --out results/table2-global … -- --flow-head global
 * --flow-lr 10/K): planar flows whose parameters are one set for every digit, as NICE's couplings
 * are, at the same rates as the column above, paired with that amortised column and with NICE.
 */
export function table2Global(root: string, folder = GLOBAL_DIR): string {
  const base = table2Records(root);
  const column = planarColumn(base, table2Records(root, folder), "global");
  const amortised = planarColumn(base, table2Records(root, FLOWLR_DIR), "readout");
  return columnTable(column, (K) => (K === 0 ? "diagonal Gaussian (Table 2)" : "+ planar flow, global parameters"), {
    records: amortised,
    header: "minus the amortised flow, same K and flow lr (paired)",
  });
}

/**
 * Figure 4 for the follow-ups: the planar column at flow lr × 10/K, amortised (the read-out head)
 * and global (one set of flow parameters for every digit), beside Table 2's NICE column.
 */
export function figure4FollowUps(root: string): Image {
  const base = table2Records(root);
  return flowLengthFigure(
    [
      {
        label: "planar, lr x 10/K",
        colour: PLANAR_BLUE,
        records: planarColumn(base, table2Records(root, FLOWLR_DIR), "readout"),
        flow: "planar",
      },
      {
        label: "global planar, lr x 10/K",
        colour: [44, 160, 44],
        records: planarColumn(base, table2Records(root, GLOBAL_DIR), "global"),
        flow: "planar",
      },
      { label: "NICE", colour: NICE_ORANGE, records: base, flow: "nice" },
    ],
    seedsIn(base),
  );
}

/**
 * The amortised planar column at every flow lr run, from Table 2 (× 1), follow-up 1 (× 10/K) and
 * results/table2-rates (other rates): one row per K and rate, each paired on the test digits with
 * Table 2's planar K = 10 of the same seed.
 */
export function table2Rates(root: string): string {
  const base = table2Records(root);
  const runs = [...base, ...table2Records(root, FLOWLR_DIR), ...table2Records(root, RATES_DIR)].filter(
    (r) => r.flow === "planar" && r.K > 10 && r.flowHead === "readout",
  );
  const seeds = seedsIn(runs);
  const sameRow = (a: Table2Record, b: Table2Record) => a.K === b.K && a.flowLr === b.flowLr;
  const settings = runs
    .filter((r, i) => runs.findIndex((o) => sameRow(o, r)) === i)
    .sort((a, b) => a.K - b.K || b.flowLr - a.flowLr);
  const rows = settings.map((row) => {
    const at = (s: number) => runs.find((r) => sameRow(r, row) && r.seed === s);
    const each = eachSeed(seeds, at);
    return [
      `${row.K}`,
      `× ${row.flowLr}`,
      each(cell.nll),
      perSeed(seeds, (s) => paired(runOf(base, "planar", 10, s), at(s))),
      each(cell.best),
    ];
  });
  const header = [
    "planar K",
    "flow lr",
    "test −ln p(x) (nats, S = 200)",
    "minus planar K = 10 at × 1, same seed (paired)",
    "best epoch of the run, stopped by",
  ];
  return table(header, ["---:", "---:", "---:", "---:", "---"], rows);
}
