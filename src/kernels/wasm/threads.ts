// Worker threads for the large products (Node's worker_threads): every worker runs the same
// compiled kernels on the same shared memory. A product's rows are cut into one contiguous range
// per thread (a multiple of the kernel's 4-row tile); the calling thread takes the first range and
// then blocks until the workers are done. Each element of C is summed the same way whichever
// thread computes it, so the result does not depend on the thread count.

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
const ROW_TILE = 4;

/** Rows [row0, row1) of an m-row product for thread `index` of `threads`. */
export function rowRange(m: number, threads: number, index: number): [number, number] {
  const chunk = Math.ceil(m / threads / ROW_TILE) * ROW_TILE;
  const row0 = Math.min(m, index * chunk);
  return [row0, Math.min(m, row0 + chunk)];
}

/** Thread `index`'s share of a job: the kernel call itself, the same on the caller and in workers. */
export function runShare(kernels: Pick<GemmExports, "gemmF32" | "gemmF64">, job: GemmJob, index: number): void {
  const [row0, row1] = rowRange(job.m, job.threads, index);
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

// The worker's program, run with eval (so it needs no file of its own, in Node, in a bundle or in
// vitest): the same rowRange and share as above, and a loop that waits for the next generation.
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control, index } = workerData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const rowRange = ${rowRange.toString()};
const ROW_TILE = ${ROW_TILE};
const runShare = ${runShare.toString()};
const names = ${JSON.stringify(["float32", "a", "ais", "aps", "b", "bps", "bjs", "c", "m", "k", "n", "threads", "scratch", "scratchBytes"])};
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
    runShare(kernels, job, index);
  } catch (e) {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
}
`;

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
  unref(): void;
  terminate(): Promise<number>;
}

type WorkerThreads = { Worker: new (source: string, options: object) => WorkerLike };

function workerThreads(): WorkerThreads | null {
  return builtinModule<WorkerThreads>("node:worker_threads") ?? null;
}

/** Whether this runtime can start worker threads for the kernels (Node 20.16+ with a shared memory). */
export function threadsSupported(kernels: WasmKernels): boolean {
  return kernels.shared && workerThreads() !== null;
}

/** Start size − 1 workers and wait until each has compiled its instance; throws if they do not start. */
export function startPool(kernels: WasmKernels, size: number): ThreadPool {
  const wt = workerThreads();
  if (!wt || !kernels.shared)
    throw new Error("worker threads need Node's worker_threads and a shared WebAssembly memory");
  const control = new SharedArrayBuffer((JOB + FIELDS) * 4);
  const ctl = new Int32Array(control);
  const workers: WorkerLike[] = [];
  const waitForDone = (count: number, what: string) => {
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done >= count) return;
      if (Atomics.wait(ctl, DONE, done, STALL_MS) === "timed-out" && Atomics.load(ctl, DONE) === done)
        throw new Error(
          `flowgrad: the kernels' worker threads ${what} (${done} of ${count} answered in ${STALL_MS / 1000} s)`,
        );
    }
  };
  for (let index = 1; index < size; index++) {
    const worker = new wt.Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: kernels.module, memory: kernels.memory, control, index },
    });
    worker.unref(); // a pool must never keep the process alive
    workers.push(worker);
  }
  try {
    waitForDone(size - 1, "did not start");
  } catch (e) {
    for (const w of workers) void w.terminate();
    throw e;
  }
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
      runShare(kernels.exports, job, 0);
      waitForDone(size - 1, "stopped answering");
      if (Atomics.load(ctl, FAILED) !== 0)
        throw new Error("flowgrad: a kernel worker thread failed its share of a product");
    },
    close() {
      if (closed) return;
      closed = true;
      Atomics.store(ctl, STOP, 1);
      Atomics.add(ctl, GENERATION, 1);
      Atomics.notify(ctl, GENERATION);
    },
  };
}
