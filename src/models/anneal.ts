// The paper's annealed free energy (section 6): β rises from 0.01 to 1 over the first updates.
// Shared by the 2-D fits (fit2d.ts) and the DLGM's training (vae-train.ts).

/** The paper's annealing schedule: β_t = min(1, 0.01 + t/annealSteps) (annealSteps = 10,000 there). */
export function annealedBeta(step: number, annealSteps: number): number {
  return Math.min(1, 0.01 + step / annealSteps);
}

/**
 * The first epoch (1-based) that ends at β = 1: the one holding the first update (0-based step t)
 * at which annealedBeta reaches 1. 0 without annealing.
 */
export function annealedEpoch(annealSteps: number, updatesPerEpoch: number): number {
  if (!(annealSteps > 0)) return 0;
  let t = Math.max(0, Math.floor(0.99 * annealSteps) - 1); // just below where 0.01 + t/T reaches 1; rounding decides the rest
  while (annealedBeta(t, annealSteps) < 1) t++;
  return Math.ceil((t + 1) / updatesPerEpoch);
}
