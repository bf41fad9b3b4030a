import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  figure4,
  PLANAR_BLUE,
  seedSpread,
  shade,
  table2,
  table2Records,
  table2Sweep,
  table2Tails,
} from "../scripts/table2.js";
import { table2Anneal } from "../scripts/table2-anneal.js";
import { table2Clip, table2ClipNorms } from "../scripts/table2-clip.js";
import { figureData, table2Data } from "../scripts/table2-data.js";
import { table2Fixed, table2LocalPosteriors } from "../scripts/table2-fixed.js";
import { figure4FollowUps, table2FlowLr, table2Global, table2Rates } from "../scripts/table2-followups.js";
import { table2Gaps } from "../scripts/table2-gaps.js";
import { figure4Grow, table2Grow, table2GrowFit, table2GrowLayers, table2GrowTails } from "../scripts/table2-grow.js";
import { SHOWED_PATTERN, table2Early, table2Layers, table2LayersPattern } from "../scripts/table2-layers.js";
import { table2Samples } from "../scripts/table2-samples.js";
import { table2Steps } from "../scripts/table2-steps.js";
import { inkAt } from "./helpers.js";

// Table 2 and Figure 4 are assembled from the runs' JSON (scripts/table2.sh writes them): checked
// here on made-up runs whose paired differences are worked out by hand.
function run(
  root: string,
  flow: string,
  K: number,
  seed: number,
  perExample: number[],
  extra: object = {},
  followUp?: { folder: string; flowLr: number; flowHead?: string; suffix?: string },
) {
  const dir = path.join(
    root,
    followUp?.folder ?? "results/table2",
    `${flow}-K${K}-seed${seed}${followUp?.suffix ?? ""}`,
  );
  mkdirSync(dir, { recursive: true });
  const mean = perExample.reduce((a, b) => a + b, 0) / perExample.length;
  const record = {
    K,
    flow,
    negativeElbo: mean + 5,
    negLogLikelihood: mean,
    standardError: 0.5,
    perExample,
    bestEpoch: 30,
    epochsRun: 40,
    stoppedBy: "early-stopping",
    trainSeconds: 100,
    evalSeconds: 10,
    ...extra,
  };
  const settings = { seed, flowLr: followUp?.flowLr, flowHead: followUp?.flowHead };
  writeFileSync(path.join(dir, `vae-${flow}-L1.json`), JSON.stringify({ settings, records: [record] }));
}

/** Pixels of exactly this colour in an RGBA image. */
const pixels = (image: { width: number; data: Uint8Array | Uint8ClampedArray }, rgb: readonly number[]) =>
  inkAt(image, rgb).length;

/** A follow-up table's row for flow length K, split into cells. */
const rowAt = (markdown: string, K: number) =>
  markdown
    .split("\n")
    .find((l) => new RegExp(`^\\| [^|]+ \\| ${K} \\|`).test(l))!
    .split(" | ");

/** The standard error of the mean of four paired differences, by hand: sample sd / √4, to 2 places. */
function se4(d: number[]): string {
  const m = d.reduce((a, x) => a + x, 0) / d.length;
  return (Math.sqrt(d.reduce((a, x) => a + (x - m) ** 2, 0) / (d.length - 1)) / 2).toFixed(2);
}

describe("Table 2 and Figure 4 from the runs' JSON", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-table2-"));
  run(root, "planar", 0, 0, [90, 92, 94, 96]);
  run(root, "planar", 10, 0, [89, 90, 93, 94]); // differences −1, −2, −1, −2: mean −1.5, sample sd √(1/3), s.e. sd/√4
  run(root, "nice", 10, 0, [90, 91, 93, 96], { stoppedBy: "time" });
  run(root, "planar", 0, 1, [91, 93, 95, 97]);

  it("finds every run with its seed", () => {
    expect(table2Records(root).map((r) => `${r.flow} ${r.K} ${r.seed}`)).toEqual([
      "nice 10 0",
      "planar 0 0",
      "planar 0 1",
      "planar 10 0",
    ]);
  });

  it("rows in the paper's order, seeds side by side, paired differences worked out by hand, missing runs as —", () => {
    const lines = table2(root).split("\n");
    const row = (label: string, K: number) => lines.find((l) => l.startsWith(`| ${label} | ${K} |`))!.split(" | ");
    // diagonal: two seeds, no row above it, the paper's 89.9
    expect(row("diagonal Gaussian", 0)[3]).toBe("93.00 ± 0.50 / 94.00 ± 0.50");
    expect(row("diagonal Gaussian", 0)[4]).toBe("—");
    expect(row("diagonal Gaussian", 0)[9]).toBe("89.9 |");
    // planar K = 10 against the diagonal, seed 0: d = (−1, −2, −1, −2), sd = √(1/3), s.e. = sd/2
    const se = Math.sqrt(1 / 3) / 2;
    // Seed 1 has no K = 10 run: its place says so, rather than seed 0's value standing alone.
    expect(row("+ planar flow", 10)[4]).toBe(`−1.50 ± ${se.toFixed(2)} / —`);
    expect(row("+ planar flow", 10)[3]).toBe("91.50 ± 0.50 / —");
    // NICE k = 10 extends the diagonal too; planar − NICE at K = 10: d = (−1, −1, 0, −2)
    // NICE k = 10 extends the diagonal: d = (0, −1, −1, 0), mean −0.5, sd √(1/3)
    expect(row("+ NICE", 10)[4]).toBe(`−0.50 ± ${se.toFixed(2)} / —`);
    const d = [-1, -1, 0, -2],
      m = -1,
      sd = Math.sqrt(d.reduce((a, x) => a + (x - m) ** 2, 0) / 3);
    expect(row("+ NICE", 10)[5]).toBe(`−1.00 ± ${(sd / 2).toFixed(2)} / —`);
    expect(row("+ NICE", 10)[6]).toBe("30 of 40, time / —");
    // rows not run yet
    expect(row("+ planar flow", 80)[3]).toBe("—");
    expect(row("+ planar flow", 80)[9]).toBe("85.1 |");
  });

  it("a follow-up's folder (results/table2-dynamic) gives its own Table 2, from its runs alone", () => {
    run(root, "planar", 10, 0, [80, 81, 82, 83], {}, { folder: "results/table2-dynamic", flowLr: 1 });
    const row = (K: number) => rowAt(table2(root, "results/table2-dynamic"), K);
    expect(row(10).slice(3, 5)).toEqual(["81.50 ± 0.50", "—"]); // no diagonal model of its own to pair with
    expect(row(0)[3]).toBe("—");
    expect(rowAt(table2(root), 10)[3]).toBe("91.50 ± 0.50 / —"); // Table 2 itself unchanged
  });

  it("every seed gets a shade of its own, at most 75% of the way to white", () => {
    for (const n of [2, 4, 5, 8]) {
      const reds = Array.from({ length: n }, (_, i) => shade([55, 0, 0], i, n)[0]);
      expect(reds[0]).toBe(55);
      expect(reds[n - 1]).toBeLessThanOrEqual(55 + 0.75 * 200);
      for (let i = 1; i < n; i++) expect(reds[i]! - reds[i - 1]!).toBeGreaterThanOrEqual(Math.floor((0.75 * 200) / 7));
    }
    expect(shade([55, 0, 0], 1, 2)[0]).toBe(55 + 56); // two seeds: 28% apart
  });

  it("Figure 4 draws three panels with both flows' lines, each seed in its own shade", () => {
    const image = figure4(root);
    expect(image.width).toBeGreaterThan(3 * 250);
    const count = (rgb: number[]) => pixels(image, rgb);
    expect(count([31, 119, 180])).toBeGreaterThan(100); // planar, seed 0: K = 0 and 10, joined
    // Seed 1 has only its diagonal model: a 5 × 5 point in each of the three panels, and a legend line.
    expect(count([94, 157, 201])).toBeGreaterThanOrEqual(3 * 25); // 28% of the way to white
  });

  it("with no runs at all, the table is all — and the figure still draws", () => {
    const empty = mkdtempSync(path.join(tmpdir(), "flowgrad-table2-empty-"));
    expect(
      table2(empty)
        .split("\n")
        .slice(2)
        .every((l) => l.split(" | ")[3] === "—"),
    ).toBe(true);
    expect(figure4(empty).width).toBeGreaterThan(0);
  });
});

describe("the follow-up: the planar column at flow lr × 10/K", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-flowlr-"));
  run(root, "planar", 0, 0, [90, 92, 94, 96]);
  run(root, "planar", 10, 0, [89, 90, 93, 94]);
  run(root, "planar", 20, 0, [95, 96, 97, 98]); // Table 2's K = 20, at × 1
  run(root, "nice", 20, 0, [91, 91, 92, 93]);
  run(root, "planar", 20, 0, [88, 90, 92, 94], {}, { folder: "results/table2-flowlr", flowLr: 0.5 });
  run(root, "planar", 20, 1, [80, 80, 80, 80], {}, { folder: "results/table2-flowlr", flowLr: 0.3 }); // not 10/K: not in the column
  run(root, "planar", 40, 0, [88, 89, 92, 93], {}, { folder: "results/table2-flowlr", flowLr: 0.25 });
  const row = (K: number) => rowAt(table2FlowLr(root), K);

  it("takes K = 0 and 10 from Table 2 and each longer K from its run at 10/K, leaving other rates out", () => {
    expect(row(10).slice(0, 3)).toEqual(["| + planar flow (Table 2)", "10", "× 1"]);
    expect(row(20).slice(2, 5)).toEqual(["× 0.5", "96.00", "91.00 ± 0.50"]); // seed 1's run at × 0.3 is not here
    expect(row(80)[4]).toBe("—");
  });

  it("pairs each row with the row above, with the same K at × 1 and with NICE, worked out by hand", () => {
    expect(row(20)[5]).toBe(`−0.50 ± ${se4([-1, 0, -1, 0])}`); // − K = 10
    expect(row(20)[6]).toBe(`−5.50 ± ${se4([-7, -6, -5, -4])}`); // − Table 2's K = 20
    expect(row(20)[7]).toBe(`−0.75 ± ${se4([-3, -1, 0, 1])}`); // planar − NICE
    expect(row(40)[5]).toBe(`−0.50 ± ${se4([0, -1, 0, -1])}`); // − the column's K = 20, not Table 2's
    expect(row(40).slice(6, 8)).toEqual(["—", "—"]);
  });

  it("every rate run per K, from Table 2, the follow-up and results/table2-rates, each paired with Table 2's K = 10 of its seed", () => {
    run(root, "planar", 20, 0, [87, 90, 91, 94], {}, { folder: "results/table2-rates", flowLr: 0.25 });
    const rates = table2Rates(root).split("\n");
    const at = (K: number, rate: string) => rates.find((l) => l.startsWith(`| ${K} | × ${rate} |`))?.split(" | ");
    expect(rates.slice(2).map((l) => l.split(" | ").slice(0, 2).join(" "))).toEqual([
      "| 20 × 1",
      "| 20 × 0.5",
      "| 20 × 0.3",
      "| 20 × 0.25",
      "| 40 × 0.25",
    ]);
    expect(at(20, "0.25")![2]).toBe("90.50 ± 0.50 / —");
    expect(at(20, "0.25")![3]).toBe(`−1.00 ± ${se4([-2, 0, -2, 0])} / —`);
    expect(at(20, "1")![3]).toBe(`+5.00 ± ${se4([6, 6, 4, 4])} / —`);
    expect(at(20, "0.3")!.slice(2, 4)).toEqual(["— / 80.00 ± 0.50", "—"]); // seed 1 has no K = 10 to pair with
  });

  it("the follow-up's tails name each run's flow learning rate", () => {
    expect(table2Tails(root, "results/table2-flowlr")).toContain("| planar K = 20, flow lr × 0.5 | 0 |");
    expect(table2Tails(root)).toContain("| planar K = 20 | 0 |");
  });

  it("the follow-ups' figure draws the column as a line (Figure 4 itself does not)", () => {
    // K = 0, 10, 20, 40 of seed 0, joined, in planar's blue
    expect(pixels(figure4FollowUps(root), [31, 119, 180])).toBeGreaterThan(pixels(figure4(root), [31, 119, 180]));
  });
});

describe("the follow-up: planar flows with one set of parameters for every digit", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-global-"));
  const flowlr = (flowLr: number) => ({ folder: "results/table2-flowlr", flowLr });
  const global = (flowLr: number) => ({ folder: "results/table2-global", flowLr, flowHead: "global" });
  run(root, "planar", 0, 0, [90, 92, 94, 96]);
  run(root, "planar", 10, 0, [89, 90, 93, 94]);
  run(root, "nice", 20, 0, [91, 91, 92, 93]);
  run(root, "planar", 20, 0, [95, 96, 97, 98]); // amortised, × 1: not the one to pair with
  run(root, "planar", 20, 0, [88, 90, 92, 94], {}, flowlr(0.5));
  run(root, "planar", 10, 0, [89, 91, 93, 95], {}, global(1));
  run(root, "planar", 20, 0, [87, 90, 93, 94], {}, global(0.5));
  const row = (K: number) => rowAt(table2Global(root), K);

  it("its own K = 10 (not Table 2's), each row paired with the row above, the amortised column and NICE, by hand", () => {
    expect(row(0)[0]).toBe("| diagonal Gaussian (Table 2)");
    expect(row(0)[6]).toBe("—"); // the amortised column's diagonal model is this very run
    expect(row(10).slice(0, 5)).toEqual(["| + planar flow, global parameters", "10", "× 1", "97.00", "92.00 ± 0.50"]);
    expect(row(10)[5]).toBe("−1.00 ± 0.00"); // − the diagonal model
    expect(row(10)[6]).toBe(`+0.50 ± ${se4([0, 1, 0, 1])}`); // − Table 2's K = 10
    expect(row(20)[5]).toBe(`−1.00 ± ${se4([-2, -1, 0, -1])}`); // − its own K = 10
    expect(row(20)[6]).toBe(`+0.00 ± ${se4([-1, 0, 1, 0])}`); // − the × 0.5 amortised run, not Table 2's × 1
    expect(row(20)[7]).toBe(`−0.75 ± ${se4([-4, -1, 1, 1])}`); // planar − NICE
    expect(table2Tails(root, "results/table2-global")).toContain(
      "| planar K = 20, flow lr × 0.5, global flow parameters | 0 |",
    );
  });

  it("the follow-ups' figure draws the global column in its own colour", () => {
    const green = (image: { width: number; data: Uint8Array | Uint8ClampedArray }) => pixels(image, [44, 160, 44]);
    // Against the same figure with the diagonal model alone (its point and the legend): K = 0, 10
    // and 20 joined by lines in each of the three panels.
    const bare = mkdtempSync(path.join(tmpdir(), "flowgrad-global-bare-"));
    run(bare, "planar", 0, 0, [90, 92, 94, 96]);
    expect(green(figure4FollowUps(root))).toBeGreaterThan(green(figure4FollowUps(bare)) + 3 * 100);
  });
});

describe("follow-up 9: clipped gradients, and a run's gradient norms", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-clip-"));
  const clip = { folder: "results/table2-clip", flowLr: 1 };
  const norms = (max: number[]) => max.map((m, e) => ({ median: m / 4, p90: m / 2, max: m, maxStep: 80 * e + 7 }));
  const blown = { bestEpoch: 2, epochsRun: 3, validationLosses: [120, 110, 200] };
  run(root, "planar", 40, 0, [90, 91, 92, 93]);
  run(root, "planar", 80, 0, [99, 99, 99, 99], blown);
  run(root, "planar", 40, 0, [89, 91, 91, 93], { clippedSteps: [30, 0, 1], gradNorms: norms([9000, 900, 2600]) }, clip);
  run(
    root,
    "planar",
    80,
    0,
    [88, 91, 90, 93],
    { clippedSteps: [41, 2, 0], gradNorms: norms([30000, 3100, 800]) },
    clip,
  );
  run(root, "planar", 80, 1, [95, 95, 95, 95], { clippedSteps: [12, 0] }, clip); // no K = 40 of seed 1, none in Table 2
  run(root, "nice", 40, 0, [91, 93, 93, 94]);
  run(root, "nice", 40, 0, [91, 92, 93, 94], { clippedSteps: [3, 0] }, clip);
  const rows = table2Clip(root).split("\n");
  const row = (K: number) => rows.find((l) => l.startsWith(`| + planar flow, clipped | ${K} |`))!.split(" | ");

  it("each clipped row per seed: paired with the clipped row above, Table 2's run and clipped NICE, by hand; its clip counts and largest norm after epoch 1", () => {
    expect(row(40)[2]).toBe("91.00 ± 0.50 / —");
    expect(row(40)[3]).toBe("—");
    expect(row(40)[4]).toBe(`−0.50 ± ${se4([-1, 0, -1, 0])} / —`);
    expect(row(40)[5]).toBe("—"); // planar − NICE sits on the NICE rows
    expect(row(40)[6]).toBe(`−1.75 ± ${se4([-2, -2, -2, -1])} / —`); // − Table 2's NICE k = 40
    expect(row(40)[7]).toBe("no / —");
    expect(row(40).slice(8, 10)).toEqual(["30 then 1 / —", "2,600 (update 167) / —"]);
    expect(row(80)[3]).toBe(`−0.50 ± ${se4([-1, 0, -1, 0])} / —`); // clipped K = 80 − clipped K = 40
    expect(row(80)[4]).toBe(`−8.50 ± ${se4([-11, -8, -9, -6])} / —`);
    expect(row(80)[6]).toBe("—"); // no NICE k = 80 in Table 2 here
    expect(row(80)[7]).toBe("blew up / —");
    expect(row(80).slice(8, 10)).toEqual(["41 then 2 / 12 then 0", "3,100 (update 87) / —"]);
    const nice = rows.find((l) => l.startsWith("| + NICE, clipped | 40 |"))!.split(" | ");
    expect(nice[2]).toBe("92.50 ± 0.50 / —");
    expect(nice[3]).toBe("—"); // no shorter clipped NICE
    expect(nice[4]).toBe(`−0.25 ± ${se4([0, -1, 0, 0])} / —`); // − Table 2's NICE k = 40
    expect(nice[5]).toBe(`−1.50 ± ${se4([-2, -1, -2, -1])} / —`); // clipped planar K = 40 − clipped NICE k = 40
    expect(nice[6]).toBe("—");
    expect(rows.at(-1)).toBe("Seeds in each cell, left to right: 0 / 1.");
  });

  it("a recorded run's norms per epoch beside its validation bound, and whether it is Table 2's run again", () => {
    const norms2 = { gradNorms: norms([20000, 700]), validationLosses: [150, 140], bestEpoch: 2, epochsRun: 2 };
    run(root, "planar", 40, 0, [90, 91, 92, 93], { ...norms2 }, { folder: "results/table2-clip/norms", flowLr: 1 });
    let text = table2ClipNorms(root);
    expect(text.split("\n")[3]).toBe("| planar K = 40, seed 0 | 2 | 140.00 | 175 | 350 | 700 (update 87) |");
    // Table 2's run has other validation bounds (none given): not the same run.
    expect(text).toContain("planar K = 40, seed 0: differs from Table 2's run.");
    run(root, "planar", 40, 0, [90, 91, 92, 93], { validationLosses: [150, 140] });
    text = table2ClipNorms(root);
    expect(text).toContain("planar K = 40, seed 0: equal to Table 2's run in every validation bound and test digit.");
  });
});

describe("the training seeds' spread under Table 2", () => {
  it("pools the seeds' variance over rows (n − 1 each), leaving out runs that blew up", () => {
    const root = mkdtempSync(path.join(tmpdir(), "flowgrad-spread-"));
    for (const [seed, x] of [90, 91, 95].entries()) run(root, "nice", 20, seed, [x, x]); // mean 92: squares 4 + 1 + 9
    run(root, "planar", 0, 0, [93, 93]);
    run(root, "planar", 0, 1, [94, 94]); // squares 0.25 + 0.25
    const blewUp = { bestEpoch: 1, epochsRun: 3, validationLosses: [100, 150, 140] };
    run(root, "planar", 80, 0, [100, 100], blewUp);
    run(root, "planar", 80, 1, [130, 130], blewUp);
    const spread = seedSpread(table2Records(root))!;
    expect(spread.rows).toBe(2);
    expect(spread.sd).toBeCloseTo(Math.sqrt(14.5 / 3), 12);
    expect(table2(root)).toContain(
      `pooled over the 2 rows with two or more seeds (runs that blew up left out), one run's −ln p(x) has a standard deviation of ${Math.sqrt(14.5 / 3).toFixed(2)} nats`,
    );
    expect(seedSpread(table2Records(root).filter((r) => r.seed === 0))).toBeNull();
  });
});

describe("Table 2's steps over the training seeds", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-steps-"));
  run(root, "planar", 0, 0, [90, 92, 94, 96]);
  run(root, "planar", 10, 0, [89, 90, 93, 94]); // −1, −2, −1, −2: −1.50 ± √(1/3)/2
  run(root, "planar", 0, 1, [90, 90, 90, 90]);
  run(root, "planar", 10, 1, [91, 91, 91, 91]); // +1 on every digit
  run(root, "planar", 0, 2, [90, 90, 90, 90]);
  run(root, "planar", 10, 2, [88, 88, 88, 88]); // −2
  run(root, "planar", 20, 0, [100, 100, 100, 100], { bestEpoch: 1, epochsRun: 3, validationLosses: [100, 150, 140] });
  run(root, "planar", 20, 1, [90, 90, 90, 90]); // −1
  run(root, "planar", 20, 2, [87, 87, 87, 87]); // −1
  const rows = table2Steps(root).split("\n");
  const row = (label: string) =>
    rows
      .find((l) => l.startsWith(`| ${label} |`))!
      .split(" | ")
      .slice(1);

  it("each seed's paired step, the seeds that beat their paired s.e., and the mean with the s.e. between seeds, by hand", () => {
    // seeds' steps −1.5, +1, −2: mean −5/6, sample variance (0.4444 + 3.3611 + 1.3611) / 2, s.e. √(that / 3)
    const steps = [-1.5, 1, -2];
    const se = Math.sqrt(steps.reduce((a, x) => a + (x + 5 / 6) ** 2, 0) / 2 / 3);
    expect(row("planar K = 0 → 10")).toEqual([
      `−1.50 ± ${(Math.sqrt(1 / 3) / 2).toFixed(2)} / +1.00 ± 0.00 / −2.00 ± 0.00`,
      "2 of 3",
      `−0.83 ± ${se.toFixed(2)} (3 seeds)`,
      "no", // a mean over seeds within one s.e. of zero does not hold
      "−2.4 |",
    ]);
  });

  it("a pair whose run blew up is shown and left out of the counts and the mean", () => {
    // seed 0: (100 − 89, 100 − 90, 100 − 93, 100 − 94) = 11, 10, 7, 6
    expect(row("planar K = 10 → 20")).toEqual([
      `+8.50 ± ${se4([11, 10, 7, 6])} (blew up) / −1.00 ± 0.00 / −1.00 ± 0.00`,
      "2 of 2",
      "−1.00 ± 0.00 (2 seeds)",
      "yes",
      "−1.0 |",
    ]);
  });

  it("comparisons with no runs are —, and the paper's change is there only where it gives both rows", () => {
    expect(row("NICE k = 0 → 10")).toEqual(["—", "—", "—", "—", "— |"]);
    expect(row("planar − NICE at K = 80").at(-1)).toBe("−2.1 |"); // 85.1 − 87.2
    expect(row("planar − NICE at K = 40").at(-1)).toBe("— |");
  });
});

describe("the validation curves' tails", () => {
  it("each run's best epoch, every epoch after it, and how close the best of those came, in the table's order", () => {
    const root = mkdtempSync(path.join(tmpdir(), "flowgrad-tails-"));
    const losses = [100, 99, 98.5, 98.7, 98.6, 99];
    run(root, "nice", 10, 0, [1, 2], { bestEpoch: 3, epochsRun: 6, validationLosses: losses });
    run(root, "planar", 0, 0, [1, 2], { bestEpoch: 6, epochsRun: 6, validationLosses: losses, stoppedBy: "time" });
    const lines = table2Tails(root).split("\n");
    expect(lines.slice(2)).toEqual([
      "| diagonal Gaussian | 0 | 99.00 (epoch 6) | — | — | time |",
      "| NICE K = 10 | 0 | 98.50 (epoch 3) | 98.70, 98.60, 99.00 | +0.10 | early-stopping |",
    ]);
  });

  it("a run whose training blew up after its best epoch says so, in both tables (more than 10 nats above the best)", () => {
    const root = mkdtempSync(path.join(tmpdir(), "flowgrad-blowup-"));
    // Best 97 at epoch 3; epoch 5 jumps 53 nats above it (the worst), epoch 6 is still 23 above.
    run(root, "planar", 80, 0, [1, 2], {
      bestEpoch: 3,
      epochsRun: 6,
      validationLosses: [100, 98, 97, 106.9, 150.4, 120],
    });
    const label = "early-stopping after training blew up (validation −ELBO 150 at epoch 5)";
    expect(table2Tails(root).split("\n")[2]).toBe(
      `| planar K = 80 | 0 | 97.00 (epoch 3) | 106.90, 150.40, 120.00 | +9.90 | ${label} |`,
    );
    expect(table2(root)).toContain(`| 3 of 6, ${label} |`);
  });
});

describe("the training-variant screen (scripts/table2-sweep.sh) from its runs' JSON", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-sweep-"));
  const sweepRun = (variant: string, K: number, losses: number[], settings: object = {}) => {
    const dir = path.join(root, "results/table2-sweep", variant, `planar-K${K}-seed0`);
    mkdirSync(dir, { recursive: true });
    const record = { K, flow: "planar", epochsRun: losses.length, validationLosses: losses, negLogLikelihood: 100 + K };
    const all = { binarize: "threshold", annealSteps: 0, flowLr: 1, samples: 20, ...settings };
    writeFileSync(path.join(dir, "vae-planar-L1.json"), JSON.stringify({ settings: all, records: [record] }));
  };
  const epochs = (n: number, start: number) => Array.from({ length: n }, (_, i) => start - i);
  sweepRun("base", 0, epochs(35, 150)); // epoch 32: 150 − 31 = 119
  sweepRun("base", 10, epochs(32, 148)); // epoch 32: 117
  sweepRun("slow-flow", 10, epochs(31, 151), { flowLr: 0.1 }); // epoch 31: 121, the diagonal's 120
  sweepRun("dynamic", 0, epochs(30, 160), { binarize: "dynamic" }); // epoch 30: 131
  sweepRun("dynamic-slow", 10, epochs(30, 158), { binarize: "dynamic", flowLr: 0.1 }); // epoch 30: 129

  it("names what each variant changes and compares with the diagonal model at equal epochs, on the same binarisation", () => {
    const lines = table2Sweep(root).split("\n");
    const row = (start: string) => lines.find((l) => l.startsWith(`| ${start}`))!.split(" | ");
    expect(lines[2]).toMatch(
      /^\| base \(as Table 2\) \| diagonal \| 35 \| 131\.0 \/ 121\.0 \| 116\.00 \| — \| 100\.00 \|$/,
    );
    expect(row("base (as Table 2) | planar K = 10")[5]).toBe("−2.00 (epoch 32)");
    expect(row("slow-flow (flowLr 0.1)")[5]).toBe("+1.00 (epoch 31)");
    // no diagonal model of its own: the one trained on dynamic binarisation, not base's
    expect(row("dynamic-slow (flowLr 0.1, binarize dynamic)")[5]).toBe("−2.00 (epoch 30)");
    expect(lines[0]).toContain("test −ln p(x) (S = 20)");
  });
});

describe("S = 200 against S = 2,000 (results/table2/s2000-*.json) from the runs' and the scorings' JSON", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-samples-"));
  run(root, "planar", 0, 0, [92, 94, 96, 98]);
  run(root, "planar", 10, 0, [90, 93, 93, 97]); // − K = 0: −2, −1, −3, −1
  // The two models scored again, as flowgrad compare --samples 2000 --out writes it.
  const model = (K: number, perExample: number[]) => ({
    file: `results/table2-grow/planar-K${K}-seed0/vae-planar-K${K}-L1.model.json`,
    K,
    flow: "planar",
    negLogLikelihood: perExample.reduce((a, b) => a + b, 0) / perExample.length,
    standardError: 0.5,
    perExample,
  });
  writeFileSync(
    path.join(root, "results/table2/s2000-K0-K10-seed0.json"),
    JSON.stringify({ samples: 2000, models: [model(0, [91, 93, 95.4, 97]), model(10, [89.5, 92, 92.5, 96])] }),
  );
  // A longer flow scored again on its own: its step is from K = 10's scoring in the other file.
  run(root, "planar", 20, 0, [91, 92, 94, 96]); // − K = 10: +1, −1, +1, −1
  writeFileSync(
    path.join(root, "results/table2/s2000-K20-seed0.json"),
    JSON.stringify({ samples: 2000, models: [model(20, [90.5, 91, 93, 95])] }),
  );

  it("each model at both S, the change paired over the digits, and the step from the row it extends at each S, from any scoring", () => {
    const lines = table2Samples(root).split("\n");
    expect(lines[0]).toContain("−ln p(x), S = 2,000");
    expect(lines[2]!.split(" | ")).toEqual([
      "| diagonal Gaussian",
      "0",
      "95.00",
      "94.10 ± 0.50",
      `−0.90 ± ${se4([-1, -1, -0.6, -1])}`,
      "—",
      "— |",
    ]);
    expect(lines[3]!.split(" | ")).toEqual([
      "| planar K = 10",
      "0",
      "93.25",
      "92.50 ± 0.50",
      `−0.75 ± ${se4([-0.5, -1, -0.5, -1])}`,
      `diagonal Gaussian: −1.75 ± ${se4([-2, -1, -3, -1])}`,
      `−1.60 ± ${se4([-1.5, -1, -2.9, -1])} |`,
    ]);
    expect(lines[4]!.split(" | ")).toEqual([
      "| planar K = 20",
      "0",
      "93.25",
      "92.38 ± 0.50",
      `−0.88 ± ${se4([-0.5, -1, -1, -1])}`,
      `planar K = 10: +0.00 ± ${se4([1, -1, 1, -1])}`,
      `−0.13 ± ${se4([1, -1, 0.5, -1])} |`,
    ]);
    expect(lines).toHaveLength(5);
  });

  it("a scoring whose model files do not name their seed is an error that names the file", () => {
    const bad = mkdtempSync(path.join(tmpdir(), "flowgrad-samples-bad-"));
    mkdirSync(path.join(bad, "results/table2"), { recursive: true });
    writeFileSync(
      path.join(bad, "results/table2/s2000-x.json"),
      JSON.stringify({ samples: 2000, models: [{ ...model(0, [1]), file: "m.model.json" }] }),
    );
    expect(() => table2Samples(bad)).toThrow(/s2000-x.json: m.model.json does not name its seed/);
  });

  it("with nothing scored again, says how to score", () => {
    expect(table2Samples(mkdtempSync(path.join(tmpdir(), "flowgrad-samples-none-")))).toMatch(/--samples 2000/);
  });
});

describe("how far the models generalise (scripts/table2-gaps.sh) from its scorings' JSON", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-gaps-"));
  /** One model scored on one split, as flowgrad compare --out writes it (the bound 5 nats above, on training digits 2). */
  function scored(folder: string, name: string, split: string, perExample: number[]) {
    const dir = path.join(root, "results/table2-gaps", folder);
    mkdirSync(dir, { recursive: true });
    const mean = perExample.reduce((a, b) => a + b, 0) / perExample.length;
    const model = { negativeElbo: mean + (split === "train" ? 2 : 5), negLogLikelihood: mean, perExample, examples: 4 };
    writeFileSync(path.join(dir, `${name}.${split}.json`), JSON.stringify({ samples: 100, models: [model] }));
  }
  scored("table2", "planar-K0-seed0", "train", [70, 72, 74, 76]);
  scored("table2", "planar-K0-seed0", "test", [90, 92, 94, 96]);
  scored("table2", "planar-K10-seed0", "train", [71, 73, 75, 77]); // +1 on every digit: s.e. 0
  scored("table2", "planar-K10-seed0", "test", [89, 90, 93, 94]); // −1, −2, −1, −2
  scored("table2-flowlr", "planar-K20-seed1", "train", [70, 70, 70, 70]); // no test scoring: shown as —

  it("each model's −ln p(x) on both sets, their difference, the change from the diagonal model paired on each, and the bound's gap", () => {
    const markdown = table2Gaps(root);
    expect(markdown.split("\n")[0]).toContain("training digits (S = 100, 4 digits)");
    expect(rowAt(markdown, 0).slice(1, 8)).toEqual(["0", "73.00 / —", "93.00 / —", "+20.00 / —", "—", "—", "2.00 / —"]);
    expect(rowAt(markdown, 0)[8]).toBe("5.00 / — |");
    const k10 = rowAt(markdown, 10);
    expect(k10.slice(2, 7)).toEqual([
      "74.00 / —",
      "91.50 / —",
      "+17.50 / —",
      "+1.00 ± 0.00 / —",
      `−1.50 ± ${se4([-1, -2, -1, -2])} / —`,
    ]);
    // A model scored on one set only is left out of its row's values.
    expect(markdown).toContain("| planar, flow lr × 0.5 (follow-up 1) | 20 | — | — |");
  });

  it("with nothing scored, says how to score", () => {
    expect(table2Gaps(mkdtempSync(path.join(tmpdir(), "flowgrad-gaps-none-")))).toMatch(/bash scripts\/table2-gaps.sh/);
  });
});

describe("Table 2's posteriors on one generative model", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-fixed-"));
  const fixed = { folder: "results/table2-fixed", flowLr: 1 };
  run(root, "planar", 0, 0, [90, 92, 94, 96], {}, fixed);
  run(root, "planar", 10, 0, [91, 94, 95, 98], {}, fixed); // +1, +2, +1, +2 over K = 0
  run(root, "nice", 10, 0, [90, 92, 94, 97], {}, fixed); // +0, 0, 0, +1

  it("the decoder-fixed runs: each row paired with K = 0 on the same decoder, its bound's change beside it", () => {
    const markdown = table2Fixed(root);
    expect(rowAt(markdown, 0)[0]).toBe("| diagonal Gaussian (the encoder trained on)");
    const planar = markdown
      .split("\n")
      .find((l) => l.startsWith("| + planar flow | 10 |"))!
      .split(" | ");
    expect(planar.slice(2, 7)).toEqual(["× 1", "99.50", "94.50 ± 0.50", `+1.50 ± ${se4([1, 2, 1, 2])}`, "+1.50"]);
    const nice = markdown
      .split("\n")
      .find((l) => l.startsWith("| + NICE | 10 |"))!
      .split(" | ");
    expect(nice[5]).toBe(`+0.25 ± ${se4([0, 0, 0, 1])}`);
  });

  it("a run at another flow lr (table2-fixed.sh --rates) is a row of its own, after the larger rate, paired with K = 0", () => {
    run(root, "planar", 10, 0, [90, 93, 94, 96], {}, { ...fixed, flowLr: 0.1, suffix: "-lr0.1" }); // 0, +1, 0, 0
    const rows = table2Fixed(root)
      .split("\n")
      .filter((l) => l.startsWith("| + planar flow | 10 |"))
      .map((l) => l.split(" | "));
    expect(rows.map((r) => r[2])).toEqual(["× 1", "× 0.1"]);
    expect(rows[1]![5]).toBe(`+0.25 ± ${se4([0, 1, 0, 0])}`);
  });

  it("the per-digit fits: the bound per K, its change from K = 0 paired over the digits, the gaps beside it", () => {
    const dir = path.join(root, "results/posterior");
    mkdirSync(dir, { recursive: true });
    const record = (K: number, perExample: number[], nll: number, encoder: number) => ({
      K,
      negativeElbo: perExample.reduce((a, b) => a + b, 0) / perExample.length,
      standardError: 0.5,
      negLogLikelihood: nll,
      encoderNegativeElbo: encoder,
      perExample,
    });
    const settings = { digits: 4, evalSamples: 500 };
    writeFileSync(
      path.join(dir, "planar-K0-seed1.json"),
      JSON.stringify({
        settings,
        records: [record(0, [90, 92, 94, 96], 92, 101), record(10, [89, 90, 93, 94], 91.5, 101)],
      }),
    );
    const markdown = table2LocalPosteriors(root);
    expect(markdown.split("\n")[0]).toContain("(nats, 4 test digits)");
    expect(rowAt(markdown, 0).slice(2)).toEqual(["93.00 ± 0.50", "—", "92.00", "1.00", "101.00 |"]);
    expect(rowAt(markdown, 10).slice(3)).toEqual([`−1.50 ± ${se4([-1, -2, -1, -2])}`, "91.50", "0.00", "101.00 |"]);
  });
});

describe("what the trained planar layers do (scripts/table2-layers.sh) from flowgrad layers' JSON", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-layers-"));
  /** One run's layers, as flowgrad layers --out writes them (the fields the table reads). */
  function read(folder: string, name: string, flowLr: number, layers: Array<[number, number, number, number]>) {
    const dir = path.join(root, "results/table2-layers", folder);
    mkdirSync(dir, { recursive: true });
    const stats = layers.map(([saturated, wDotUHat, logDet, step]) => ({ saturated, wDotUHat, logDet, step }));
    const logDet = stats.reduce((s, l) => s + l.logDet, 0);
    writeFileSync(
      path.join(dir, `${name}.json`),
      JSON.stringify({
        training: { flowLr, negLogLikelihood: 90.5 },
        logDet,
        bounds: { all: 95, translating: 97.25, bending: 94.5, none: 120 },
        layers: stats,
      }),
    );
  }
  // K = 10 seed 1: one layer saturated on 95% of draws (translates), one at 89% (bends, outward),
  // eight bending inward, one of them at wᵀû = 0 exactly.
  read("table2", "planar-K10-seed1", 1, [
    [0.95, -0.5, 0, 1],
    [0.89, 0.3, 0.25, 0.5],
    [0, 0, -0.05, 0.5],
    ...Array.from({ length: 7 }, (): [number, number, number, number] => [0.1, -0.2, -0.1, 0.5]),
  ]);
  read("table2-flowlr", "planar-K20-seed0", 0.5, [[0, 0.1, 0.5, 0.25]]);
  // A note beside the runs' folders (the predictions written before a reading) is not a run.
  writeFileSync(path.join(root, "results/table2-layers", "predictions.md"), "# predictions\n");

  it("per run: the layers that translate, that bend outward and inward, the flow's log-det and its steps, under each setting's rate", () => {
    const markdown = table2Layers(root);
    expect(markdown.split("\n")[0]).toContain("layers that translate (≥ 90% of draws saturated)");
    expect(rowAt(markdown, 10)).toEqual([
      "| Table 2",
      "10",
      "× 1",
      "— / 90.50",
      "— / 1",
      "— / 1",
      "— / 8",
      "— / −0.50",
      "— / 5.5",
      "— / +2.25",
      "— / −0.50 |",
    ]);
    expect(rowAt(markdown, 20).slice(0, 3)).toEqual(["| follow-up 1 (amortised)", "20", "× 0.5"]);
    expect(rowAt(markdown, 20)[7]).toBe("+0.50 / —");
    expect(markdown).not.toContain("follow-up 2"); // no runs read there: no rows
  });

  it("with nothing read, says how to read the layers", () => {
    expect(table2Layers(mkdtempSync(path.join(tmpdir(), "flowgrad-layers-none-")))).toMatch(
      /bash scripts\/table2-layers.sh/,
    );
  });
});

/** A flowgrad layers reading of `name` in results/table2-layers/`folder`: `translating` of its K layers saturated on 95% of draws, the rest on 50%. */
function writeReading(root: string, folder: string, name: string, K: number, translating: number, nll: number) {
  const dir = path.join(root, "results/table2-layers", folder);
  mkdirSync(dir, { recursive: true });
  const layers = Array.from({ length: K }, (_, i) => ({
    saturated: i < translating ? 0.95 : 0.5,
    wDotUHat: 0,
    logDet: 0,
    step: 1,
  }));
  writeFileSync(
    path.join(dir, `${name}.json`),
    JSON.stringify({ training: { flowLr: 1, negLogLikelihood: nll }, logDet: 0, bounds: {}, layers }),
  );
}

describe("follow-up 5's pattern run by run (table2-layers-pattern): the rule the first seven runs set, checked on the runs read since", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-pattern-"));
  const read = (name: string, nll: number, translating: number) =>
    writeReading(root, "table2", name, Number(/K(\d+)/.exec(name)![1]), translating, nll);
  // The seven that set the rule: 7+ translating at 90.5, 91.0 and 91.25 (the rule's "≤ 91.25");
  // 4 or fewer at 92.5 (the rule's "≥ 92.50"), 93, 94 and 95.
  const setters: Array<[number, number]> = [
    [90.5, 8],
    [91, 7],
    [91.25, 9],
    [92.5, 4],
    [93, 1],
    [94, 0],
    [95, 2],
  ];
  SHOWED_PATTERN.forEach((name, i) => read(name, ...setters[i]!));
  read("planar-K10-seed3", 90, 8); // predicted in writing: 7 or more — holds
  read("planar-K20-seed2", 96, 6); // predicted in writing: 4 or fewer — fails
  read("planar-K20-seed4", 92, 1); // between the two: no prediction
  read("planar-K80-seed0", 89, 80); // its training blew up: left out
  run(root, "planar", 80, 0, [110, 112], { bestEpoch: 2, validationLosses: [120, 110, 115, 383] });

  it("sorts the runs by −ln p(x), says when each was read, and whether the rule held", () => {
    const markdown = table2LayersPattern(root);
    const lines = markdown.split("\n");
    expect(lines[0]).toContain("(≤ 91.25: 7 or more; ≥ 92.50: 4 or fewer)");
    const rows = lines.slice(2).map((line) => line.split(" | "));
    expect(rows.map((r) => r[1])).toEqual([
      "90.00",
      "90.50",
      "91.00",
      "91.25",
      "92.00",
      "92.50",
      "93.00",
      "94.00",
      "95.00",
      "96.00",
    ]);
    expect(rows[0]).toEqual([
      "| K = 10, seed 3",
      "90.00",
      "8 of 10",
      "after, predicted in writing first",
      "7 or more",
      "yes |",
    ]);
    expect(rows[1]!.slice(3)).toEqual(["set the rule (2026-11-30)", "—", "— |"]);
    expect(rows[4]!.slice(2)).toEqual(["1 of 20", "after (as the run was made)", "none (between)", "— |"]);
    expect(rows[9]!.slice(2)).toEqual(["6 of 20", "after, predicted in writing first", "4 or fewer", "no |"]);
    expect(markdown).not.toContain("K = 80"); // blew up
  });
});

describe("when the layers become translations (table2-early): Table 2's runs stopped early, read", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-early-"));
  const read = (folder: string, name: string, K: number, translating: number, nll = 90.5) =>
    writeReading(root, folder, name, K, translating, nll);
  /** The early run's own JSON: the epoch it kept and its validation bounds. */
  function trained(name: string, bestEpoch: number, validationLosses: number[]) {
    const dir = path.join(root, "results/table2-early", name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "vae-planar-L1.json"), JSON.stringify({ records: [{ bestEpoch, validationLosses }] }));
  }
  read("table2", "planar-K10-seed0", 10, 7, 90.68);
  read("table2-early", "planar-K10-seed0-e1", 10, 0);
  trained("planar-K10-seed0-e1", 1, [200.04]);
  read("table2-early", "planar-K10-seed0-e3", 10, 2);
  trained("planar-K10-seed0-e3", 2, [200, 150.25, 151]); // its third epoch was not its best
  read("table2-early", "planar-K20-seed4-e30", 20, 15); // no reading of its end: a dash

  it("per run and epoch: the layers that translate and the validation bound, beside the run's end", () => {
    const markdown = table2Early(root);
    const rows = markdown
      .split("\n")
      .slice(2)
      .map((line) => line.split(" | "));
    expect(rows[0]).toEqual([
      "| K = 10, seed 0",
      "7 of 10 · 90.68",
      "0 · 200.0",
      "2 · 150.3 (epoch 2 kept)",
      "—",
      "— |",
    ]);
    expect(rows[1]).toEqual(["| K = 20, seed 4", "—", "—", "—", "—", "15 |"]);
  });
});

describe("follow-up 6: the planar flow grown a step at a time (scripts/table2-grow.sh)", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-grow-"));
  const grow = (suffix = "") => ({ folder: "results/table2-grow", flowLr: 1, suffix });
  run(root, "planar", 10, 0, [90, 92, 94, 96]); // Table 2's runs from scratch
  run(root, "planar", 20, 0, [93, 94, 96, 97]);
  run(root, "planar", 0, 0, [92, 94, 96, 98], {}, grow());
  run(root, "planar", 0, 0, [91, 93, 95, 98], {}, grow("-continued"));
  run(root, "planar", 10, 0, [90, 92, 94, 96], {}, grow());
  run(root, "planar", 10, 0, [89, 92, 93, 96], {}, grow("-continued"));
  run(root, "planar", 20, 0, [88, 90, 93, 95], {}, grow("-grown"));
  run(root, "planar", 20, 0, [88, 89, 93, 94], {}, grow("-continued"));
  run(root, "planar", 40, 0, [87, 89, 92, 94], {}, grow("-grown"));
  const rows = table2Grow(root)
    .split("\n")
    .slice(2) // below the header and its rule
    .map((l) => l.split(" | "));

  it("one row per step in the order the runs were made, each paired with its start, the grown runs with the continued ones", () => {
    expect(rows.map((r) => `${r[0]} ${r[1]}`)).toEqual([
      "| diagonal Gaussian, from scratch (as Table 2) 0",
      "| the same K, continued 0",
      "| planar, from scratch (as Table 2) 10",
      "| the same K, continued 10",
      "| grown from K = 10 20",
      "| the same K, continued 20",
      "| grown from K = 20 40",
    ]);
    const [d0, d0c, p10, p10c, g20, c20, g40] = rows as string[][];
    expect(d0!.slice(4, 8)).toEqual(["—", "—", "—", "—"]); // no Table 2 run of K = 0 here
    expect(d0c![4]).toBe(`−0.75 ± ${se4([-1, -1, -1, 0])}`); // the diagonal model, continued − from scratch
    expect(p10!.slice(4, 8)).toEqual(["—", "—", "−2.00 ± 0.00", "+0.00 ± 0.00"]); // the same run as Table 2's
    expect(p10c![4]).toBe(`−0.50 ± ${se4([-1, 0, -1, 0])}`); // continued − scratch
    expect(p10c![6]).toBe(`−1.75 ± ${se4([-2, -1, -2, -2])}`); // against the diagonal model, both continued
    expect(g20![4]).toBe(`−1.50 ± ${se4([-2, -2, -1, -1])}`); // grown K = 20 − scratch K = 10
    expect(g20![5]).toBe(`−1.00 ± ${se4([-1, -2, 0, -1])}`); // grown − continued, both from K = 10
    expect(g20![7]).toBe(`−3.50 ± ${se4([-5, -4, -3, -2])}`); // against Table 2's K = 20 from scratch
    expect(c20![4]).toBe(`−0.50 ± ${se4([0, -1, 0, -1])}`); // continued K = 20 − grown K = 20
    expect(g40![4]).toBe("−1.00 ± 0.00"); // grown K = 40 − grown K = 20, its start: −1 on every digit
    expect(g40![5]).toBe(`−0.50 ± ${se4([-1, 0, -1, 0])}`); // grown K = 40 − continued K = 20
    expect(g40![7]).toBe("—"); // Table 2 has no K = 40 run here
  });

  it("the tails name each run's part", () => {
    const tails = table2GrowTails(root);
    for (const label of ["diagonal Gaussian, continued", "planar K = 10, from scratch", "planar K = 20, grown"])
      expect(tails).toContain(`| ${label} | 0 |`);
  });

  it("its figure draws the grown column in its own colour beside the runs from scratch", () => {
    expect(pixels(figure4Grow(root), [148, 103, 189])).toBeGreaterThan(0);
    expect(pixels(figure4Grow(root), [31, 119, 180])).toBeGreaterThan(0);
  });

  it("the fit on training digits: each scored run, the grown run against the continued one on each set (paired, by hand)", () => {
    expect(table2GrowFit(root)).toBe("(not scored yet: bash scripts/table2-gaps.sh results/table2-grow)");
    const gaps = path.join(root, "results/table2-gaps/table2-grow");
    mkdirSync(gaps, { recursive: true });
    const score = (run: string, split: string, perExample: number[]) => {
      const mean = perExample.reduce((a, b) => a + b, 0) / perExample.length;
      const model = { negativeElbo: mean + 5, negLogLikelihood: mean, perExample, examples: 4 };
      writeFileSync(path.join(gaps, `${run}.${split}.json`), JSON.stringify({ samples: 100, models: [model] }));
    };
    score("planar-K10-seed0", "train", [70, 72, 74, 76]);
    score("planar-K10-seed0", "test", [90, 92, 94, 96]);
    score("planar-K10-seed0-continued", "train", [69, 71, 73, 75]);
    score("planar-K10-seed0-continued", "test", [89, 92, 93, 96]);
    score("planar-K20-seed0-grown", "train", [67, 70, 71, 73]);
    score("planar-K20-seed0-grown", "test", [89, 92, 94, 96]);
    const lines = table2GrowFit(root).split("\n");
    expect(lines[0]).toContain("−ln p(x), training digits (S = 100, 4 digits)");
    const cells = lines.slice(2).map((l) => l.split(" | "));
    expect(cells.map((r) => `${r[0]} ${r[1]}`)).toEqual([
      "| planar, from scratch (as Table 2) 10",
      "| the same K, continued 10",
      "| grown from K = 10 20",
    ]);
    expect(cells[0]!.slice(2, 5)).toEqual(["73.00", "93.00", "+20.00"]);
    expect(cells[1]![5]).toBe("−1.00 ± 0.00"); // continued − scratch on the training digits
    expect(cells[2]![5]).toBe(`−2.75 ± ${se4([-3, -2, -3, -3])}`); // grown − its start, training digits
    expect(cells[2]![6]).toBe(`−1.75 ± ${se4([-2, -1, -2, -2])}`); // grown − continued, training digits
    expect(cells[2]![7].replace(/ \|$/, "")).toBe(`+0.25 ± ${se4([0, 0, 1, 0])}`); // and on the test digits
  });

  it("the layers: a grown run's new layers apart from the ones it started with, per run read", () => {
    expect(table2GrowLayers(root)).toBe("(not read yet: bash scripts/table2-layers.sh)");
    const dir = path.join(root, "results/table2-layers/table2-grow");
    mkdirSync(dir, { recursive: true });
    const layers = (run: string, steps: number[], bounds = { all: 90, none: 100 }) =>
      writeFileSync(
        path.join(dir, `${run}.json`),
        JSON.stringify({ layers: steps.map((step) => ({ step, logDet: -step / 10 })), bounds }),
      );
    const tenOf = (step: number) => Array<number>(10).fill(step);
    layers("planar-K10-seed0-continued", tenOf(0.3));
    layers("planar-K20-seed0-grown", [...tenOf(0.3), ...tenOf(0.1)], { all: 89, none: 101.5 }); // K = 10's layers first
    const cells = table2GrowLayers(root)
      .split("\n")
      .slice(2)
      .map((l) => l.split(" | "));
    expect(cells.map((r) => `${r[0]} ${r[1]}`)).toEqual(["| the same K, continued 10", "| grown from K = 10 20"]);
    expect(cells[0]!.slice(2, 7)).toEqual(["3.00", "—", "−0.30", "—", "+10.00 |"]);
    expect(cells[1]!.slice(2, 6)).toEqual(["3.00", "1.00", "−0.30", "−0.10"]);
    expect(cells[1]![6]).toBe("+12.50 |");
  });

  it("a variant at another flow lr (table2-grow.sh --from) takes the runs from scratch from the first folder and says its rate", () => {
    const variant = { folder: "results/table2-grow-lr0.5", flowLr: 0.5 };
    run(root, "planar", 10, 0, [90, 91, 94, 95], {}, { ...variant, suffix: "-continued" });
    run(root, "planar", 20, 0, [89, 91, 93, 95], {}, { ...variant, suffix: "-grown" });
    const lines = table2Grow(root, "results/table2-grow-lr0.5", "results/table2-grow").split("\n");
    expect(lines[0]).toContain("| q(z\\|x); flow lr × 1 from scratch, × 0.5 after |");
    const cells = lines.slice(2).map((l) => l.split(" | "));
    expect(cells.map((r) => `${r[0]} ${r[1]}`)).toEqual([
      "| diagonal Gaussian, from scratch (as Table 2) 0",
      "| planar, from scratch (as Table 2) 10",
      "| the same K, continued 10",
      "| grown from K = 10 20",
    ]);
    expect(cells[2]![4]).toBe(`−0.50 ± ${se4([0, -1, 0, -1])}`); // continued − the first folder's K = 10
    expect(cells[3]![5]).toBe(`−0.50 ± ${se4([-1, 0, -1, 0])}`); // grown − continued
    expect(table2GrowTails(root, "results/table2-grow-lr0.5")).not.toContain("from scratch");
  });

  it("with nothing run, says how to run it", () => {
    const empty = mkdtempSync(path.join(tmpdir(), "flowgrad-nogrow-"));
    expect(table2Grow(empty)).toBe("(not run yet: bash scripts/table2-grow.sh)");
    expect(table2Grow(empty, "results/table2-grow-lr0.5", "results/table2-grow")).toBe(
      "(not run yet: bash scripts/table2-grow.sh --from results/table2-grow --out results/table2-grow-lr0.5 --flow-lr R)",
    );
  });
});

describe("follow-up 6 with a seed part-way through its steps", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-grow-part-"));
  const grow = (suffix = "") => ({ folder: "results/table2-grow", flowLr: 1, suffix });
  for (const seed of [0, 1]) {
    run(root, "planar", 10, seed, [90, 92, 94, 96], {}, grow());
    run(root, "planar", 10, seed, [89, 92, 93, 96], {}, grow("-continued"));
  }
  run(root, "planar", 20, 0, [88, 90, 93, 95], {}, grow("-grown")); // seed 1 has not grown yet
  const dir = path.join(root, "results/table2-layers/table2-grow");
  mkdirSync(dir, { recursive: true });
  for (const name of ["planar-K20-seed0-grown", "planar-K10-seed1-continued"])
    writeFileSync(
      path.join(dir, `${name}.json`),
      JSON.stringify({
        layers: Array.from({ length: name.includes("K20") ? 20 : 10 }, () => ({ step: 0.1, logDet: 0 })),
        bounds: { all: 90, none: 100 },
      }),
    );

  it("every table shows — for the seed's missing runs and scores", () => {
    expect(table2Grow(root)).toContain("| grown from K = 10 | 20 | 96.50 / — |");
    const layers = table2GrowLayers(root);
    expect(layers).toContain("| the same K, continued | 10 | — / 1.00 | — | — / +0.00 | — | — / +10.00 |");
    expect(layers).toContain("| grown from K = 10 | 20 | 1.00 / — | 1.00 / — |");
    expect(table2GrowFit(root)).toBe("(not scored yet: bash scripts/table2-gaps.sh results/table2-grow)");
  });
});

describe("follow-up 7: the planar rows on fewer training digits (scripts/table2-data.sh)", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-data-"));
  const on = (digits: number) => ({ folder: `results/table2-data/train${digits}`, flowLr: 1 });
  run(root, "planar", 0, 0, [100, 102, 104, 106], {}, on(2000));
  run(root, "planar", 10, 0, [98, 101, 103, 104], {}, on(2000)); // −2, −1, −1, −2: −1.50
  run(root, "planar", 0, 1, [100, 100, 100, 100], {}, on(2000));
  run(root, "planar", 10, 1, [99.5, 99.5, 99.5, 99.5], {}, on(2000)); // −0.50 ± 0.00
  run(root, "planar", 0, 0, [90, 92, 94, 96]); // Table 2's own: the 8,000 digits
  run(root, "planar", 10, 0, [89, 90, 93, 94]);
  run(root, "nice", 10, 0, [80, 80, 80, 80]); // not a row of this follow-up
  run(root, "planar", 10, 1, [70, 70, 70, 70], {}, { folder: "results/table2", flowLr: 0.5 }); // another rate: left out
  const lines = table2Data(root).split("\n");
  const row = (digits: string, q: string) => lines.find((l) => l.startsWith(`| ${digits} | ${q} |`))!.split(" | ");

  it("a row per size and K, smallest first, Table 2's planar rows at × 1 as the 8,000 (nothing else from it)", () => {
    const rows = lines.slice(2).filter((l) => l.startsWith("| "));
    expect(rows.map((l) => l.split(" | ").slice(0, 2).join(" "))).toEqual([
      "| 2,000 diagonal Gaussian",
      "| 2,000 planar K = 10",
      "| 8,000 (Table 2) diagonal Gaussian",
      "| 8,000 (Table 2) planar K = 10",
    ]);
    expect(row("8,000 (Table 2)", "planar K = 10")[3]).toBe("91.50 ± 0.50");
  });

  it("each seed's paired change from the shorter flow, and its mean over seeds with the s.e. between them, by hand", () => {
    const k10 = row("2,000", "planar K = 10");
    expect(k10[4]).toBe(`−1.50 ± ${se4([-2, -1, -1, -2])} / −0.50 ± 0.00`);
    // seeds' means −1.5 and −0.5: mean −1.0, sample sd √0.5, s.e. √0.5 / √2 = 0.5
    expect(k10[5]).toBe("−1.00 ± 0.50 (2 seeds)");
    expect(row("8,000 (Table 2)", "planar K = 10")[5]).toBe("—"); // one seed: no spread to measure
    expect(row("2,000", "diagonal Gaussian").slice(4, 6)).toEqual(["—", "—"]);
  });

  it("under the table, one run's spread between seeds per size, where a size has two seeds", () => {
    // 2,000: K = 0 means 103 and 100, K = 10 101.5 and 99.5: √((4.5 + 2) / 2) = 1.80; 8,000 has one seed
    expect(lines.at(-1)).toContain("(runs that blew up left out): 1.80 nats on 2,000 digits.");
  });

  it("the figure: a panel per step, a line per seed in its own shade (seed 0 the planar blue)", () => {
    const image = figureData(root);
    expect(image.width).toBeGreaterThan(0);
    expect(pixels(image, PLANAR_BLUE)).toBeGreaterThan(50); // seed 0's line and its legend
    expect(pixels(image, [94, 157, 201])).toBeGreaterThan(50); // seed 1: 28% of the way to white
  });

  it("the seeds' mean is drawn in black only where two or more seeds have both runs", () => {
    const one = mkdtempSync(path.join(tmpdir(), "flowgrad-data-one-"));
    run(one, "planar", 0, 0, [100, 102, 104, 106], {}, on(2000));
    run(one, "planar", 10, 0, [98, 101, 103, 104], {}, on(2000));
    const black = (r: string) => pixels(figureData(r), [0, 0, 0]); // text is (20, 20, 20): black is the mean's
    expect(black(root)).toBeGreaterThan(black(one) + 20); // beyond the legend's swatch and label, a line
  });
});

describe("follow-up 8: Table 2's rows with the paper's annealed free energy (scripts/table2-anneal.ts)", () => {
  const root = mkdtempSync(path.join(tmpdir(), "flowgrad-anneal-"));
  const over = (T: number) => ({ folder: `results/table2-anneal/steps${T}`, flowLr: 1 });
  run(root, "planar", 0, 0, [100, 102, 104, 106], {}, over(1333));
  run(root, "planar", 10, 0, [98, 101, 103, 104], {}, over(1333)); // from K = 0: −2, −1, −1, −2
  run(root, "planar", 20, 0, [97, 101, 102, 104], {}, over(1333)); // from K = 10: −1, 0, −1, 0
  run(root, "nice", 10, 0, [99, 101, 103, 105], {}, over(1333)); // from K = 0: −1 each
  run(root, "planar", 10, 1, [90, 90, 90, 90], {}, over(1333)); // seed 1 has no K = 0: its step is "—"
  run(root, "planar", 20, 1, [110, 110, 110, 110], {}, over(10000)); // another T: rows of its own, after
  run(root, "planar", 10, 0, [97, 100, 104, 104]); // Table 2's, at β = 1 throughout
  run(root, "planar", 20, 1, [95, 95, 96, 96]);
  const rows = table2Anneal(root)
    .split("\n")
    .slice(2)
    .map((l) => l.split(" | "));

  it("a block of rows per annealing length, shortest first, each in Table 2's order with its seeds side by side", () => {
    expect(rows.map((r) => `${r[0]} ${r[1]} ${r[2]}`)).toEqual([
      "| 1,333 (epoch 17) diagonal Gaussian 0",
      "| 1,333 (epoch 17) + planar flow 10",
      "| 1,333 (epoch 17) + planar flow 20",
      "| 1,333 (epoch 17) + NICE 10",
      "| 10,000 (epoch 124) + planar flow 20", // β = 1 from update 9,900: epoch 124 at 80 updates each
    ]);
    expect(rows[1]![4]).toBe("101.50 ± 0.50 / 90.00 ± 0.50");
    expect(rows[4]![4]).toBe("110.00 ± 0.50"); // T = 10,000 has seed 1 alone
  });

  it("each row paired with the one it extends, with Table 2's run of it, and planar with NICE, by hand", () => {
    expect(rows[1]![5]).toBe(`−1.50 ± ${se4([-2, -1, -1, -2])} / —`);
    expect(rows[2]![5]).toBe(`−0.50 ± ${se4([-1, 0, -1, 0])} / —`); // K = 20 extends K = 10, not K = 0
    expect(rows[3]![5]).toBe("−1.00 ± 0.00 / —"); // NICE k = 10 extends the diagonal model
    expect(rows[4]![5]).toBe("—"); // nothing shorter annealed over 10,000
    // annealed − Table 2's K = 10: +1, +1, −1, 0; K = 20 over 10,000, seed 1: +15, +15, +14, +14
    expect(rows[1]![6]).toBe(`+0.25 ± ${se4([1, 1, -1, 0])} / —`);
    expect(rows[4]![6]).toBe(`+14.50 ± ${se4([15, 15, 14, 14])}`);
    expect(rows[0]![6]).toBe("—"); // no Table 2 run of the diagonal model here
    // planar K = 10 − NICE k = 10: −1, 0, 0, −1
    expect(rows[1]![7]).toBe(`−0.50 ± ${se4([-1, 0, 0, -1])} / —`);
    expect([rows[0]![7], rows[3]![7]]).toEqual(["—", "—"]);
  });
});
