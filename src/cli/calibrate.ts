import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { GpuMode } from "../kernels/gpu/load.js";
import {
  type AutoThresholds,
  type CalibrateOptions,
  type Calibration,
  calibrateAuto,
  calibrationFile,
  initBackend,
  loadedGpuBackend,
  machineKey,
  readCalibrationStore,
  withCalibration,
} from "../kernels/index.js";
import { UserError, writeJsonAtomic } from "../node/io.js";
import { progress } from "./progress.js";

/** A threshold as FLOWGRAD_AUTO_THRESHOLD spells it. */
const spell = (t: number): string => (Number.isFinite(t) ? String(t) : "inf");
/** A threshold as JavaScript spells it. */
const literal = (t: number): string => (Number.isFinite(t) ? String(t) : "Infinity");
export const thresholdSetting = (t: AutoThresholds): string => `${spell(t.elements)},${spell(t.multiplyAdds)}`;

/** What "auto" sends to gpu.js, in words: "elementwise work from 65536 elements and no products". */
export function describeThresholds(t: AutoThresholds): string {
  const elements = Number.isFinite(t.elements) ? `elementwise work from ${t.elements} elements` : "no elementwise work";
  return `${elements} and ${Number.isFinite(t.multiplyAdds) ? `products from ${t.multiplyAdds} multiply-adds` : "no products"}`;
}

function table(c: Calibration): string {
  const lines = [
    "| case | work | cpu backend (median) | gpu.js (median) | gpu.js / cpu |",
    "|---|---:|---:|---:|---:|",
  ];
  for (const r of c.rows) {
    const name =
      r.kind === "elementwise"
        ? `${c.chain.elementwise} elementwise ops, n = ${r.size}`
        : `${c.chain.matmul} × matmul, n = ${r.size}`;
    lines.push(
      `| ${name} | ${r.work} | ${r.cpuMs.toFixed(3)} ms | ${r.gpuMs.toFixed(3)} ms | ${(r.gpuMs / r.cpuMs).toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

/** `flowgrad calibrate`: time gpu.js against the CPU backend here and print "auto"'s thresholds. */
export async function calibrateCommand(
  gpuMode: GpuMode | "auto" | undefined,
  options: Omit<CalibrateOptions, "onProgress">,
  out: string | undefined,
  save: boolean,
): Promise<void> {
  // Where --save writes, and whether the file there is sound, before minutes of measuring.
  const store = save ? await calibrationFile() : null;
  if (save && !store)
    throw new UserError(
      'calibrate --save: FLOWGRAD_CALIBRATION is "off"; set it to a file, or unset it for ~/.cache/flowgrad/calibration.json',
    );
  const previous = store ? await readCalibrationStore(store) : null;
  await initBackend("gpu", { gpuMode });
  const gpu = loadedGpuBackend()!;
  console.error(
    `flowgrad calibrate: gpu.js ${gpu.info.gpuMode} mode (${gpu.info.kernelClass}${gpu.info.adapter ? ` on ${gpu.info.adapter}` : ""}) against the CPU backend`,
  );
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
  // JSON has no Infinity: files hold thresholds as FLOWGRAD_AUTO_THRESHOLD spells them.
  const spelled = { elements: spell(c.thresholds.elements), multiplyAdds: spell(c.thresholds.multiplyAdds) };
  console.log(
    `\n"auto" should send ${describeThresholds(c.thresholds)} to gpu.js (none: gpu.js did not win at the largest size measured).`,
  );
  console.log(
    `Use it with: FLOWGRAD_AUTO_THRESHOLD=${setting}  (or initBackend("auto", { gpuMode: "${c.gpu.gpuMode}", threshold: { elements: ${literal(c.thresholds.elements)}, multiplyAdds: ${literal(c.thresholds.multiplyAdds)} } }))`,
  );
  if (out) {
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    writeJsonAtomic(out, {
      ...c,
      thresholds: spelled,
      setting: `FLOWGRAD_AUTO_THRESHOLD=${setting}`,
      environment: {
        measured: new Date().toISOString(),
        node: process.version,
        cpu: os.cpus()[0]?.model ?? "unknown",
        cores: os.cpus().length,
        platform: `${os.platform()} ${os.arch()}`,
      },
    });
    console.error(`flowgrad calibrate: wrote ${out}`);
  }
  if (store) {
    const machine = await machineKey(c.gpu);
    mkdirSync(path.dirname(path.resolve(store)), { recursive: true });
    writeJsonAtomic(store, withCalibration(previous, { ...machine, ...spelled, measured: new Date().toISOString() }));
    console.log(
      `Saved for ${machine.gpuMode}${machine.adapter ? ` on ${machine.adapter}` : ""} with ${machine.cores} × ${machine.cpu} in ${store}: "--backend auto" uses it from now on.`,
    );
  }
}
