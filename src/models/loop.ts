// A training loop written once and run two ways: synchronously (tensor.item(), optimizer.step()),
// or with await where values come back only asynchronously (gpu.js webgpu: tensor.read(),
// optimizer.stepAsync()). The loop is a generator that yields what it needs from its driver.
import type { Optimizer, Tensor } from "../autograd/index.js";

/**
 * What a loop asks of its driver: the value of a one-element tensor, an optimizer's update, or
 * tensors' values on the host (parameters updated on a device, before the loop copies or sets them).
 */
export type LoopRequest = { read: Tensor } | { update: Optimizer } | { toHost: Tensor[] };
/** A loop: yields requests, receives each read's value (0 after an update), returns its result. */
export type Loop<T> = Generator<LoopRequest, T, number>;

// A loop owns the optimizers it steps: when it ends, their parameters come back to the host (where
// updates ran on a device, they are there) and their state on the device is freed.

/** Run a loop synchronously. */
export function runLoop<T>(loop: Loop<T>): T {
  const stepped = new Set<Optimizer>();
  for (let r = loop.next(); ; ) {
    if (r.done) {
      for (const opt of stepped) {
        for (const p of opt.params) void p.data;
        opt.dispose();
      }
      return r.value;
    }
    const q = r.value;
    if ("read" in q) r = loop.next(q.read.item());
    else if ("toHost" in q) {
      for (const t of q.toHost) void t.data;
      r = loop.next(0);
    } else {
      q.update.step();
      stepped.add(q.update);
      r = loop.next(0);
    }
  }
}

/** Run a loop, awaiting every read and update: for backends that read only asynchronously. */
export async function runLoopAsync<T>(loop: Loop<T>): Promise<T> {
  const stepped = new Set<Optimizer>();
  for (let r = loop.next(); ; ) {
    if (r.done) {
      for (const opt of stepped) {
        await Promise.all(opt.params.map((p) => p.read()));
        opt.dispose();
      }
      return r.value;
    }
    const q = r.value;
    if ("read" in q) r = loop.next((await q.read.read())[0]!);
    else if ("toHost" in q) {
      await Promise.all(q.toHost.map((t) => t.read()));
      r = loop.next(0);
    } else {
      await q.update.stepAsync();
      stepped.add(q.update);
      r = loop.next(0);
    }
  }
}
