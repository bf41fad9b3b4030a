// `flowgrad langevin`: the paper's Langevin flow on one of its 2-D densities, measured by the
// kernel Stein discrepancy of the particles against time, beside that of exact samples of p.
import path from "node:path";
import { noGrad, Random, tensor } from "../autograd/index.js";
import { drawDensity, labelledGrid } from "../models/heatmap.js";
import {
  fittedEnergy,
  kernelSteinDiscrepancy,
  langevin,
  type SteinDiscrepancy,
  type TargetName,
} from "../models/index.js";
import { prepareOutputDir, writeJsonAtomic, writePng } from "../node/io.js";
import { binPoints, FIGURE_PANEL, targetLogDensity } from "./fit.js";
import { progress } from "./progress.js";

export interface LangevinSettings {
  target: TargetName;
  particles: number;
  stepSize: number;
  steps: number;
  adjusted: boolean;
  seed: number;
}

/**
 * n exact draws from p ∝ e^{−U} up to the grid: a cell of a size² grid over (−half, half)² chosen with
 * probability ∝ e^{−U(centre)}, then a uniform point in it. Their discrepancy is the floor a cloud
 * of n particles can reach.
 */
export function gridSamples(target: TargetName, n: number, seed: number, size = 800, half = 5): Float64Array {
  const U = fittedEnergy(target),
    h = (2 * half) / size;
  const centres = new Float64Array(2 * size * size);
  for (let i = 0; i < size; i++)
    for (let j = 0; j < size; j++) {
      centres[2 * (i * size + j)] = -half + (i + 0.5) * h;
      centres[2 * (i * size + j) + 1] = -half + (j + 0.5) * h;
    }
  const energy = noGrad(() => U(tensor(centres, { shape: [size * size, 2] }))).toHost().data;
  let min = Infinity;
  for (const u of energy) if (u < min) min = u;
  const cumulative = new Float64Array(energy.length);
  let total = 0;
  energy.forEach((u, k) => (cumulative[k] = total += Math.exp(min - u)));
  const random = new Random(seed),
    out = new Float64Array(2 * n);
  for (let p = 0; p < n; p++) {
    const target = random.uniform() * total;
    let lo = 0,
      hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    out[2 * p] = centres[2 * lo]! + (random.uniform() - 0.5) * h;
    out[2 * p + 1] = centres[2 * lo + 1]! + (random.uniform() - 0.5) * h;
  }
  return out;
}

export function langevinCommand(s: LangevinSettings, out: string): void {
  const dir = prepareOutputDir(out);
  const U = fittedEnergy(s.target);
  const marks = [0, 10, 30, 100, 300, 1000, 3000, 10_000, 30_000].filter((t) => t < s.steps).concat([s.steps]);
  const bar = progress(`langevin ${s.target} ${s.adjusted ? "MALA" : "ULA"}`, s.steps);
  const started = performance.now();
  const result = langevin(U, 2, {
    particles: s.particles,
    stepSize: s.stepSize,
    steps: s.steps,
    adjusted: s.adjusted,
    seed: s.seed,
    snapshots: marks,
    onSnapshot: (t) => bar.update(t, `t = ${(t * s.stepSize).toFixed(2)}`),
  });
  bar.stop();
  const seconds = (performance.now() - started) / 1000;
  const rows = result.snapshots.map((snap) => ({
    step: snap.step,
    time: snap.time,
    ksd: kernelSteinDiscrepancy(U, snap.particles, 2),
  }));
  const floor: SteinDiscrepancy = kernelSteinDiscrepancy(U, gridSamples(s.target, s.particles, s.seed + 1), 2);
  const lines = ["| t | steps | KSD² | ± s.e. |", "|---:|---:|---:|---:|"];
  for (const r of rows)
    lines.push(
      `| ${r.time.toFixed(2)} | ${r.step} | ${r.ksd.squared.toFixed(5)} | ${r.ksd.standardError.toFixed(5)} |`,
    );
  lines.push(`| exact samples of p | | ${floor.squared.toFixed(5)} | ${floor.standardError.toFixed(5)} |`);
  console.log(lines.join("\n"));
  console.log(
    `\n${s.adjusted ? `MALA acceptance ${(100 * result.acceptance).toFixed(1)} %; ` : ""}${s.particles} particles, h = ${s.stepSize}, ${seconds.toFixed(1)} s`,
  );
  const stem = path.join(dir, `${s.target}-langevin-${s.adjusted ? "mala" : "ula"}`);
  writeJsonAtomic(`${stem}.json`, {
    command: `flowgrad ${process.argv.slice(2).join(" ")}`,
    ...s,
    seconds,
    acceptance: result.acceptance,
    rows,
    exactSamples: floor,
  });
  // The figure: the true density, then a histogram of the particles at the last step.
  const t = s.steps * s.stepSize;
  const grid = labelledGrid(
    [s.target],
    ["true density", `${s.adjusted ? "MALA" : "ULA"} particles, t = ${+t.toFixed(4)}`],
    FIGURE_PANEL,
  );
  const image = grid.image;
  drawDensity(image, targetLogDensity(s.target, 0), FIGURE_PANEL, grid.at(0, 0).left, grid.at(0, 0).top);
  const counts = new Float64Array(FIGURE_PANEL * FIGURE_PANEL);
  binPoints(result.snapshots.at(-1)!.particles, 2, counts);
  drawDensity(
    image,
    counts.map((c) => Math.log(c)),
    FIGURE_PANEL,
    grid.at(0, 1).left,
    grid.at(0, 1).top,
  );
  writePng(`${stem}.png`, image);
  console.log(`written: ${stem}.{json,png}`);
}
