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
