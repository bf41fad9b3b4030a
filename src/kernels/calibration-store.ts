import { type AutoThresholds, parseAutoThreshold } from "./auto.js";
import type { GpuInfo } from "./gpu/load.js";

/**
 * Where `flowgrad calibrate --save` keeps the "auto" thresholds it measured, so that
 * initBackend("auto") uses this machine's own numbers instead of a default. One JSON file holds one
 * entry per machine and gpu.js mode: the key is the mode, the WebGPU adapter, the CPU model and the
 * core count, because the crossover depends on both sides of the race. Node only (the file is read
 * through a dynamic import, so browser bundles never see node:fs); in a browser there is no file.
 */

/** The machine a threshold was measured on. */
export interface MachineKey {
  gpuMode: GpuInfo["gpuMode"];
  /** the WebGPU adapter's name; null in the other modes */
  adapter: string | null;
  cpu: string;
  cores: number;
}

/** One saved measurement: thresholds as FLOWGRAD_AUTO_THRESHOLD spells them ("inf" for never). */
export interface SavedCalibration extends MachineKey {
  elements: string;
  multiplyAdds: string;
  /** when it was measured (ISO 8601) */
  measured: string;
}

export interface CalibrationStore {
  format: "flowgrad-auto-thresholds";
  version: 1;
  machines: SavedCalibration[];
}

const FS = "node:fs",
  OS = "node:os",
  PATH = "node:path"; // variables, so bundlers leave them alone

interface NodeProcess {
  versions?: { node?: string };
  env: Record<string, string | undefined>;
}
const nodeProcess = (): NodeProcess | null => {
  const p = (globalThis as { process?: NodeProcess }).process;
  return p?.versions?.node ? p : null;
};

/**
 * The calibration file: FLOWGRAD_CALIBRATION if set ("off" for none), else
 * $XDG_CACHE_HOME/flowgrad/calibration.json, else ~/.cache/flowgrad/calibration.json. Null outside Node.
 */
export async function calibrationFile(): Promise<string | null> {
  const p = nodeProcess();
  if (!p) return null;
  const set = p.env.FLOWGRAD_CALIBRATION;
  if (set !== undefined && set !== "") return /^(off|none)$/i.test(set) ? null : set;
  const path = (await import(/* @vite-ignore */ PATH)) as typeof import("node:path");
  const os = (await import(/* @vite-ignore */ OS)) as typeof import("node:os");
  return path.join(p.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "flowgrad", "calibration.json");
}

/** This machine, for gpu.js in `info`'s mode. */
export async function machineKey(info: Pick<GpuInfo, "gpuMode" | "adapter">): Promise<MachineKey> {
  const os = (await import(/* @vite-ignore */ OS)) as typeof import("node:os");
  const cpus = os.cpus();
  return {
    gpuMode: info.gpuMode,
    adapter: info.adapter ?? null,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
  };
}

const sameMachine = (a: MachineKey, b: MachineKey): boolean =>
  a.gpuMode === b.gpuMode && a.adapter === b.adapter && a.cpu === b.cpu && a.cores === b.cores;

/** The store in `text` (the file's contents), checked; an error names the file and what is wrong. */
export function parseCalibrationStore(text: string, file: string): CalibrationStore {
  const bad = (why: string): Error =>
    new Error(`calibration file ${file}: ${why}; run "flowgrad calibrate --save" again, or delete the file`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw bad(`not JSON (${(error as Error).message})`);
  }
  const store = value as Partial<CalibrationStore> | null;
  if (store?.format !== "flowgrad-auto-thresholds" || store.version !== 1 || !Array.isArray(store.machines))
    throw bad('expected {"format": "flowgrad-auto-thresholds", "version": 1, "machines": [...]}');
  store.machines.forEach((m, i) => {
    const ok =
      m &&
      typeof m.gpuMode === "string" &&
      (m.adapter === null || typeof m.adapter === "string") &&
      typeof m.cpu === "string" &&
      Number.isInteger(m.cores) &&
      typeof m.measured === "string";
    if (!ok) throw bad(`machines[${i}] needs gpuMode, adapter, cpu, cores and measured`);
    try {
      parseAutoThreshold(`${m.elements},${m.multiplyAdds}`);
    } catch {
      throw bad(
        `machines[${i}] has thresholds "${String(m.elements)}", "${String(m.multiplyAdds)}"; expected counts or "inf"`,
      );
    }
  });
  return store as CalibrationStore;
}

/** The store with `entry` in place of any earlier one for the same machine and mode. */
export function withCalibration(store: CalibrationStore | null, entry: SavedCalibration): CalibrationStore {
  const others = (store?.machines ?? []).filter((m) => !sameMachine(m, entry));
  return { format: "flowgrad-auto-thresholds", version: 1, machines: [...others, entry] };
}

/** The store in `file`, or null when there is none. */
export async function readCalibrationStore(file: string): Promise<CalibrationStore | null> {
  const fs = (await import(/* @vite-ignore */ FS)) as typeof import("node:fs");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`calibration file ${file}: cannot be read (${(error as Error).message})`);
  }
  return parseCalibrationStore(text, file);
}

/** The thresholds saved for this machine and mode, with where they came from; null when none were saved. */
export async function savedThresholds(
  info: Pick<GpuInfo, "gpuMode" | "adapter">,
): Promise<{ thresholds: AutoThresholds; source: string } | null> {
  const file = await calibrationFile();
  if (!file) return null;
  const store = await readCalibrationStore(file);
  if (!store) return null;
  const key = await machineKey(info);
  const entry = store.machines.find((m) => sameMachine(m, key));
  if (!entry) return null;
  return {
    thresholds: parseAutoThreshold(`${entry.elements},${entry.multiplyAdds}`),
    source: `measured by flowgrad calibrate on ${entry.measured.slice(0, 10)} (${file})`,
  };
}
