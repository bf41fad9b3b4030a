// A mean with its standard error, and two models compared on the same examples: the numbers every
// table of results quotes as "value ± s.e." and "paired".

/**
 * Mean and its standard error, s/√n with the sample standard deviation s (n − 1 in its
 * denominator); two passes, so a spread small against the mean is not lost to cancellation.
 */
export function meanAndError(values: ArrayLike<number>): { mean: number; standardError: number } {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i]! - mean) ** 2;
  return { mean, standardError: n > 1 ? Math.sqrt(squares / (n - 1) / n) : 0 };
}

/**
 * b − a over the same examples, with the standard error of that mean difference: much smaller
 * than either model's own error when both do well and badly on the same examples.
 */
export function pairedDifference(a: Float64Array, b: Float64Array): { mean: number; standardError: number } {
  if (a.length !== b.length || a.length === 0)
    throw new Error(`pairedDifference: needs two equally long, non-empty lists, got ${a.length} and ${b.length}`);
  return meanAndError(b.map((v, i) => v - a[i]!));
}
