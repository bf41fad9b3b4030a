// `flowgrad figure`: one image like the paper's Figure 3 with the flows of section 3.2 as columns —
// a row per target, the true density, then each saved fit (planar, CNF, Hamiltonian) and, with
// --langevin, the Langevin flow's particles.
import { fittedEnergy, langevin, logPartition, TARGETS, type TargetName } from "../models/index.js";
import { blankImage, drawDensity } from "../models/heatmap.js";
import type { FlowDistribution } from "../flows/index.js";
import { prepareOutputFile, UserError, writePng } from "../node/io.js";
import { loadFlow2D } from "../node/model-files.js";
import { binPoints, FIGURE_PANEL as PANEL, fittedLogDensity, targetLogDensity } from "./fit.js";
import { onHost } from "./host.js";

export function figureCommand(models: string[], withLangevin: boolean, out: string): void {
  const file = prepareOutputFile(out);
  const loaded = models.map((m) => ({ file: m, ...loadFlow2D(m) }));
  const targets = TARGETS.filter((t) => loaded.some((m) => m.target === t));
  if (targets.length === 0) throw new UserError("figure: no model files given (--models a.model.json,b.model.json)");
  const columns = Math.max(...targets.map((t) => loaded.filter((m) => m.target === t).length)) + (withLangevin ? 1 : 0);
  const gap = 4;
  const image = blankImage(gap + (1 + columns) * (PANEL + gap), gap + targets.length * (PANEL + gap));
  onHost(() =>
    targets.forEach((target, row) => {
      const top = gap + row * (PANEL + gap);
      drawDensity(image, targetLogDensity(target, logPartition(target)), PANEL, gap, top);
      const fits: FlowDistribution[] = loaded.filter((m) => m.target === target).map((m) => m.q);
      fits.forEach((q, j) => drawDensity(image, fittedLogDensity(q), PANEL, gap + (j + 1) * (PANEL + gap), top));
      if (withLangevin) drawDensity(image, langevinLogDensity(target), PANEL, gap + columns * (PANEL + gap), top);
      console.log(
        `${target}: ${[...loaded.filter((m) => m.target === target).map((m) => `${m.flow} K=${m.K}`), ...(withLangevin ? ["Langevin (MALA, t = 10)"] : [])].join(", ")}`,
      );
    }),
  );
  writePng(file, image);
  console.log(
    `written: ${file} (rows ${targets.join(", ")}; columns: true density, then the models in the order given${withLangevin ? ", then Langevin particles" : ""})`,
  );
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
