// The tables of flowgrad's first runs on a real GPU (an H200 through gpu.js webgpu mode,
// results/device/h200-webgpu/): the MNIST model's epoch, "auto"'s calibration, and Table 2 runs
// trained there beside the CPU runs of the same seed.

import { readFileSync } from "node:fs";
import path from "node:path";
import { pm, signed, table } from "./markdown.js";
import { paired, TABLE2_DIR, type Table2Record, table2Records } from "./table2.js";

export const DEVICE_DIR = "results/device/h200-webgpu";

// biome-ignore lint/suspicious/noExplicitAny: results files are read as written; each table names the fields it uses
type Json = Record<string, any>;
const read = (root: string, file: string): Json => JSON.parse(readFileSync(path.join(root, file), "utf8")) as Json;

/** `flowgrad calibrate`'s rows: a chain kept on the device against the CPU backend, per size. */
export function calibrateTable(root: string, file: string): string {
  const { rows, setting } = read(root, file);
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  return [
    table(
      ["chain", "size", "CPU backend (median)", "gpu.js (median)", "gpu.js / CPU"],
      ["---", "---:", "---:", "---:", "---:"],
      (rows as Json[]).map((r) => [
        r.kind === "elementwise" ? "8 elementwise ops" : "2 products n × n",
        `n = ${r.size}`,
        ms(r.cpuMs),
        ms(r.gpuMs),
        (r.gpuMs / r.cpuMs).toFixed(2),
      ]),
    ),
    "",
    `Thresholds measured: \`${setting}\`.`,
  ].join("\n");
}

/** Table 2's runs trained on the GPU, each beside the CPU run of the same flow, K and seed (results/table2). */
export function table2Webgpu(root: string): string {
  const cpu = table2Records(root, TABLE2_DIR);
  const gpu = table2Records(root, `${DEVICE_DIR}/table2`);
  const on = (r: Table2Record) => cpu.find((c) => c.run === r.run);
  return table(
    [
      "run",
      "best epoch / run (stopped by)",
      "validation −ELBO after epoch 1: webgpu / CPU",
      "test −ln p(x), webgpu",
      "CPU, same seed",
      "webgpu − CPU (paired)",
      "train / eval time, webgpu",
      "CPU (2-core machine, 1 thread)",
    ],
    ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"],
    gpu.map((g) => {
      const c = on(g);
      return [
        g.run,
        `${g.bestEpoch} / ${g.epochsRun} (${g.stoppedBy})`,
        `${g.validationLosses[0]!.toFixed(2)} / ${c ? c.validationLosses[0]!.toFixed(2) : "—"}`,
        pm(g.negLogLikelihood, g.standardError, 2),
        c ? pm(c.negLogLikelihood, c.standardError, 2) : "—",
        paired(c, g) ?? "—",
        `${Math.round(g.trainSeconds)} s / ${Math.round(g.evalSeconds)} s`,
        c ? `${Math.round(c.trainSeconds)} s / ${Math.round(c.evalSeconds)} s` : "—",
      ];
    }),
  );
}

/** How far a webgpu run's validation curve stays with the CPU run's: the largest relative gap over the epochs both ran. */
export function webgpuCurveGaps(root: string): string {
  const cpu = table2Records(root, TABLE2_DIR);
  return table2Records(root, `${DEVICE_DIR}/table2`)
    .map((g) => {
      const c = cpu.find((r) => r.run === g.run);
      if (!c) return `- ${g.run}: no CPU run of this seed`;
      const n = Math.min(g.validationLosses.length, c.validationLosses.length);
      const gap = (e: number) => Math.abs(g.validationLosses[e]! - c.validationLosses[e]!) / c.validationLosses[e]!;
      const worst = Math.max(...Array.from({ length: n }, (_, e) => gap(e)));
      return `- ${g.run}: largest relative gap ${worst.toExponential(1)} over ${n} epochs (epoch 1: ${gap(0).toExponential(1)}); test −ln p(x) ${signed(g.negLogLikelihood - c.negLogLikelihood)}`;
    })
    .join("\n");
}
