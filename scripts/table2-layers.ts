// What the trained planar layers of Table 2 and its follow-ups do (docs/results.md): each run's
// `flowgrad layers` JSON (scripts/table2-layers.sh: 500 test digits × 8 draws from the encoder's
// q₀), in results/table2-layers/<folder>/<run>.json, summarised per run: how many
// layers translate (their tanh saturated on nearly every draw), how many bend and which way, and
// the bound with only one kind kept.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { TRANSLATES } from "../src/models/planar-layer-stats.js";
import { signed, table } from "./markdown.js";
import { blewUp, eachSeed, seedsIn, TABLE2_KS, table2Records } from "./table2.js";

export const LAYERS_DIR = "results/table2-layers";

interface LayerStats {
  logDet: number;
  step: number;
  saturated: number;
  wDotUHat: number;
}

export interface LayersRecord {
  folder: string;
  /** The run's folder name: planar-K<K>-seed<s>, with a follow-up's suffix (-grown) where it has one. */
  run: string;
  K: number;
  seed: number;
  flowLr: number | null;
  negLogLikelihood: number | null;
  logDet: number;
  /** −ELBO on the same draws with every layer, only the translating ones, only the bending ones, none (flowgrad layers). */
  bounds: { all: number; translating: number; bending: number; none: number };
  layers: LayerStats[];
}

/** Every run read under results/table2-layers. */
export function layersRecords(root: string, dir = LAYERS_DIR): LayersRecord[] {
  const out: LayersRecord[] = [];
  const base = path.join(root, dir);
  if (!existsSync(base)) return out;
  const folders = readdirSync(base, { withFileTypes: true }).filter((entry) => entry.isDirectory()); // notes beside them are not runs
  for (const folder of folders.map((entry) => entry.name).sort())
    for (const file of readdirSync(path.join(base, folder)).sort()) {
      const name = /^(planar-K(\d+)-seed(\d+)(?:-[\w.]+)?)\.json$/.exec(file);
      if (!name) continue;
      const json = JSON.parse(readFileSync(path.join(base, folder, file), "utf8"));
      out.push({
        folder,
        run: name[1]!,
        K: Number(name[2]),
        seed: Number(name[3]),
        flowLr: json.training?.flowLr ?? null,
        negLogLikelihood: json.training?.negLogLikelihood ?? null,
        logDet: json.logDet,
        bounds: json.bounds,
        layers: json.layers,
      });
    }
  return out;
}

/** How many of a run's layers translate: saturated on at least TRANSLATES of the draws. */
export const translatingLayers = (r: LayersRecord): number => r.layers.filter((l) => l.saturated >= TRANSLATES).length;

/** The settings in the order docs/results.md presents them. */
const SETTINGS = [
  { folder: "table2", label: "Table 2" },
  { folder: "table2-flowlr", label: "follow-up 1 (amortised)" },
  { folder: "table2-rates", label: "follow-up 1, other rates" },
  { folder: "table2-global", label: "follow-up 2 (global)" },
  { folder: "table2-dynamic", label: "follow-up 4 (dynamic digits)" },
  { folder: "table2-anneal-steps1333", label: "follow-up 8 (annealed, 1,333 updates)" },
  { folder: "table2-anneal-steps10000", label: "follow-up 8 (annealed, 10,000 updates)" },
  { folder: "table2-clip", label: "follow-up 9 (clipped at 2,500)" },
];

/**
 * Per run (seeds side by side): −ln p(x), the layers that translate, bend outward and bend inward,
 * the flow's log-det, how far it moves a draw, and the bound with only one kind of layer kept.
 */
export function table2Layers(root: string, dir = LAYERS_DIR): string {
  const records = layersRecords(root, dir);
  if (!records.length) return "(not read yet: bash scripts/table2-layers.sh)";
  const seeds = seedsIn(records);
  const rows = SETTINGS.flatMap(({ folder, label }) =>
    TABLE2_KS.filter((K) => records.some((r) => r.folder === folder && r.K === K)).map((K) => {
      // A run of its own: a suffixed folder (follow-up 6's -grown) is not one of these rows.
      const runs = records.filter((r) => r.folder === folder && r.run === `planar-K${K}-seed${r.seed}`);
      const each = eachSeed(seeds, (s) => runs.find((r) => r.seed === s));
      const bending = (r: LayersRecord) => r.layers.filter((l) => l.saturated < TRANSLATES);
      return [
        label,
        `${K}`,
        [...new Set(runs.map((r) => (r.flowLr === null ? "?" : `× ${r.flowLr}`)))].join(", "),
        each((r) => r.negLogLikelihood?.toFixed(2) ?? "?"),
        each((r) => `${translatingLayers(r)}`),
        each((r) => `${bending(r).filter((l) => l.wDotUHat > 0).length}`),
        each((r) => `${bending(r).filter((l) => l.wDotUHat <= 0).length}`),
        each((r) => signed(r.logDet)),
        each((r) => r.layers.reduce((s, l) => s + l.step, 0).toFixed(1)),
        each((r) => signed(r.bounds.translating - r.bounds.all)),
        each((r) => signed(r.bounds.bending - r.bounds.all)),
      ];
    }),
  );
  const header = [
    "setting",
    "K",
    "flow lr",
    `test −ln p(x) (the run's; seeds ${seeds.join(" / ")})`,
    `layers that translate (≥ ${100 * TRANSLATES}% of draws saturated)`,
    "layers that bend outward (wᵀû > 0)",
    "layers that bend inward (wᵀû ≤ 0)",
    "the flow's log-det per draw",
    "Σ ‖Δz‖ per draw",
    "test −ELBO with only the translating layers, minus with all",
    "with only the bending layers, minus with all",
  ];
  return table(header, ["---", ...Array(10).fill("---:")], rows);
}

/** The seven Table 2 runs whose layers, read on 2026-11-30, showed follow-up 5's pattern. */
export const SHOWED_PATTERN = [
  "planar-K10-seed0",
  "planar-K10-seed1",
  "planar-K10-seed2",
  "planar-K20-seed0",
  "planar-K20-seed1",
  "planar-K40-seed0",
  "planar-K40-seed1",
];
/** Runs whose prediction was committed before their layers were read (results/table2-layers/predictions-2026-12-02.md). */
export const PREDICTED_IN_WRITING = [
  "planar-K10-seed3",
  "planar-K80-seed2",
  "planar-K20-seed2",
  "planar-K20-seed3",
  "planar-K40-seed2",
  "planar-K40-seed3",
];
/** "Most of the layers translate": 7 or more, where the pattern's runs had 7 to 38 or 4 or fewer. */
const MANY = 7,
  FEW = 4;

/**
 * Follow-up 5's pattern run by run: Table 2's planar runs (flow lr × 1) whose layers were read and
 * whose training did not blow up, from the lowest −ln p(x) up. The seven that showed the pattern
 * set its rule — at or below the highest −ln p(x) of theirs that translate with 7 or more layers,
 * a run translates with 7 or more; at or above the lowest of theirs with 4 or fewer, with 4 or
 * fewer — and every run read since is checked against it.
 */
export function table2LayersPattern(root: string, dir = LAYERS_DIR): string {
  const scored = new Map(table2Records(root).map((r) => [r.run, r]));
  const runs = layersRecords(root, dir)
    .filter((r) => r.folder === "table2" && r.run === `planar-K${r.K}-seed${r.seed}`)
    .map((r) => ({ ...r, translating: translatingLayers(r), scored: scored.get(r.run) }))
    .filter((r) => r.negLogLikelihood !== null && !(r.scored && blewUp(r.scored)))
    .sort((a, b) => a.negLogLikelihood! - b.negLogLikelihood!);
  const setting = runs.filter((r) => SHOWED_PATTERN.includes(r.run));
  if (!setting.length) return "(not read yet: bash scripts/table2-layers.sh)";
  const many = setting.filter((r) => r.translating >= MANY).map((r) => r.negLogLikelihood!);
  const few = setting.filter((r) => r.translating <= FEW).map((r) => r.negLogLikelihood!);
  const [low, high] = [Math.max(...many), Math.min(...few)];
  const rows = runs.map((r) => {
    const nll = r.negLogLikelihood!;
    const setTheRule = SHOWED_PATTERN.includes(r.run);
    const expected = nll <= low ? `${MANY} or more` : nll >= high ? `${FEW} or fewer` : "none (between)";
    const held = nll <= low ? r.translating >= MANY : nll >= high ? r.translating <= FEW : null;
    const read = setTheRule
      ? "set the rule (2026-11-30)"
      : PREDICTED_IN_WRITING.includes(r.run)
        ? "after, predicted in writing first"
        : "after (as the run was made)";
    return [
      `K = ${r.K}, seed ${r.seed}`,
      nll.toFixed(2),
      `${r.translating} of ${r.K}`,
      read,
      setTheRule ? "—" : expected,
      setTheRule || held === null ? "—" : held ? "yes" : "no",
    ];
  });
  const header = [
    "planar run (Table 2, flow lr × 1)",
    "test −ln p(x)",
    `layers that translate (≥ ${100 * TRANSLATES}% of draws saturated)`,
    "read",
    `the rule says (≤ ${low.toFixed(2)}: ${MANY} or more; ≥ ${high.toFixed(2)}: ${FEW} or fewer)`,
    "held",
  ];
  return table(header, ["---", "---:", "---:", "---", "---", "---"], rows);
}

/** The epochs scripts/table2-early.sh stops its runs after. */
export const EARLY_EPOCHS = [1, 3, 10, 30];

/**
 * When the layers become translations: for each run of scripts/table2-early.sh (Table 2's run
 * stopped after 1, 3, 10 and 30 epochs), its translating layers and validation −ELBO then, beside
 * what Table 2's run ended with. A run keeps its best epoch, which is said where it is not the last.
 */
export function table2Early(root: string, dir = LAYERS_DIR): string {
  const records = layersRecords(root, dir);
  const early = records.filter((r) => r.folder === "table2-early");
  if (!early.length) return "(not run yet: bash scripts/table2-early.sh)";
  // One row per Table 2 run (K, then seed), each with its readings after each epoch count.
  const runs = early
    .filter((r, i) => early.findIndex((x) => x.K === r.K && x.seed === r.seed) === i)
    .sort((a, b) => a.K - b.K || a.seed - b.seed);
  const rows = runs.map(({ K, seed }) => {
    const run = `planar-K${K}-seed${seed}`;
    const end = records.find((r) => r.folder === "table2" && r.run === run);
    const cells = EARLY_EPOCHS.map((epochs) => {
      const r = early.find((x) => x.run === `${run}-e${epochs}`);
      if (!r) return "—";
      const file = path.join(root, "results/table2-early", r.run, "vae-planar-L1.json");
      if (!existsSync(file)) return `${translatingLayers(r)}`; // read, but its training's JSON is not here
      const { bestEpoch, validationLosses } = JSON.parse(readFileSync(file, "utf8")).records[0];
      const kept = bestEpoch === epochs ? "" : ` (epoch ${bestEpoch} kept)`;
      return `${translatingLayers(r)} · ${validationLosses[bestEpoch - 1].toFixed(1)}${kept}`;
    });
    return [
      `K = ${K}, seed ${seed}`,
      end ? `${translatingLayers(end)} of ${K} · ${end.negLogLikelihood?.toFixed(2)}` : "—",
      ...cells,
    ];
  });
  const header = [
    "planar run (Table 2, flow lr × 1)",
    "at its end: layers that translate · test −ln p(x)",
    ...EARLY_EPOCHS.map((e) => `after ${e} epoch${e > 1 ? "s" : ""}: translating · validation −ELBO`),
  ];
  return table(header, ["---", ...Array(1 + EARLY_EPOCHS.length).fill("---:")], rows);
}
