// A training loop written once and run two ways: synchronously (tensor.item(), optimizer.step()),
// or with await where values come back only asynchronously (gpu.js webgpu: tensor.read(),
// optimizer.stepAsync()). The loop is a generator that yields what it needs from its driver.
import type { Optimizer, Tensor } from "../autograd/index.js";

/** What a loop asks of its driver: the value of a one-element tensor, or an optimizer's update. */
export type LoopRequest = { read: Tensor } | { update: Optimizer };
/** A loop: yields requests, receives each read's value (0 after an update), returns its result. */
export type Loop<T> = Generator<LoopRequest, T, number>;

/** Run a loop synchronously. */
export function runLoop<T>(loop: Loop<T>): T {
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value;
    const q = r.value;
    if ("read" in q) r = loop.next(q.read.item());
    else {
      q.update.step();
      r = loop.next(0);
    }
  }
}

/** Run a loop, awaiting every read and update: for backends that read only asynchronously. */
export async function runLoopAsync<T>(loop: Loop<T>): Promise<T> {
  for (let r = loop.next(); ; ) {
    if (r.done) return r.value;
    const q = r.value;
    if ("read" in q) r = loop.next((await q.read.read())[0]!);
    else {
      await q.update.stepAsync();
      r = loop.next(0);
    }
  }
}
