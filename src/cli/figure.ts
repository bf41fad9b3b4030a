// `flowgrad figure`: one image like the paper's Figure 3 with the flows of section 3.2 as columns —
// a row per target, the true density, then each saved fit (planar, CNF, Hamiltonian) and, with
// --langevin, the Langevin flow's particles.

import { drawDensity, labelledGrid } from "../models/heatmap.js";
import { fittedEnergy, langevin, logPartition, TARGETS, type TargetName } from "../models/index.js";
import { prepareOutputFile, UserError, writePng } from "../node/io.js";
import { loadFlow2D } from "../node/model-files.js";
import { binPoints, fittedLogDensity, FIGURE_PANEL as PANEL, targetLogDensity } from "./fit.js";
import { onHost } from "./host.js";

export function figureCommand(models: string[], withLangevin: boolean, out: string): void {
  const file = prepareOutputFile(out);
  const loaded = models.map((m) => ({ file: m, ...loadFlow2D(m) }));
  const targets = TARGETS.filter((t) => loaded.some((m) => m.target === t));
  if (targets.length === 0) throw new UserError("figure: no model files given (--models a.model.json,b.model.json)");
  const columns = Math.max(...targets.map((t) => loaded.filter((m) => m.target === t).length));
  // Column titles from the first target's models (the same kinds, in the order given, for each target).
  const first = loaded.filter((m) => m.target === targets[0]);
  const titles = [
    "true density",
    ...first.map((m) => modelTitle(m.flow, m.K)),
    ...Array.from({ length: columns - first.length }, () => "fit"),
    ...(withLangevin ? ["Langevin (MALA, t = 10)"] : []),
  ];
  const grid = labelledGrid(targets, titles, PANEL);
  const image = grid.image;
  onHost(() =>
    targets.forEach((target, row) => {
      const draw = (logDensity: ArrayLike<number>, column: number) => {
        const { left, top } = grid.at(row, column);
        drawDensity(image, logDensity, PANEL, left, top);
      };
      draw(targetLogDensity(target, logPartition(target)), 0);
      const fits = loaded.filter((m) => m.target === target);
      fits.forEach((m, j) => draw(fittedLogDensity(m.q), j + 1));
      if (withLangevin) draw(langevinLogDensity(target), columns + 1);
      console.log(
        `${target}: ${[...fits.map((m) => modelTitle(m.flow, m.K)), ...(withLangevin ? ["Langevin (MALA, t = 10)"] : [])].join(", ")}`,
      );
    }),
  );
  writePng(file, image);
  console.log(
    `written: ${file} (rows ${targets.join(", ")}; columns: true density, then the models in the order given${withLangevin ? ", then Langevin particles" : ""})`,
  );
}

/** A column title: the kind of flow and what its K counts. */
function modelTitle(flow: string, K: number): string {
  if (flow === "cnf") return `CNF (${K} hidden)`;
  if (flow === "hamiltonian") return `Hamiltonian K = ${K}`;
  if (flow === "nice") return `NICE k = ${K}`;
  return `${flow} K = ${K}`;
}

/** A histogram of 20,000 MALA particles after t = 10 (h = 0.01), as a log-density for the panel. */
function langevinLogDensity(target: TargetName): Float64Array {
  const { snapshots } = langevin(fittedEnergy(target), 2, {
    particles: 20_000,
    stepSize: 0.01,
    steps: 1000,
    adjusted: true,
    seed: 11,
  });
  const counts = new Float64Array(PANEL * PANEL);
  binPoints(snapshots.at(-1)!.particles, 2, counts);
  return counts.map((c) => Math.log(c));
}
