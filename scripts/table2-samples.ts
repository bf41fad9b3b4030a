// Has S = 200 converged, row by row? Table 2's models scored again with ten times the importance
// samples on the same test digits (flowgrad compare --samples 2000, results/table2/s2000-*.json),
// beside their S = 200 values: how far each estimate falls, and whether the paired step between
// two rows is the same at both S. An estimate that is looser for one row than another would move
// the table's order; one that falls by the same amount for every row would not.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { table } from "./markdown.js";
import { paired, posteriorName, ROWS, runOf, TABLE2_DIR, table2Records } from "./table2.js";

/** One model of a `flowgrad compare` JSON: its row, seed (from the model file's folder) and per-digit −ln p(x). */
interface Rescored {
  flow: string;
  K: number;
  seed: number;
  negLogLikelihood: number;
  standardError: number;
  perExample: number[];
}

/** The S = 2,000 scorings in results/table2 (files s2000-*.json with per-digit values), each a list of models in the order compared. */
function rescorings(root: string): Array<{ samples: number; models: Rescored[] }> {
  const dir = path.join(root, TABLE2_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^s2000-.+\.json$/.test(f))
    .sort()
    .map((f) => {
      const json = JSON.parse(readFileSync(path.join(dir, f), "utf8"));
      const models = json.models.map((m: Rescored & { file: string }) => {
        const seed = /seed(\d+)/.exec(m.file);
        if (!seed) throw new Error(`${f}: ${m.file} does not name its seed (a folder …-seed<N>)`);
        return { ...m, flow: m.K === 0 ? "planar" : m.flow, seed: Number(seed[1]) };
      });
      return { samples: json.samples as number, models };
    });
}

/**
 * Each model scored again, one row per model: −ln p(x) at S = 200 (its Table 2 run) and at the
 * larger S, the change (paired over the test digits), and the paired step from the row it extends
 * (Table 2's relation: planar K = 80 extends K = 40 of the same seed) at both S, where that row
 * was scored again too, in this scoring or another.
 */
export function table2Samples(root: string): string {
  const records = table2Records(root);
  const runs = rescorings(root);
  if (!runs.length)
    return "(not run yet: flowgrad compare --models <K = 0 model>,<K = 10 model> --samples 2000 --out results/table2/s2000-K0-K10-seed<s>.json)";
  const S = runs[0]!.samples;
  if (runs.some((r) => r.samples !== S))
    throw new Error(`${TABLE2_DIR}/s2000-*.json: scored with different S; one table shows one S`);
  const many = S.toLocaleString("en");
  const all = runs.flatMap(({ models }) => models);
  const extended = (m: Rescored) => {
    const above = ROWS.find((r) => r.flow === m.flow && r.K === m.K)?.above;
    return above ? all.find((o) => o.flow === above[0] && o.K === above[1] && o.seed === m.seed) : undefined;
  };
  const rows = all.map((m) => {
    const at200 = runOf(records, m.flow, m.K, m.seed);
    const before = extended(m);
    const before200 = before && runOf(records, before.flow, before.K, before.seed);
    return [
      posteriorName(m),
      `${m.seed}`,
      at200 ? `${at200.negLogLikelihood.toFixed(2)}` : "—",
      `${m.negLogLikelihood.toFixed(2)} ± ${m.standardError.toFixed(2)}`,
      paired(at200, m) ?? "—",
      before ? `${posteriorName(before)}: ${paired(before200, at200) ?? "—"}` : "—",
      before ? (paired(before, m) ?? "—") : "—",
    ];
  });
  return table(
    [
      "q(z\\|x)",
      "seed",
      "−ln p(x), S = 200 (Table 2)",
      `−ln p(x), S = ${many}`,
      `S = ${many} − S = 200 (paired)`,
      "change from the row it extends, S = 200 (paired)",
      `the same, S = ${many} (paired)`,
    ],
    ["---", "---:", "---:", "---:", "---:", "---:", "---:"],
    rows,
  );
}
