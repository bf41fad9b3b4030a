import { cpuBackend } from "./cpu/index.js";
import type { Backend } from "./types.js";

/**
 * Which backend runs the kernels. The CPU backend is always registered; others (the gpu.js
 * backend) register themselves when loaded. FLOWGRAD_BACKEND picks one by name at start-up.
 */
const backends = new Map<string, Backend>([["cpu", cpuBackend]]);
let active: Backend | null = null;

export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

export function availableBackends(): string[] {
  return [...backends.keys()];
}

/** Make a registered backend (by name) or a backend object the one every op runs on. */
export function setBackend(backend: string | Backend): Backend {
  if (typeof backend !== "string") {
    registerBackend(backend);
    active = backend;
    return backend;
  }
  const found = backends.get(backend);
  if (!found) {
    throw new Error(`setBackend: unknown backend "${backend}"; registered backends: ${availableBackends().join(", ")}`);
  }
  active = found;
  return found;
}

/** The backend ops run on now; on first use, the one FLOWGRAD_BACKEND names, else the CPU. */
export function getBackend(): Backend {
  if (active) return active;
  const requested = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.FLOWGRAD_BACKEND;
  return setBackend(requested && requested !== "auto" ? requested : "cpu");
}
