// Table 2's posteriors on one generative model (docs/results.md): the encoder and flow trained on a
// seed's trained diagonal model with its decoder fixed (scripts/table2-fixed.sh, runs in
// results/table2-fixed), and each test digit's own posterior fitted for that decoder (flowgrad
// posterior, results/posterior/planar-K0-seed<s>.json).

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { PosteriorRecord } from "../src/cli/posterior.js";
import { pm, signed, table } from "./markdown.js";
import { cell, eachSeed, paired, runOf, seedsIn, type Table2Record, table2Records } from "./table2.js";

export const FIXED_DIR = "results/table2-fixed";
export const POSTERIOR_DIR = "results/posterior";

/**
 * The amortised posteriors trained on a fixed decoder: each run's test bound and −ln p(x), and its
 * change from the K = 0 run on the same decoder (paired over the test digits).
 */
export function table2Fixed(root: string, folder = FIXED_DIR): string {
  const records = table2Records(root, folder);
  if (!records.length) return "(not run yet: bash scripts/table2-fixed.sh)";
  const seeds = seedsIn(records);
  // A row per flow, K and flow lr (scripts/table2-fixed.sh --rates adds rows at other rates): planar
  // before NICE, then by K, the largest rate first; the diagonal model has no flow, so no rate.
  const lrOf = (r: Table2Record) => (r.K === 0 ? 1 : r.flowLr);
  const sameRow = (a: Table2Record, b: Table2Record) => a.flow === b.flow && a.K === b.K && lrOf(a) === lrOf(b);
  const rows = records
    .filter((r, i) => records.findIndex((o) => sameRow(o, r)) === i)
    .sort((a, b) => Number(a.flow === "nice") - Number(b.flow === "nice") || a.K - b.K || lrOf(b) - lrOf(a))
    .map((row) => {
      const { flow, K } = row;
      const at = (s: number) => records.find((r) => sameRow(r, row) && r.seed === s);
      const each = eachSeed(seeds, at);
      return [
        K === 0 ? "diagonal Gaussian (the encoder trained on)" : flow === "nice" ? "+ NICE" : "+ planar flow",
        `${K}`,
        K === 0 ? "—" : each((r) => `× ${r.flowLr}`),
        each(cell.elbo),
        each(cell.nll),
        K === 0 ? "—" : each((r, s) => paired(runOf(records, "planar", 0, s), r)),
        K === 0 ? "—" : each((r, s) => boundChange(runOf(records, "planar", 0, s), r)),
        each(cell.best),
      ];
    });
  const header = [
    "posterior q(z\\|x), decoder fixed",
    "K",
    "flow lr",
    "test −ELBO (nats)",
    "test −ln p(x) (nats, S = 200)",
    "−ln p(x) minus K = 0 (paired)",
    "−ELBO minus K = 0",
    "best epoch of the run, stopped by",
  ];
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---"], rows);
}

/** The change in the test bound from a to b (the runs record its mean only, not per digit). */
function boundChange(a: { negativeElbo: number } | undefined, b: { negativeElbo: number }): string | null {
  return a ? signed(b.negativeElbo - a.negativeElbo) : null;
}

/**
 * Posteriors fitted per test digit on each seed's diagonal model (flowgrad posterior): the bound of
 * each K, its paired change from K = 0, −ln p(x) by importance sampling from the fitted q, and the
 * encoder's bound on the same digits — the amortisation gap (encoder − fitted K = 0) beside the
 * approximation gap the flow can close (fitted − −ln p(x)).
 */
export function table2LocalPosteriors(root: string, folder = POSTERIOR_DIR): string {
  const dir = path.join(root, folder);
  if (!existsSync(dir))
    return "(not run yet: flowgrad posterior --model … --out results/posterior/planar-K0-seed<s>.json)";
  const runs = readdirSync(dir)
    .map((f) => /^planar-K0-seed(\d+)\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seed: Number(m[1]), json: JSON.parse(readFileSync(path.join(dir, m[0]), "utf8")) }))
    .sort((a, b) => a.seed - b.seed);
  const seeds = runs.map((r) => r.seed);
  const at = (seed: number, K: number): PosteriorRecord | undefined =>
    runs.find((r) => r.seed === seed)?.json.records.find((r: PosteriorRecord) => r.K === K);
  const Ks = [...new Set(runs.flatMap((r) => r.json.records.map((x: PosteriorRecord) => x.K) as number[]))].sort(
    (a, b) => a - b,
  );
  const rows = Ks.map((K) => {
    const each = eachSeed(seeds, (s) => at(s, K));
    return [
      K === 0 ? "diagonal Gaussian" : "+ planar flow",
      `${K}`,
      each((r) => pm(r.negativeElbo, r.standardError, 2)),
      K === 0 ? "—" : each((r, s) => paired(at(s, 0), r)),
      each((r) => r.negLogLikelihood.toFixed(2)),
      each((r) => (r.negativeElbo - r.negLogLikelihood).toFixed(2)),
      each((r) => r.encoderNegativeElbo.toFixed(2)),
    ];
  });
  const s = runs[0]?.json.settings ?? {};
  const header = [
    "posterior fitted per digit",
    "K",
    `fitted −ELBO (nats, ${s.digits} test digits)`,
    "minus K = 0 (paired)",
    `−ln p(x), importance sampling from the fitted q (S = ${s.evalSamples})`,
    "fitted −ELBO − (−ln p(x))",
    "the encoder's diagonal q₀: −ELBO on these digits",
  ];
  return table(header, ["---", "---:", "---:", "---:", "---:", "---:", "---:"], rows);
}
