/**
 * A seedable generator that gives the same numbers for the same seed on every run and platform:
 * xoshiro128** on 32-bit integer arithmetic (Math.imul, >>>), seeded through splitmix32.
 */
export class Random {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  constructor(seed = 0) {
    this.seed(seed);
  }

  seed(seed: number): void {
    if (!Number.isFinite(seed)) throw new Error(`Random: seed must be a finite number, got ${seed}`);
    let x = (Math.floor(seed) ^ Math.floor(seed / 0x100000000)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    this.spare = null;
  }

  /** The generator's whole state (for a checkpoint): its four words and the kept normal, if any. */
  getState(): number[] {
    const words = [this.s0, this.s1, this.s2, this.s3].map((w) => w >>> 0);
    return [...words, ...(this.spare === null ? [] : [this.spare])];
  }

  /** Continue from a state getState() returned: the same numbers follow. */
  setState(state: readonly number[]): void {
    const ok =
      Array.isArray(state) &&
      (state.length === 4 || state.length === 5) &&
      state.slice(0, 4).every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32) &&
      (state.length === 4 || Number.isFinite(state[4]));
    if (!ok)
      throw new Error(
        `Random.setState: expected 4 unsigned 32-bit words and an optional number, got ${JSON.stringify(state)}`,
      );
    [this.s0, this.s1, this.s2, this.s3] = state as [number, number, number, number];
    this.spare = state.length === 5 ? state[4]! : null;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5,
      lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal by Box–Muller; the second value of each pair is kept for the next call. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = 1 - this.uniform(); // in (0, 1]: log(u1) is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The generator used when none is passed. */
export const defaultRandom = new Random(0);

/** Reseed the default generator. */
export function manualSeed(seed: number): void {
  defaultRandom.seed(seed);
}
