// Diagnostic preload, not part of the library: `node --import ./dist/scripts/perturb-tanh.js …`
// replaces Math.tanh with a wrong one, to measure how much a GPU's imprecise tanh could move MNIST
// training (of the MNIST models only the planar flow calls tanh). FLOWGRAD_TANH_ERROR = ε and
// FLOWGRAD_TANH_MODE = "noise" (tanh(x) + ε·sin(12345.678·x), an error that changes sign with x)
// or "shrink" (tanh(x)·(1 − ε), a bias towards 0); the result is kept within [−1, 1].
const epsilon = Number(process.env.FLOWGRAD_TANH_ERROR ?? "0");
const mode = process.env.FLOWGRAD_TANH_MODE ?? "noise";
if (!(epsilon >= 0) || (mode !== "noise" && mode !== "shrink"))
  throw new Error(
    `perturb-tanh: FLOWGRAD_TANH_ERROR must be a number ≥ 0 and FLOWGRAD_TANH_MODE noise or shrink, got ${epsilon}, ${mode}`,
  );
const exact = Math.tanh;
Math.tanh =
  mode === "noise"
    ? (x: number) => Math.max(-1, Math.min(1, exact(x) + epsilon * Math.sin(12345.678 * x)))
    : (x: number) => exact(x) * (1 - epsilon);
