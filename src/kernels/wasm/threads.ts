// Worker threads for the large products (Node's worker_threads; in a browser, Web Workers when the
// page is cross-origin isolated): every worker runs the same compiled kernels on the same shared
// memory. A product's rows are cut into one contiguous range per thread (a multiple of the
// kernel's 4-row tile); the calling thread takes the first range and then waits until the workers
// are done (a page's main thread may not block in Atomics.wait: it spins on the count instead).
// Each element of C is summed the same way whichever thread computes it, so the result does not
// depend on the thread count.

import { builtinModule } from "../runtime.js";
import type { GemmExports, WasmKernels } from "./load.js";

// The control block (an Int32Array over a SharedArrayBuffer): a job generation the workers wait
// on, a count of finished workers, stop and error flags, then the job itself.
const GENERATION = 0,
  DONE = 1,
  STOP = 2,
  FAILED = 3,
  JOB = 4;
/** The job's fields, in order: what assembly/matmul.ts's gemm takes, plus who does which rows. */
export interface GemmJob {
  float32: boolean;
  a: number;
  ais: number;
  aps: number;
  b: number;
  bps: number;
  bjs: number;
  c: number;
  m: number;
  k: number;
  n: number;
  threads: number;
  scratch: number;
  scratchBytes: number;
}
const FIELDS = 14;

/**
 * Rows [row0, row1) of an m-row product for thread `index` of `threads`, in whole 4-row tiles.
 * Self-contained (no name from outside it): its source is the workers' too, after a bundler's renaming.
 */
export function rowRange(m: number, threads: number, index: number): [number, number] {
  const chunk = Math.ceil(m / threads / 4) * 4;
  const row0 = Math.min(m, index * chunk);
  return [row0, Math.min(m, row0 + chunk)];
}

/** Thread `index`'s share of a job: the kernel call itself, the same on the caller and in workers (self-contained too). */
export function runShare(
  kernels: Pick<GemmExports, "gemmF32" | "gemmF64">,
  job: GemmJob,
  index: number,
  range: typeof rowRange,
): void {
  const [row0, row1] = range(job.m, job.threads, index);
  if (row0 >= row1) return;
  const gemm = job.float32 ? kernels.gemmF32 : kernels.gemmF64;
  gemm(
    job.a,
    job.ais,
    job.aps,
    job.b,
    job.bps,
    job.bjs,
    job.c,
    job.k,
    job.n,
    row0,
    row1,
    job.scratch + index * job.scratchBytes,
  );
}

// The worker's program: the same rowRange and share as above, and a loop that waits for the next
// generation. Node runs it with eval (so it needs no file of its own, in Node, in a bundle or in
// vitest) and hands it its data at start; a browser runs it from a Blob URL and posts the data.
const WORKER_LOOP = `
const rowRange = ${rowRange.toString()};
const runShare = ${runShare.toString()};
const names = ${JSON.stringify(["float32", "a", "ais", "aps", "b", "bps", "bjs", "c", "m", "k", "n", "threads", "scratch", "scratchBytes"])};
function serve({ module, memory, control, index }) {
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctl = new Int32Array(control);
  let generation = 0;
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
  for (;;) {
    Atomics.wait(ctl, ${GENERATION}, generation);
    generation = Atomics.load(ctl, ${GENERATION});
    if (Atomics.load(ctl, ${STOP}) !== 0) break;
    try {
      const job = {};
      names.forEach((name, i) => (job[name] = ctl[${JOB} + i]));
      runShare(kernels, job, index, rowRange);
    } catch (e) {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    Atomics.add(ctl, ${DONE}, 1);
    Atomics.notify(ctl, ${DONE});
  }
}
`;
const NODE_WORKER = `${WORKER_LOOP}\nserve(require("node:worker_threads").workerData);`;
const BROWSER_WORKER = `${WORKER_LOOP}\nonmessage = (e) => { onmessage = null; serve(e.data); };`;

/** How long the caller waits for workers that make no progress before it gives up on threads. */
const STALL_MS = 30_000;

export interface ThreadPool {
  /** Threads in all, the caller included. */
  readonly size: number;
  /** Run a job on `job.threads` threads (≤ size); returns when every share is done. */
  run(job: GemmJob): void;
  close(): void;
}

interface WorkerLike {
  terminate(): unknown;
}

type WorkerThreads = {
  Worker: new (source: string, options: object) => WorkerLike & { unref(): void };
};

function workerThreads(): WorkerThreads | null {
  return builtinModule<WorkerThreads>("node:worker_threads") ?? null;
}

/** A browser's Worker constructor (absent in Node, where worker_threads serves). */
function webWorker(): (new (url: string) => WorkerLike & { postMessage(data: unknown): void }) | null {
  const g = globalThis as { Worker?: unknown; URL?: { createObjectURL?: unknown }; Blob?: unknown };
  return workerThreads() === null && typeof g.Worker === "function" && typeof g.Blob === "function"
    ? (g.Worker as never)
    : null;
}

/** Whether this runtime can start worker threads for the kernels: a shared memory, and Node's or a page's workers. */
export function threadsSupported(kernels: WasmKernels): boolean {
  return kernels.shared && (workerThreads() !== null || webWorker() !== null);
}

/** Whether workers start only once this thread returns to its event loop (a browser's): then start them with startPoolAsync. */
export function poolStartsAsync(): boolean {
  return workerThreads() === null && webWorker() !== null;
}

/** Atomics.wait is refused on a page's main thread (it has a document); Node and workers may block. */
function mayBlock(): boolean {
  return typeof (globalThis as { document?: unknown }).document === "undefined";
}

/** Start size − 1 workers and wait until each has compiled its instance; throws if they do not start. */
export function startPool(kernels: WasmKernels, size: number): ThreadPool {
  const wt = workerThreads();
  if (!wt || !kernels.shared)
    throw new Error("worker threads need Node's worker_threads and a shared WebAssembly memory");
  const control = new SharedArrayBuffer((JOB + FIELDS) * 4);
  const workers: Array<WorkerLike & { unref(): void }> = [];
  for (let index = 1; index < size; index++) {
    const worker = new wt.Worker(NODE_WORKER, {
      eval: true,
      workerData: { module: kernels.module, memory: kernels.memory, control, index },
    });
    worker.unref(); // a pool must never keep the process alive
    workers.push(worker);
  }
  const ctl = new Int32Array(control);
  try {
    waitForDone(ctl, size - 1, "did not start");
  } catch (e) {
    for (const w of workers) void w.terminate();
    throw e;
  }
  return pool(kernels, size, ctl, workers);
}

/**
 * In a browser: start size − 1 Web Workers (the page must be cross-origin isolated, for the shared
 * memory) and resolve once each has compiled its instance. Workers start only while the page's
 * thread is free, so this cannot be done in the middle of a product, as startPool does in Node.
 */
export async function startPoolAsync(kernels: WasmKernels, size: number): Promise<ThreadPool> {
  const Worker = webWorker();
  if (!Worker || !kernels.shared)
    throw new Error("Web Workers for the kernels need a cross-origin isolated page (a shared WebAssembly memory)");
  const control = new SharedArrayBuffer((JOB + FIELDS) * 4);
  const ctl = new Int32Array(control);
  const url = URL.createObjectURL(new Blob([BROWSER_WORKER], { type: "text/javascript" }));
  const workers: WorkerLike[] = [];
  try {
    for (let index = 1; index < size; index++) {
      const worker = new Worker(url);
      worker.postMessage({ module: kernels.module, memory: kernels.memory, control, index });
      workers.push(worker);
    }
    const started = performance.now();
    while (Atomics.load(ctl, DONE) < size - 1) {
      if (performance.now() - started > STALL_MS) {
        throw new Error(
          `flowgrad: the kernels' Web Workers did not start (${Atomics.load(ctl, DONE)} of ${size - 1} answered in ${STALL_MS / 1000} s)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  } finally {
    URL.revokeObjectURL(url);
  }
  return pool(kernels, size, ctl, workers);
}

/** Wait until `count` workers have reported (blocking where allowed, spinning on a page's main thread). */
function waitForDone(ctl: Int32Array, count: number, what: string): void {
  const block = mayBlock(),
    started = performance.now();
  for (;;) {
    const done = Atomics.load(ctl, DONE);
    if (done >= count) return;
    const stalled = block
      ? Atomics.wait(ctl, DONE, done, STALL_MS) === "timed-out" && Atomics.load(ctl, DONE) === done
      : performance.now() - started > STALL_MS;
    if (stalled)
      throw new Error(
        `flowgrad: the kernels' worker threads ${what} (${done} of ${count} answered in ${STALL_MS / 1000} s)`,
      );
  }
}

/** The running pool: posts jobs through the control block, takes share 0 itself. */
function pool(kernels: WasmKernels, size: number, ctl: Int32Array, workers: WorkerLike[]): ThreadPool {
  let closed = false;
  return {
    size,
    run(job) {
      if (closed) throw new Error("flowgrad: the kernels' thread pool was closed");
      const fields = [
        job.float32 ? 1 : 0,
        job.a,
        job.ais,
        job.aps,
        job.b,
        job.bps,
        job.bjs,
        job.c,
        job.m,
        job.k,
        job.n,
      ];
      ctl.set([...fields, job.threads, job.scratch, job.scratchBytes], JOB);
      Atomics.store(ctl, DONE, 0);
      Atomics.store(ctl, FAILED, 0);
      Atomics.add(ctl, GENERATION, 1);
      Atomics.notify(ctl, GENERATION);
      runShare(kernels.exports, job, 0, rowRange);
      waitForDone(ctl, size - 1, "stopped answering");
      if (Atomics.load(ctl, FAILED) !== 0)
        throw new Error("flowgrad: a kernel worker thread failed its share of a product");
    },
    close() {
      if (closed) return;
      closed = true;
      Atomics.store(ctl, STOP, 1);
      Atomics.add(ctl, GENERATION, 1);
      Atomics.notify(ctl, GENERATION);
      if (poolStartsAsync()) for (const w of workers) w.terminate();
    },
  };
}
