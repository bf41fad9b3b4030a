import { defineConfig } from "vitest/config";

// The math-level suites run twice: on the CPU backend as it ships (WebAssembly SIMD products), and
// with the TypeScript loops forced (FLOWGRAD_CPU_KERNELS=plain), so both paths answer every test.
const MATH = [
  "test/autograd-*.test.ts",
  "test/properties.test.ts",
  "test/reference.test.ts",
  "test/flows.test.ts",
  "test/planar-chain.test.ts",
  "test/nice.test.ts",
  "test/vae.test.ts",
  "test/cnf.test.ts",
  "test/hamiltonian.test.ts",
  "test/langevin.test.ts",
  "test/resident.test.ts",
];

export default defineConfig({
  test: {
    // forks, not threads: headless-gl hands its context to one worker thread only.
    pool: "forks",
    testTimeout: 30_000,
    // The default output, then each skipped test's reason and what was not covered here.
    reporters: ["default", "./test/skip-reasons-reporter.ts"],
    // "auto" must not pick up thresholds a developer saved with `flowgrad calibrate --save`; tests that want a file name one.
    env: { FLOWGRAD_CALIBRATION: "off" },
    projects: [
      { extends: true, test: { name: "default", include: ["test/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "plain-kernels",
          include: MATH,
          env: { FLOWGRAD_CALIBRATION: "off", FLOWGRAD_CPU_KERNELS: "plain" },
        },
      },
    ],
  },
});
