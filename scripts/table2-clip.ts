// Follow-up 9 to Table 2 (docs/results.md): planar and NICE rows trained again with every update's
// gradients clipped to a global norm (`flowgrad vae --clip-norm`), in results/table2-clip/, each
// paired with Table 2's unclipped run of the same row and seed; and one of Table 2's runs trained
// again with its gradient norms recorded (`--grad-norms`, changing no value), in
// results/table2-clip/norms/.

import type { GradNormSummary } from "../src/models/vae-train.js";
import { table } from "./markdown.js";
import {
  blewUp,
  cell,
  eachSeed,
  paired,
  perSeed,
  rowsOf,
  runOf,
  seedsIn,
  TABLE2_DIR,
  type Table2Record,
  table2Records,
} from "./table2.js";

export const CLIP_DIR = "results/table2-clip";
export const CLIP_NORMS_DIR = `${CLIP_DIR}/norms`;

/** What a clipped or norm-recording run adds to a Table 2 record. */
type ClipRecord = Table2Record & { clippedSteps?: number[]; gradNorms?: GradNormSummary[] };

const norm = (x: number) => Math.round(x).toLocaleString("en");

/** The largest gradient norm after epoch 1 and its update, from a run's recorded norms. */
function largestAfterFirst(r: ClipRecord): string | null {
  const later = (r.gradNorms ?? []).slice(1);
  if (later.length === 0) return null;
  const top = later.reduce((a, b) => (b.max > a.max ? b : a));
  return `${norm(top.max)} (update ${top.maxStep.toLocaleString("en")})`;
}

/** Clipped updates in epoch 1, then in the epochs after it ("then": " / " separates the seeds). */
function clipped(r: ClipRecord): string | null {
  const c = r.clippedSteps;
  if (!c?.length) return null;
  const later = c.slice(1).reduce((a, b) => a + b, 0);
  return `${c[0]} then ${later}`;
}

/**
 * The clipped rows (planar by K, then NICE by k), seeds side by side: −ln p(x), the step from the
 * clipped row of the same flow above it, the change from Table 2's unclipped run of the same row
 * and seed, planar − NICE at equal length (both clipped; and a clipped planar row against Table 2's
 * NICE), updates clipped (epoch 1, then after), the largest gradient norm after epoch 1, best epoch.
 */
export function table2Clip(root: string): string {
  const records = table2Records(root, CLIP_DIR) as ClipRecord[],
    base = table2Records(root, TABLE2_DIR);
  const seeds = seedsIn(records);
  const kinds = rowsOf(records);
  const rows = kinds.map(({ flow, K }) => {
    const at = (s: number) => runOf(records, flow, K, s) as ClipRecord | undefined;
    const each = eachSeed(seeds, at);
    const shorter = kinds.filter((k) => k.flow === flow && k.K < K).map((k) => k.K);
    const above = shorter.length ? Math.max(...shorter) : null;
    return [
      flow === "nice" ? "+ NICE, clipped" : "+ planar flow, clipped",
      `${K}`,
      each(cell.nll),
      above === null ? "—" : perSeed(seeds, (s) => paired(runOf(records, flow, above, s), at(s))),
      perSeed(seeds, (s) => paired(runOf(base, flow, K, s), at(s))),
      flow === "nice" ? perSeed(seeds, (s) => paired(at(s), runOf(records, "planar", K, s))) : "—",
      flow === "nice" ? "—" : perSeed(seeds, (s) => paired(runOf(base, "nice", K, s), at(s))),
      perSeed(seeds, (s) => {
        const b = runOf(base, flow, K, s);
        return b ? (blewUp(b) ? "blew up" : "no") : null;
      }),
      each(clipped),
      each(largestAfterFirst),
      each(cell.best),
      each(cell.train),
    ];
  });
  const note = seeds.length ? `\n\nSeeds in each cell, left to right: ${seeds.join(" / ")}.` : "";
  return `${table(
    [
      "posterior q(z\\|x)",
      "K",
      "test −ln p(x) (nats, S = 200)",
      "change from the clipped row above (paired)",
      "minus Table 2's unclipped run (paired)",
      "planar − NICE at this K, both clipped (paired)",
      "minus Table 2's NICE at this K (paired)",
      "Table 2's run blew up",
      "updates clipped (in epoch 1, then after it)",
      "largest gradient norm after epoch 1",
      "best epoch of the run, stopped by",
      "train time",
    ],
    ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---", "---:"],
    rows,
  )}${note}`;
}

/** Whether two runs agree in every validation bound and every test digit's −ln p(x). */
const sameRun = (a: Table2Record, b: Table2Record) =>
  JSON.stringify(a.validationLosses) === JSON.stringify(b.validationLosses) &&
  JSON.stringify(a.perExample) === JSON.stringify(b.perExample);

/**
 * Each recorded run's gradient norms per epoch (median, 90th percentile, largest and its update)
 * beside its validation bound, and whether it is Table 2's run of the same row and seed again.
 */
export function table2ClipNorms(root: string): string {
  const records = table2Records(root, CLIP_NORMS_DIR) as ClipRecord[],
    base = table2Records(root, TABLE2_DIR);
  const notes: string[] = [];
  const rows = records.flatMap((r) => {
    const same = runOf(base, r.flow, r.K, r.seed);
    notes.push(
      `planar K = ${r.K}, seed ${r.seed}: ${same ? (sameRun(r, same) ? "equal to Table 2's run in every validation bound and test digit" : "differs from Table 2's run") : "no Table 2 run to compare"}.`,
    );
    return (r.gradNorms ?? []).map((n, e) => [
      `planar K = ${r.K}, seed ${r.seed}`,
      `${e + 1}`,
      r.validationLosses[e]?.toFixed(2) ?? "—",
      norm(n.median),
      norm(n.p90),
      `${norm(n.max)} (update ${n.maxStep.toLocaleString("en")})`,
    ]);
  });
  return `${table(
    ["run", "epoch", "validation −ELBO", "median gradient norm", "90th percentile", "largest (its update)"],
    ["---", "---:", "---:", "---:", "---:", "---:"],
    rows,
  )}${notes.length ? `\n\n${notes.join(" ")}` : ""}`;
}
