// Training and evaluation loops written once and run two ways: synchronously (tensor.data,
// optimizer.step()), or with await where values come back only asynchronously (gpu.js webgpu:
// tensor.read(), optimizer.stepAsync()). A loop is a generator that yields what it needs from its
// driver.
import type { Optimizer, Tensor, TypedArray } from "../autograd/index.js";

/**
 * What a loop asks of its driver: a tensor's values, an optimizer's update, tensors' values on the
 * host (parameters updated on a device, before the loop copies or sets them), or an optimizer's
 * state on the host (before a checkpoint saves it).
 */
export type LoopRequest = { read: Tensor } | { update: Optimizer } | { toHost: Tensor[] } | { stateToHost: Optimizer };
/** A loop: yields requests, receives each read's values (nothing after the others), returns its result. */
export type Loop<T> = Generator<LoopRequest, T, TypedArray>;

const NOTHING = new Float64Array(0);

// A loop owns the optimizers it steps: when it ends, their parameters come back to the host (where
// updates ran on a device, they are there) and their state on the device is freed.

/** Run a loop synchronously. */
export function runLoop<T>(loop: Loop<T>): T {
  const stepped = new Set<Optimizer>();
  for (let r = loop.next(); ; ) {
    if (r.done) {
      for (const opt of stepped) {
        for (const p of opt.params) p.toHost();
        opt.dispose();
      }
      return r.value;
    }
    const q = r.value;
    if ("read" in q) r = loop.next(q.read.toHost().data);
    else if ("toHost" in q) {
      for (const t of q.toHost) t.toHost();
      r = loop.next(NOTHING);
    } else if ("stateToHost" in q)
      r = loop.next(NOTHING); // saveState() reads synchronously here
    else {
      q.update.step();
      stepped.add(q.update);
      r = loop.next(NOTHING);
    }
  }
}

/** How often runLoopAsync lets timers and signals (Ctrl-C) run, in milliseconds. */
const YIELD_EVERY_MS = 50;

/**
 * Run a loop, awaiting every read and update: for backends that read only asynchronously, and for
 * long runs that must stay interruptible: about every 50 ms it yields to the event loop, so that
 * timers, a page's rendering and signal handlers run (awaiting a read alone does not).
 */
export async function runLoopAsync<T>(loop: Loop<T>): Promise<T> {
  const stepped = new Set<Optimizer>();
  let lastYield = performance.now();
  for (let r = loop.next(); ; ) {
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      lastYield = performance.now();
    }
    if (r.done) {
      for (const opt of stepped) {
        await Promise.all(opt.params.map((p) => p.read()));
        opt.dispose();
      }
      return r.value;
    }
    const q = r.value;
    if ("read" in q) r = loop.next(await q.read.read());
    else if ("toHost" in q) {
      await Promise.all(q.toHost.map((t) => t.read()));
      r = loop.next(NOTHING);
    } else if ("stateToHost" in q) {
      await q.stateToHost.stateToHost();
      r = loop.next(NOTHING);
    } else {
      await q.update.stepAsync();
      stepped.add(q.update);
      r = loop.next(NOTHING);
    }
  }
}
