import { afterEach, describe, expect, it, vi } from "vitest";
import { LINE_EVERY_MS, progress } from "../src/cli/progress.js";

// Without a terminal the progress of a long run is printed as lines: at each tenth, and at least
// once a minute, so a run whose total is only an upper bound (early stopping) is never silent.
describe("progress lines without a terminal", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
  it("writes a line at each tenth and after a minute without one", () => {
    vi.useFakeTimers();
    const isTTY = process.stderr.isTTY;
    process.stderr.isTTY = false;
    const lines: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const bar = progress("train", 1000);
      bar.update(50, "epoch 1"); // 5%: no line yet
      expect(lines).toEqual([]);
      bar.update(100, "epoch 2"); // the first tenth
      expect(lines).toHaveLength(1);
      vi.advanceTimersByTime(LINE_EVERY_MS);
      bar.update(110, "epoch 3"); // a minute later, far from the next tenth
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^train: 11% \(60 s, ETA \d+ s\) epoch 3\n$/);
      bar.update(120, "epoch 4"); // right after: quiet again
      expect(lines).toHaveLength(2);
    } finally {
      process.stderr.isTTY = isTTY;
    }
  });
});

describe("the vae progress note", () => {
  it("counts down the epochs early stopping has left, from the best epoch", async () => {
    const { earlyStoppingInfo } = await import("../src/cli/vae.js");
    // Best at epoch 40, patience 10: after epoch 43 three epochs have passed without a better bound.
    expect(earlyStoppingInfo(43, 95.123, { loss: 94.5, epoch: 40, countsFrom: 40 }, 10)).toBe(
      "validation −ELBO 95.12 after epoch 43 (best 94.50, epoch 40; stops after 7 more without a better one)",
    );
    // A new best resets the count to the full patience.
    expect(earlyStoppingInfo(44, 94.2, { loss: 94.2, epoch: 44, countsFrom: 44 }, 10)).toMatch(
      /best 94\.20, epoch 44; stops after 10 more/,
    );
    // While β is annealed (until epoch 124) the count waits at the full patience, and then starts there.
    expect(earlyStoppingInfo(7, 455.97, { loss: 417.14, epoch: 2, countsFrom: 124 }, 10)).toBe(
      "validation −ELBO 455.97 after epoch 7 (best 417.14, epoch 2; annealing until epoch 124, then stops after 10 more without a better one)",
    );
    expect(earlyStoppingInfo(127, 99, { loss: 98, epoch: 100, countsFrom: 124 }, 10)).toMatch(
      /epoch 100; stops after 7 more/,
    );
  });
});
