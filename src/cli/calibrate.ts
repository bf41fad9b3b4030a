import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { calibrateAuto, initBackend, loadedGpuBackend, type AutoThresholds, type CalibrateOptions, type Calibration } from "../kernels/index.js";
import type { GpuMode } from "../kernels/gpu/load.js";
import { writeJsonAtomic } from "../node/io.js";
import { progress } from "./progress.js";

/** A threshold as FLOWGRAD_AUTO_THRESHOLD spells it. */
const spell = (t: number): string => (Number.isFinite(t) ? String(t) : "inf");
/** A threshold as JavaScript spells it. */
const literal = (t: number): string => (Number.isFinite(t) ? String(t) : "Infinity");
export const thresholdSetting = (t: AutoThresholds): string => `${spell(t.elements)},${spell(t.multiplyAdds)}`;

function table(c: Calibration): string {
  const lines = ["| case | work | cpu backend (median) | gpu.js (median) | gpu.js / cpu |", "|---|---:|---:|---:|---:|"];
  for (const r of c.rows) {
    const name = r.kind === "elementwise" ? `${c.chain.elementwise} elementwise ops, n = ${r.size}` : `${c.chain.matmul} × matmul, n = ${r.size}`;
    lines.push(`| ${name} | ${r.work} | ${r.cpuMs.toFixed(3)} ms | ${r.gpuMs.toFixed(3)} ms | ${(r.gpuMs / r.cpuMs).toFixed(2)} |`);
  }
  return lines.join("\n");
}

/** `flowgrad calibrate`: time gpu.js against the CPU backend here and print "auto"'s thresholds. */
export async function calibrateCommand(gpuMode: GpuMode | "auto" | undefined, options: Omit<CalibrateOptions, "onProgress">, out: string | undefined): Promise<void> {
  await initBackend("gpu", { gpuMode });
  const gpu = loadedGpuBackend()!;
  console.error(`flowgrad calibrate: gpu.js ${gpu.info.gpuMode} mode (${gpu.info.kernelClass}${gpu.info.adapter ? ` on ${gpu.info.adapter}` : ""}) against the CPU backend`);
  let bar: ReturnType<typeof progress> | null = null;
  const c = await calibrateAuto(gpu, {
    ...options,
    onProgress: (done, total, label) => {
      bar ??= progress("calibrate", total);
      bar.update(done, label);
    },
  });
  (bar as ReturnType<typeof progress> | null)?.stop();
  await initBackend("cpu");
  console.log(table(c));
  const setting = thresholdSetting(c.thresholds);
  const say = (t: number, unit: string) => (Number.isFinite(t) ? `from ${t} ${unit}` : "never (gpu.js did not win at the largest size measured)");
  console.log(`\n"auto" should send elementwise work to gpu.js ${say(c.thresholds.elements, "elements")}, and products ${say(c.thresholds.multiplyAdds, "multiply-adds")}.`);
  console.log(`Use it with: FLOWGRAD_AUTO_THRESHOLD=${setting}  (or initBackend("auto", { gpuMode: "${c.gpu.gpuMode}", threshold: { elements: ${literal(c.thresholds.elements)}, multiplyAdds: ${literal(c.thresholds.multiplyAdds)} } }))`);
  if (out) {
    // JSON has no Infinity: thresholds are written as FLOWGRAD_AUTO_THRESHOLD spells them.
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    writeJsonAtomic(out, { ...c, thresholds: { elements: spell(c.thresholds.elements), multiplyAdds: spell(c.thresholds.multiplyAdds) }, setting: `FLOWGRAD_AUTO_THRESHOLD=${setting}`, environment: { measured: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, platform: `${os.platform()} ${os.arch()}` } });
    console.error(`flowgrad calibrate: wrote ${out}`);
  }
}
