import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // forks, not threads: headless-gl hands its context to one worker thread only.
    pool: "forks",
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // The default output, then each skipped test's reason and what was not covered here.
    reporters: ["default", "./test/skip-reasons-reporter.ts"],
    // "auto" must not pick up thresholds a developer saved with `flowgrad calibrate --save`; tests that want a file name one.
    env: { FLOWGRAD_CALIBRATION: "off" },
  },
});
