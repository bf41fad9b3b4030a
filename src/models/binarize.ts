import type { Random } from "../autograd/index.js";

// Stochastic binarisation (Salakhutdinov & Murray, 2008): each pixel is 1 with probability equal
// to its grey intensity. Drawing a fresh binarisation for every minibatch makes a small training
// set look larger to the model, so it overfits less than one fixed binarisation does.

/** A Bernoulli draw of every intensity in [0, 1], written into `out` (a new array by default). */
export function sampleBinary(
  intensities: Float64Array,
  random: Random,
  out = new Float64Array(intensities.length),
): Float64Array {
  if (out.length !== intensities.length)
    throw new Error(`sampleBinary: out holds ${out.length} values, the intensities ${intensities.length}`);
  for (let i = 0; i < intensities.length; i++) {
    const v = intensities[i]!;
    if (!(v >= 0 && v <= 1)) throw new Error(`sampleBinary: intensity ${i} is ${v}, not in [0, 1]`);
    out[i] = random.uniform() < v ? 1 : 0;
  }
  return out;
}
