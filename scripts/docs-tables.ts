// The result tables of README.md and docs/*.md, generated from the committed results JSON, so text
// and numbers cannot drift apart. A page marks each table with
//   <!-- table: NAME -->  …  <!-- /table -->
// and `npm run docs` rewrites what is between the markers; test/docs.test.ts fails when they differ.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { formatBytes, markdownTable, type Row } from "../bench/harness.js";
import { logdetFigure } from "../bench/plot.js";
import type { Image } from "../src/models/heatmap.js";
import { calibrateTable, DEVICE_DIR, table2Webgpu, webgpuCurveGaps } from "./docs-device.js";
import { pm, table } from "./markdown.js";
import { figure4, TABLE2_DIR, table2, table2Sweep, table2Tails } from "./table2.js";
import { ANNEAL_DIR, table2Anneal } from "./table2-anneal.js";
import { CLIP_DIR, table2Clip, table2ClipNorms } from "./table2-clip.js";
import { DATA_DIR, figureData, table2Data } from "./table2-data.js";
import { table2Fixed, table2LocalPosteriors } from "./table2-fixed.js";
import {
  DYNAMIC_DIR,
  FLOWLR_DIR,
  figure4FollowUps,
  GLOBAL_DIR,
  RATES_DIR,
  table2FlowLr,
  table2Global,
  table2Rates,
} from "./table2-followups.js";
import { table2Gaps } from "./table2-gaps.js";
import {
  figure4Grow,
  GROW_DIR,
  GROW_LR_DIR,
  table2Grow,
  table2GrowFit,
  table2GrowLayers,
  table2GrowTails,
} from "./table2-grow.js";
import { table2Early, table2Layers, table2LayersPattern } from "./table2-layers.js";
import { table2Samples } from "./table2-samples.js";
import { table2Steps } from "./table2-steps.js";

// biome-ignore lint/suspicious/noExplicitAny: results files are read as written; each table names the fields it uses
type Json = Record<string, any>;

const TARGETS = ["U1", "U2", "U3", "U4"];

function read(root: string, file: string): Json {
  return JSON.parse(readFileSync(path.join(root, file), "utf8")) as Json;
}

/** Milliseconds as µs, ms or s, the benchmarks' format. */
function time(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

// ---- the paper's experiments -------------------------------------------------------------------

function figure3(root: string): string {
  const { records } = read(root, "results/figure3/summary.json");
  const Ks = [...new Set(records.map((r: Json) => r.K as number))] as number[];
  const rows = TARGETS.map((t) => [
    t,
    ...Ks.map((K) => {
      const r = records.find((x: Json) => x.target === t && x.K === K);
      return r ? pm(r.kl.kl, r.kl.standardError) : "—";
    }),
  ]);
  return table(["target", ...Ks.map((K) => `K = ${K}`)], ["---", ...Ks.map(() => "---:")], rows);
}

function flows2d(root: string): string {
  const fitRecord = (dir: string, t: string, suffix: string) => read(root, `results/${dir}/${t}-${suffix}.json`);
  const langevin = (t: string) => read(root, `results/langevin/${t}-langevin-mala.json`);
  const planar = fitRecord("planar-K32", "U1", "planar-K32");
  const cnf = fitRecord("cnf", "U1", "cnf-K16");
  const ham = fitRecord("hamiltonian", "U1", "hamiltonian-K5");
  const lan = langevin("U1");
  const last = lan.rows.at(-1);
  const secs = (r: Json) => `${Math.round(r.seconds)} s`;
  const rows = TARGETS.map((t) => {
    const p = fitRecord("planar-K32", t, "planar-K32");
    const c = fitRecord("cnf", t, "cnf-K16");
    const h = fitRecord("hamiltonian", t, "hamiltonian-K5");
    const l = langevin(t);
    const end = l.rows.at(-1).ksd;
    return [
      t,
      `${pm(p.kl.kl, p.kl.standardError)} (${secs(p)})`,
      `${pm(c.kl.kl, c.kl.standardError)} (${secs(c)})`,
      `≤ ${pm(h.kl.kl, h.kl.standardError)} (${secs(h)})`,
      `${pm(end.squared, end.standardError)} (${pm(l.exactSamples.squared, l.exactSamples.standardError)}; ${secs(l)})`,
    ];
  });
  const hidden = (cnf.command as string).match(/--K (\d+)/)?.[1] ?? "?";
  rows.push([
    "parameters",
    `${planar.parameters}`,
    `${cnf.parameters}`,
    `${ham.parameters}`,
    `none (${lan.particles.toLocaleString("en")} particles)`,
  ]);
  rows.push([
    "evaluations per sample batch",
    `${planar.K} layers`,
    `${cnf.fieldEvaluations} of the field (${cnf.cnf.solver.toUpperCase()}, ${cnf.cnf.steps} steps; ${cnf.cnf.trace === "exact" ? "exact trace: 2 products each" : "Hutchinson's trace: 1 product each"})`,
    `${2 * ham.K} gradients of U`,
    `${lan.steps.toLocaleString("en")} gradients of U`,
  ]);
  return table(
    [
      "target",
      `planar K = ${planar.K} (${planar.steps.toLocaleString("en")} steps)`,
      `CNF, MLP 3-${hidden}-${hidden}-2 (${cnf.steps.toLocaleString("en")} steps)`,
      `Hamiltonian K = ${ham.K} (${ham.steps.toLocaleString("en")} steps; on (z, ρ), an upper bound)`,
      `Langevin (MALA), t = ${last.time}: KSD², not a KL (exact samples: the floor)`,
    ],
    ["---", "---:", "---:", "---:", "---:"],
    rows,
  );
}

function langevinTable(root: string, kind: "ula" | "mala"): string {
  const runs = TARGETS.map((t) => read(root, `results/langevin/${t}-langevin-${kind}.json`));
  const rows = runs[0]!.rows.map((row: Json, i: number) => [
    `${row.time}`,
    ...runs.map((r) => pm(r.rows[i].ksd.squared, r.rows[i].ksd.standardError)),
  ]);
  rows.push(["exact samples of p", ...runs.map((r) => pm(r.exactSamples.squared, r.exactSamples.standardError))]);
  return table(["t", ...TARGETS], ["---:", ...TARGETS.map(() => "---:")], rows);
}

function mnist(root: string): string {
  const records = [
    ...read(root, "results/vae-readout/vae-planar-L1.json").records,
    ...read(root, "results/vae-readout-K40/vae-planar-L1.json").records,
  ] as Json[];
  const paper: Record<number, string> = { 0: "89.9", 10: "87.5", 40: "85.7" };
  return table(
    [
      "posterior q(z\\|x)",
      "K",
      "test −ELBO (nats)",
      "test −ln p(x) (nats)",
      "± s.e.",
      "paper's −ln p(x)",
      "train time",
      "eval time",
    ],
    ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"],
    records.map((r) => [
      r.K === 0 ? "diagonal Gaussian" : `+ ${r.flow} flow`,
      `${r.K}`,
      r.negativeElbo.toFixed(2),
      r.negLogLikelihood.toFixed(2),
      r.standardError.toFixed(2),
      paper[r.K] ?? "—",
      `${Math.round(r.trainSeconds)} s`,
      `${Math.round(r.evalSeconds)} s`,
    ]),
  );
}

// ---- benchmarks --------------------------------------------------------------------------------

const LOGDET_PATHS = ["planar analytic", "radial analytic", "baseline total", "baseline Jacobian", "baseline LU"];

function logdet(root: string, K: number): string {
  const { points, slopes, stoppedAfterD } = read(root, "results/logdet-bench.json");
  const dims = [...new Set(points.filter((p: Json) => p.K === K).map((p: Json) => p.D as number))] as number[];
  const at = (p: string, D: number) => points.find((q: Json) => q.path === p && q.K === K && q.D === D);
  const lines = [
    table(
      ["D", ...LOGDET_PATHS],
      ["---:", ...LOGDET_PATHS.map(() => "---:")],
      dims.map((D) => [`${D}`, ...LOGDET_PATHS.map((p) => (at(p, D) ? time(at(p, D).meanMs) : "—"))]),
    ),
    "",
  ];
  for (const p of LOGDET_PATHS) {
    const s = slopes[`${p} K=${K}`];
    if (s !== undefined) lines.push(`- slope of log time vs log D for D ≥ 64, ${p}: **${s.toFixed(2)}**`);
  }
  for (const D of [128, 512]) {
    const base = at("baseline total", D);
    const ana = at("planar analytic", D);
    if (base && ana)
      lines.push(`- D = ${D}: baseline / planar analytic = **${Math.round(base.meanMs / ana.meanMs)}×**`);
  }
  for (const p of LOGDET_PATHS) {
    const D = stoppedAfterD[`${p} K=${K}`];
    if (D !== undefined) lines.push(`- ${p} stopped after D = ${D} (its next size would take too long)`);
  }
  return lines.join("\n");
}

/** The log-det paths' times at K = 1 per D, one group of columns per [label, results file]. */
function logdetGpu(root: string, runs: Array<[string, string]>): string {
  const modes = runs.map(([label, file]) => ({ label, r: read(root, file) }));
  const paths = ["planar analytic", "baseline total", "baseline LU"];
  const dims = [...new Set(modes[0]!.r.points.filter((p: Json) => p.K === 1).map((p: Json) => p.D as number))];
  const cell = (r: Json, p: string, D: number) => {
    const pt = r.points.find((q: Json) => q.path === p && q.K === 1 && q.D === D);
    return pt ? time(pt.meanMs) : "—";
  };
  return table(
    ["D", ...modes.flatMap(({ label }) => paths.map((p, i) => (i === 0 ? `${label}: ${p}` : p)))],
    ["---:", ...modes.flatMap(() => paths.map(() => "---:"))],
    (dims as number[]).map((D) => [`${D}`, ...modes.flatMap(({ r }) => paths.map((p) => cell(r, p, D)))]),
  );
}

/** A suite's rows as the benchmark printed them (bench/harness.ts), optionally only those matching. */
function benchRows(root: string, file: string, keep: (r: Row) => boolean = () => true): string {
  return markdownTable((read(root, file).rows as Row[]).filter(keep));
}

function higherOrder(root: string): string {
  const { rows } = read(root, "results/higher-order-bench.json");
  const workloads = [
    ...new Set((rows as Row[]).filter((r) => r.name.endsWith(": hvp")).map((r) => r.name.slice(0, -5))),
  ];
  const mean = (name: string) => (rows as Row[]).find((r) => r.name === name)!.meanMs;
  return table(
    ["function of x", "gradient", "hvp", "hvp / gradient"],
    ["---", "---:", "---:", "---:"],
    workloads.map((w) => {
      const g = mean(`${w}: gradient`);
      const h = mean(`${w}: hvp`);
      return [w, time(g), time(h), `${(h / g).toFixed(2)}×`];
    }),
  );
}

function cnfBench(root: string): string {
  const { rows } = read(root, "results/cnf-bench.json");
  const dims = [...new Set((rows as Row[]).map((r) => Number(/^D=(\d+)/.exec(r.name)![1])))];
  const mean = (D: number, trace: string) => (rows as Row[]).find((r) => r.name === `D=${D} ${trace}`)?.meanMs;
  return table(
    ["D", "exact trace", "Hutchinson", "exact / Hutchinson"],
    ["---:", "---:", "---:", "---:"],
    dims.map((D) => {
      const e = mean(D, "exact");
      const h = mean(D, "hutchinson");
      return [`${D}`, e ? time(e) : "—", h ? time(h) : "—", e && h ? `${(e / h).toFixed(1)}×` : "—"];
    }),
  );
}

/** bench:cnf-adjoint: the graph's memory and a step's time, backpropagation against the adjoint, by RK4 steps. */
function cnfAdjoint(root: string): string {
  const { rows } = read(root, "results/cnf-adjoint.json");
  type AdjointRow = { steps: number; gradient: string; heldBytes: number; medianMs: number; evaluations: number };
  const at = (steps: number, gradient: string) =>
    (rows as AdjointRow[]).find((r) => r.steps === steps && r.gradient === gradient);
  const steps = [...new Set((rows as AdjointRow[]).map((r) => r.steps))];
  return table(
    [
      "RK4 steps",
      "graph held, backprop",
      "graph held, adjoint",
      "step, backprop",
      "step, adjoint",
      "adjoint / backprop",
      "field evaluations, backprop / adjoint",
    ],
    ["---:", "---:", "---:", "---:", "---:", "---:", "---:"],
    steps.map((n) => {
      const b = at(n, "backprop")!,
        a = at(n, "adjoint")!;
      return [
        `${n}`,
        formatBytes(b.heldBytes),
        formatBytes(a.heldBytes),
        time(b.medianMs),
        time(a.medianMs),
        `${(a.medianMs / b.medianMs).toFixed(2)}×`,
        `${b.evaluations} / ${a.evaluations}`,
      ];
    }),
  );
}

function training(root: string): string {
  const { rows, longRun } = read(root, "results/training-bench.json");
  return [
    ...(rows as Row[]).map((r) => `- ${r.name}: **${Math.round(r.opsPerSec * 100)} examples/s**`),
    `- ${longRun.steps.toLocaleString("en")} fused planar K=32 U1 steps (N = 1000): ${Math.round(longRun.steps / longRun.seconds)} steps/s; RSS ${Math.round(longRun.rssAfterTenthMiB)} MiB after ${longRun.steps / 10} steps, peak ${Math.round(longRun.peakRssMiB)} MiB over the run`,
  ].join("\n");
}

// ---- the CPU backend's WebAssembly kernels (issue 18) ------------------------------------------

/** bench:matmul: GFLOP/s of the TypeScript loops and the WebAssembly kernels, by shape and dtype. */
function matmulBench(root: string, file: string): string {
  const { rows, threads } = read(root, file);
  const big = (rows as Json[]).filter((r) => r.multiplyAdds >= 32 ** 3);
  return table(
    ["dtype", "product", "TypeScript loops", "WebAssembly, 1 thread", `WebAssembly, ${threads} threads`],
    ["---", "---", "---:", "---:", "---:"],
    big.map((r) => [
      r.dtype,
      r.shape,
      ...["typescript", "wasm-1", "wasm-all"].map((w) => `${r.gflops[w].toFixed(1)} GFLOP/s`),
    ]),
  );
}

/** bench:optim: the optimizer updates, TypeScript loop against WebAssembly, from 256 values up. */
function optimBench(root: string, file: string): string {
  const { rows } = read(root, file);
  const ns = (ms: number, size: number) => `${((ms * 1e6) / size).toFixed(2)} ns`;
  return table(
    ["rule", "dtype", "values", "TypeScript loop", "WebAssembly", "speed-up", "a plain stream (JS)", "same bits"],
    ["---", "---", "---:", "---:", "---:", "---:", "---:", "---"],
    (rows as Json[])
      .filter((r) => r.size >= 256)
      .map((r) => [
        r.rule,
        r.dtype,
        r.size.toLocaleString("en-US"),
        ns(r.medianMs.typescript, r.size),
        ns(r.medianMs.wasm, r.size),
        `${r.speedup.toFixed(2)}×`,
        ns(r.medianMs.stream, r.size),
        r.identical ? "yes" : "NO",
      ]),
  );
}

/** bench:matmul --scaling: GFLOP/s by thread count, and whether each count gave the 1-thread bits. */
function matmulScaling(root: string, file: string): string {
  const { scaling } = read(root, file);
  const counts = [...new Set((scaling as Json[]).map((r) => r.threads as number))];
  const products = [...new Set((scaling as Json[]).map((r) => `${r.dtype} ${r.shape}`))];
  return table(
    ["product", ...counts.map((t) => `${t} thread${t > 1 ? "s" : ""}`), "bit-identical"],
    ["---", ...counts.map(() => "---:"), "---"],
    products.map((p) => {
      const of = (scaling as Json[]).filter((r) => `${r.dtype} ${r.shape}` === p);
      return [
        p,
        ...counts.map((t) => `${of.find((r) => r.threads === t)!.gflops.toFixed(1)} GFLOP/s`),
        of.every((r) => r.identical) ? "yes" : "NO",
      ];
    }),
  );
}

/**
 * bench:vae-epoch: seconds per epoch of the 784-400-40 VAE; the speed-up is against the baseline
 * build where there is one, else against this build's CPU backend on one thread (--gpu-mode runs).
 */
function vaeEpoch(root: string, file: string): string {
  const { rows } = read(root, file);
  const all = rows as Json[];
  const best = (r: Json) => Math.min(...(r.epochSeconds as number[]));
  const withBackend = all.some((r) => r.backend && r.backend !== "cpu");
  const against = (r: Json) =>
    all.find((b) => b.K === r.K && b.build === "baseline") ??
    (withBackend ? all.find((b) => b.K === r.K && b.backend === "cpu" && b.threads === 1) : undefined);
  return table(
    ["K", "build", ...(withBackend ? ["backend"] : []), "threads", "seconds per epoch", "speed-up"],
    ["---:", "---", ...(withBackend ? ["---"] : []), "---:", "---:", "---:"],
    all.map((r) => {
      const base = against(r);
      return [
        `${r.K}`,
        r.build,
        ...(withBackend ? [r.backend] : []),
        `${r.threads}`,
        best(r).toFixed(1),
        base ? `${(best(base) / best(r)).toFixed(1)}×` : "—",
      ];
    }),
  );
}

/** bench:peers' targets: flowgrad against TensorFlow.js wasm, as speed ratios from one run. */
function peersTargets(root: string): string {
  const { targets, threads } = read(root, "results/peers-bench.json");
  const x = (v: number) => `${v.toFixed(2)}×`;
  return table(
    [`measure (n = ${targets.n})`, "1 thread", `${threads} threads`, "target"],
    ["---", "---:", "---:", "---"],
    [
      [
        "float32 product: tfjs-wasm time / flowgrad time",
        x(targets.forwardFloat32OverTfjsWasm.oneThread),
        x(targets.forwardFloat32OverTfjsWasm.allThreads),
        "≥ 1× (threads allowed)",
      ],
      [
        "float32 forward+backward: tfjs-wasm (its faster way) / flowgrad",
        x(targets.forwardBackwardFloat32OverTfjsWasm.oneThread),
        x(targets.forwardBackwardFloat32OverTfjsWasm.allThreads),
        "≥ 1.5×",
      ],
      [
        "float64 product, flowgrad",
        `${targets.float64Gflops.oneThread.toFixed(1)} GFLOP/s`,
        `${targets.float64Gflops.allThreads.toFixed(1)} GFLOP/s`,
        "≥ 10 GFLOP/s",
      ],
      ["planar K = 32 step: flowgrad / hand-written loop", x(targets.planarStepOverHand), "", "≤ 1.2×"],
      ["planar K = 32 step: tfjs-wasm / flowgrad", x(targets.tfjsWasmPlanarStepOverFlowgrad), "", "≥ 4×"],
    ],
  );
}

/** Every generated table by the name its markers use. */
export const TABLES: Record<string, (root: string) => string> = {
  "figure3-kl": figure3,
  "flows-2d": flows2d,
  "langevin-ula": (root) => langevinTable(root, "ula"),
  "langevin-mala": (root) => langevinTable(root, "mala"),
  mnist,
  "logdet-K1": (root) => logdet(root, 1),
  "logdet-K8": (root) => logdet(root, 8),
  "logdet-gpu": (root) =>
    logdetGpu(root, [
      ["headlessgl", "results/logdet-bench-gpu-headlessgl.json"],
      ["webgpu (lavapipe)", "results/logdet-bench-gpu-webgpu.json"],
    ]),
  "bench-autograd": (root) => benchRows(root, "results/autograd-bench.json"),
  "bench-flows": (root) => benchRows(root, "results/flows-bench.json"),
  "bench-peers": (root) => benchRows(root, "results/peers-bench.json"),
  "bench-gpu": (root) => benchRows(root, "results/gpu-bench.json"),
  "bench-webgpu": (root) => benchRows(root, "results/webgpu-bench.json"),
  "bench-higher-order": higherOrder,
  "bench-cnf": cnfBench,
  "bench-cnf-adjoint": cnfAdjoint,
  "bench-training": training,
  "bench-matmul": (root) => matmulBench(root, "results/matmul-bench.json"),
  "bench-matmul-16": (root) => matmulBench(root, "results/device/matmul-bench-16-cores.json"),
  "bench-matmul-scaling-16": (root) => matmulScaling(root, "results/device/matmul-bench-16-cores.json"),
  "bench-optim": (root) => optimBench(root, "results/optim-bench.json"),
  "bench-vae-epoch": (root) => vaeEpoch(root, "results/vae-epoch-bench.json"),
  "bench-vae-epoch-16": (root) => vaeEpoch(root, "results/device/vae-epoch-bench-16-cores.json"),
  "bench-peers-targets": peersTargets,
  "device-vae-epoch": (root) => vaeEpoch(root, `${DEVICE_DIR}/vae-epoch-bench-webgpu-quick.json`),
  "device-calibrate": (root) => calibrateTable(root, `${DEVICE_DIR}/calibrate-webgpu.json`),
  "device-bench-webgpu": (root) => benchRows(root, `${DEVICE_DIR}/webgpu-bench.json`),
  "device-logdet": (root) => logdetGpu(root, [["webgpu (H200)", `${DEVICE_DIR}/logdet-bench-gpu-webgpu-quick.json`]]),
  "device-table2": table2Webgpu,
  "device-table2-curves": webgpuCurveGaps,
  table2,
  "table2-steps": table2Steps,
  "table2-sweep": table2Sweep,
  "table2-tails": table2Tails,
  "table2-flowlr": table2FlowLr,
  "table2-flowlr-tails": (root) => table2Tails(root, FLOWLR_DIR),
  "table2-rates": table2Rates,
  "table2-rates-tails": (root) => table2Tails(root, RATES_DIR),
  "table2-global": table2Global,
  "table2-global-tails": (root) => table2Tails(root, GLOBAL_DIR),
  "table2-dynamic": (root) => table2(root, DYNAMIC_DIR),
  "table2-dynamic-tails": (root) => table2Tails(root, DYNAMIC_DIR),
  "table2-gaps": table2Gaps,
  "table2-fixed": table2Fixed,
  "table2-posteriors": table2LocalPosteriors,
  "table2-layers": table2Layers,
  "table2-layers-pattern": table2LayersPattern,
  "table2-early": table2Early,
  "table2-grow": table2Grow,
  "table2-grow-tails": table2GrowTails,
  "table2-grow-fit": table2GrowFit,
  "table2-grow-layers": table2GrowLayers,
  "table2-grow-lr-layers": (root) => table2GrowLayers(root, GROW_LR_DIR, GROW_DIR),
  "table2-grow-lr": (root) => table2Grow(root, GROW_LR_DIR, GROW_DIR),
  "table2-grow-lr-tails": (root) => table2GrowTails(root, GROW_LR_DIR),
  "table2-grow-lr-fit": (root) => table2GrowFit(root, GROW_LR_DIR, GROW_DIR),
  "table2-data": table2Data,
  "table2-data-tails-2000": (root) => table2Tails(root, `${DATA_DIR}/train2000`),
  "table2-data-tails-4000": (root) => table2Tails(root, `${DATA_DIR}/train4000`),
  "table2-anneal": table2Anneal,
  "table2-anneal-tails-1333": (root) => table2Tails(root, `${ANNEAL_DIR}/steps1333`),
  "table2-anneal-tails-10000": (root) => table2Tails(root, `${ANNEAL_DIR}/steps10000`),
  "table2-clip": table2Clip,
  "table2-clip-norms": table2ClipNorms,
  "table2-clip-tails": (root) => table2Tails(root, CLIP_DIR),
  "table2-samples": table2Samples,
};

/** Figures drawn from results JSON alone (no rerun), by the file they are written to. */
export const FIGURES: Record<string, (root: string) => string> = {
  "docs/logdet.svg": (root) => {
    const { N, points } = read(root, "results/logdet-bench.json");
    return logdetFigure(N, points, 1);
  },
};

const MARKER = /<!-- table: ([\w-]+) -->\n([\s\S]*?)<!-- \/table -->/g;

/** The page with every marked table regenerated; an unknown table name is an error naming it. */
export function renderPage(text: string, root: string, file = "page"): string {
  return text.replace(MARKER, (_, name: string) => {
    const make = TABLES[name];
    if (!make) throw new Error(`${file}: unknown table "${name}"; known: ${Object.keys(TABLES).join(", ")}`);
    return `<!-- table: ${name} -->\n${make(root)}\n<!-- /table -->`;
  });
}

/** The names of the tables a page marks, in order. */
export function tablesIn(text: string): string[] {
  return [...text.matchAll(MARKER)].map((m) => m[1]!);
}

/** README.md and every Markdown page under docs/ (not the generated API reference). */
export function pages(root: string): string[] {
  const docs = readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join("docs", f));
  return ["README.md", ...docs.sort()];
}

/**
 * Figures drawn as pixels from results JSON alone (PNG), by the file they are written to. Figure 4
 * and its follow-ups' version join once results/table2 holds runs (scripts/table2.sh), and Figure 4
 * on dynamically binarised digits once results/table2-dynamic does (the grown column once
 * results/table2-grow does, the steps against the data's size once results/table2-data does);
 * before that there is nothing to draw.
 */
export function pngFigures(root: string): Record<string, (root: string) => Image> {
  if (!existsSync(path.join(root, TABLE2_DIR))) return {};
  const figures: Record<string, (root: string) => Image> = {
    "docs/figure4.png": figure4,
    "docs/figure4-followups.png": figure4FollowUps,
  };
  if (existsSync(path.join(root, DYNAMIC_DIR))) figures["docs/figure4-dynamic.png"] = (r) => figure4(r, DYNAMIC_DIR);
  if (existsSync(path.join(root, GROW_DIR))) figures["docs/figure4-grow.png"] = figure4Grow;
  if (existsSync(path.join(root, DATA_DIR))) figures["docs/figure4-data.png"] = figureData;
  return figures;
}
