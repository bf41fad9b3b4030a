import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // forks, not threads: headless-gl hands its context to one worker thread only.
    pool: "forks",
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
