// The CPU backend's matmul, and the settings of all its WebAssembly kernels: the kernels where they
// win, the TypeScript loops of ../cpu/matmul.ts (the readable reference) elsewhere. Operands are
// copied into the kernels' memory and the product copied out: O(m·k + k·n + m·n) against O(m·k·n).

import { matmul as typescriptMatmul } from "../cpu/matmul.js";
import { builtinModule, env } from "../runtime.js";
import type { TypedArray } from "../types.js";
import {
  ensureBytes,
  RESERVED_BYTES,
  unavailableReason,
  unsharedKernels,
  type WasmKernels,
  wasmKernels,
} from "./load.js";
import { UPDATE_FROM, updateCalls } from "./optim.js";
import {
  type GemmJob,
  poolStartsAsync,
  rowRange,
  runShare,
  startPool,
  startPoolAsync,
  type ThreadPool,
  threadsSupported,
} from "./threads.js";

/**
 * Where the kernels take over, in multiply-adds per product (m·k·n), from `npm run bench:matmul`
 * (results/matmul-bench.json, its `crossovers`) on the 2-core development machine: below WASM_FROM
 * (8³) the call and the copies in and out cost more than the loops they replace; threads repay
 * waking the workers from THREADS_FROM (128³). test/wasm-matmul.test.ts holds them to that file.
 */
export const WASM_FROM = 512;
export const THREADS_FROM = 128 ** 3;
/** At most this many threads by default: past it the products here are too small to share. */
const DEFAULT_MAX_THREADS = 8;

interface Settings {
  /** "wasm": the kernels where they win; "plain": the TypeScript loops always. */
  kernels: "wasm" | "plain";
  /** Threads for large products, the caller included; 1 runs no workers. */
  threads: number;
}

function defaultThreads(): number {
  const os = builtinModule<{ availableParallelism?: () => number }>("node:os");
  const cores =
    os?.availableParallelism?.() ??
    (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Math.max(1, Math.min(DEFAULT_MAX_THREADS, cores ?? 1));
}

function settingsFromEnv(): Settings {
  const kernels = env("FLOWGRAD_CPU_KERNELS") ?? "wasm";
  if (kernels !== "wasm" && kernels !== "plain")
    throw new Error(`FLOWGRAD_CPU_KERNELS="${kernels}": choose wasm (the default) or plain (the TypeScript loops)`);
  const threadsText = env("FLOWGRAD_THREADS");
  return {
    kernels,
    threads: threadsText === undefined ? defaultThreads() : parseThreads(threadsText, "FLOWGRAD_THREADS"),
  };
}

function parseThreads(value: string | number, where: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new Error(`${where}=${String(value)}: the thread count must be a whole number from 1 to 256`);
  return n;
}

let settings: Settings | null = null;
let pool: ThreadPool | null = null;
/** A browser's pool while its workers start (they start only while the page's thread is free). */
let starting: Promise<ThreadPool | null> | null = null;
let threadNotice: string | null = null;
const noticesShown = new Set<string>();
const calls = { wasm: 0, threaded: 0, typescript: 0 };

function current(): Settings {
  settings ??= settingsFromEnv();
  return settings;
}

/**
 * Choose the CPU backend's product kernels: `kernels: "plain"` forces the TypeScript loops (as
 * FLOWGRAD_CPU_KERNELS=plain does), `threads` sets how many threads large products use (as
 * FLOWGRAD_THREADS does; default: the machine's cores, at most 8).
 */
export function setCpuKernels(options: { kernels?: "wasm" | "plain"; threads?: number }): void {
  const next = { ...current() };
  if (options.kernels !== undefined) {
    if (options.kernels !== "wasm" && options.kernels !== "plain")
      throw new Error(`setCpuKernels: kernels must be "wasm" or "plain", got ${String(options.kernels)}`);
    next.kernels = options.kernels;
  }
  if (options.threads !== undefined) next.threads = parseThreads(options.threads, "setCpuKernels threads");
  if (pool && pool.size !== next.threads) {
    pool.close();
    pool = null;
  }
  settings = next;
}

/**
 * Start the worker threads now rather than at the first large product, and resolve with what the
 * products will run on. In a browser this is how threads start at all: workers come up only while
 * the page's thread is free, so the first large products run on one thread until this resolves
 * (a large product starts it too). The page must be cross-origin isolated (COOP/COEP headers).
 */
export async function startCpuThreads(): Promise<CpuKernelInfo> {
  const s = current();
  const kernels = s.kernels === "wasm" ? wasmKernels() : null;
  if (kernels && s.threads > 1 && threadsSupported(kernels) && !pool && !threadNotice) {
    if (!poolStartsAsync()) getPool(kernels, s.threads);
    else {
      starting ??= startPoolAsync(kernels, s.threads).then(
        (started) => {
          if (current().threads === started.size) pool = started;
          else started.close();
          return pool;
        },
        (e: Error) => {
          threadNotice = `${e.message}; products run on one thread`;
          notice(threadNotice);
          return null;
        },
      );
      await starting;
      starting = null;
    }
  }
  return cpuKernelInfo();
}

/** What the CPU backend's products run on, and how many went each way so far. */
export interface CpuKernelInfo {
  /** "wasm-simd" when the WebAssembly kernels are on and loaded; else "typescript". */
  matmul: "wasm-simd" | "typescript";
  /** Why the TypeScript loops run (forced, or the runtime cannot run the kernels); null when they do not. */
  reason: string | null;
  /** Threads a large product uses (1 when workers cannot run here). */
  threads: number;
  /** Products each path ran: WebAssembly on one thread, WebAssembly on several, TypeScript loops. */
  calls: { wasm: number; threaded: number; typescript: number };
  /** Products from this many multiply-adds go to WebAssembly, and from THREADS_FROM to threads. */
  wasmFrom: number;
  threadsFrom: number;
  /** Adam and RMSprop updates of tensors from `updateFrom` values: on the kernels when `matmul` is "wasm-simd". */
  updateFrom: number;
  /** Optimizer updates each path ran (SGD and small tensors always take the TypeScript loop). */
  updateCalls: { wasm: number; typescript: number };
}

export function cpuKernelInfo(): CpuKernelInfo {
  const s = current();
  const kernels = s.kernels === "wasm" ? wasmKernels() : null;
  const reason =
    s.kernels === "plain"
      ? "forced (FLOWGRAD_CPU_KERNELS=plain or setCpuKernels)"
      : kernels
        ? null
        : (unavailableReason() ?? "the WebAssembly kernels are still compiling");
  return {
    matmul: kernels ? "wasm-simd" : "typescript",
    reason,
    threads: kernels ? usableThreads(kernels, s) : 1,
    calls: { ...calls },
    wasmFrom: WASM_FROM,
    threadsFrom: THREADS_FROM,
    updateFrom: UPDATE_FROM,
    updateCalls: { ...updateCalls },
  };
}

function usableThreads(kernels: WasmKernels, s: Settings): number {
  if (s.threads <= 1) return 1;
  if (!threadsSupported(kernels)) {
    threadNotice ??=
      "worker threads cannot run here (no worker_threads or Web Workers, or no shared memory: a page must be cross-origin isolated): products run on one thread";
    return 1;
  }
  if (threadNotice && !pool) return 1;
  if (poolStartsAsync() && !pool) {
    if (!starting) void startCpuThreads();
    return 1; // until the page's workers are up
  }
  return s.threads;
}

/** Say `text` once per process (each different notice once). */
function notice(text: string): void {
  if (noticesShown.has(text)) return;
  noticesShown.add(text);
  console.warn(`flowgrad: ${text}`);
}

function getPool(kernels: WasmKernels, threads: number): ThreadPool | null {
  if (pool) return pool;
  try {
    pool = startPool(kernels, threads);
  } catch (e) {
    threadNotice = `${(e as Error).message}; products run on one thread`;
    notice(threadNotice);
  }
  return pool;
}

/**
 * The kernels for work on one thread (their unshared instance) if the settings allow them and they
 * are loaded, else null (and a one-line notice when the runtime cannot run them): for matmul below and ./optim.ts.
 */
export function enabledKernels(): WasmKernels | null {
  if (current().kernels !== "wasm") return null;
  const kernels = unsharedKernels();
  if (!kernels && unavailableReason()) notice(`${unavailableReason()}; the CPU backend runs its TypeScript loops`);
  return kernels;
}

const align = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** Batched matmul with the HostKernels signature; see Backend.matmul. */
export function matmul(
  a: TypedArray,
  aOffsets: Int32Array,
  b: TypedArray,
  bOffsets: Int32Array,
  out: TypedArray,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  // One thread copies through the unshared instance's memory (faster copies, see load.ts); threads need the shared one.
  const oneThread = m * k * n >= WASM_FROM ? enabledKernels() : null;
  const shared = oneThread && m * k * n >= THREADS_FROM ? wasmKernels() : null;
  const threads = shared ? usableThreads(shared, current()) : 1;
  if (
    !oneThread ||
    a.constructor !== out.constructor ||
    b.constructor !== out.constructor ||
    !matmulWasm(threads > 1 ? shared! : oneThread, threads, a, aOffsets, b, bOffsets, out, m, k, n, transA, transB)
  ) {
    calls.typescript++;
    typescriptMatmul(a, aOffsets, b, bOffsets, out, m, k, n, transA, transB);
  }
}

/**
 * The product on the kernels, on `threads` threads (the caller included), whatever its size; false
 * if the operands do not fit the kernels' memory. matmul above decides when; benchmarks call this.
 */
export function matmulWasm(
  kernels: WasmKernels,
  threads: number,
  a: TypedArray,
  aOffsets: Int32Array,
  b: TypedArray,
  bOffsets: Int32Array,
  out: TypedArray,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): boolean {
  const scratchBytes = kernels.exports.scratchBytes();
  const size = out.BYTES_PER_ELEMENT;
  const aPtr = RESERVED_BYTES + align(scratchBytes * Math.max(threads, current().threads));
  const bPtr = aPtr + align(a.length * size);
  const cPtr = bPtr + align(b.length * size);
  const buffer = ensureBytes(kernels, cPtr + out.length * size);
  if (!buffer) return false; // more than the kernels' memory may hold: the loops have no such limit
  const View = out.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedArray;
  new View(buffer, aPtr, a.length).set(a);
  new View(buffer, bPtr, b.length).set(b);
  const team = threads > 1 ? getPool(kernels, threads) : null;
  for (let t = 0; t < aOffsets.length; t++) {
    const job: GemmJob = {
      float32: size === 4,
      a: aPtr + aOffsets[t]! * size,
      ais: transA ? 1 : k,
      aps: transA ? m : 1,
      b: bPtr + bOffsets[t]! * size,
      bps: transB ? 1 : n,
      bjs: transB ? k : 1,
      c: cPtr + t * m * n * size,
      m,
      k,
      n,
      threads: team ? threads : 1,
      scratch: RESERVED_BYTES,
      scratchBytes,
    };
    // One thread: the caller's share is the whole product.
    if (team) team.run(job);
    else runShare(kernels.exports, job, 0, rowRange);
  }
  out.set(new View(buffer, cPtr, out.length));
  if (team) calls.threaded++;
  else calls.wasm++;
  return true;
}
