// Density pictures as plain RGBA pixels, so they can be drawn in a page or written as PNG by
// the Node-only writer (src/node/png.ts). No file or DOM access here.

/** Colour anchors of the viridis map, from low density (dark purple) to high (yellow). */
const VIRIDIS: ReadonlyArray<readonly [number, number, number]> = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

/** The colour of t ∈ [0, 1] on the viridis map (linear between anchors). */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x)),
    f = x - i;
  const a = VIRIDIS[i]!,
    b = VIRIDIS[i + 1]!;
  return [
    Math.round(a[0] + f * (b[0] - a[0])),
    Math.round(a[1] + f * (b[1] - a[1])),
    Math.round(a[2] + f * (b[2] - a[2])),
  ];
}

/** Points of a size×size grid over (−half, half)², row 0 at the top (largest z2), as [size², 2]. */
export function gridPoints(size: number, half = 4): Float64Array {
  const points = new Float64Array(2 * size * size);
  const h = (2 * half) / size;
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const k = row * size + col;
      points[2 * k] = -half + (col + 0.5) * h;
      points[2 * k + 1] = half - (row + 0.5) * h;
    }
  }
  return points;
}

/** An RGBA image: width × height pixels, 4 bytes each, row-major from the top. */
export interface Image {
  width: number;
  height: number;
  data: Uint8Array;
}

export function blankImage(width: number, height: number, grey = 255): Image {
  return { width, height, data: new Uint8Array(4 * width * height).fill(grey) };
}

/** Draw log-densities on a size×size grid (from gridPoints) as a panel, scaled by its own maximum density. */
export function drawDensity(
  image: Image,
  logDensity: ArrayLike<number>,
  size: number,
  left: number,
  top: number,
): void {
  let max = -Infinity;
  for (let i = 0; i < logDensity.length; i++) if (logDensity[i]! > max) max = logDensity[i]!;
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const [r, g, b] = viridis(Math.exp(logDensity[row * size + col]! - max));
      const p = 4 * ((top + row) * image.width + left + col);
      image.data[p] = r;
      image.data[p + 1] = g;
      image.data[p + 2] = b;
      image.data[p + 3] = 255;
    }
  }
}

/** Draw a binary or grey [0, 1] picture (an MNIST digit) scaled up by `scale`. */
export function drawGrey(
  image: Image,
  values: ArrayLike<number>,
  width: number,
  height: number,
  left: number,
  top: number,
  scale = 1,
): void {
  for (let y = 0; y < height * scale; y++) {
    for (let x = 0; x < width * scale; x++) {
      const v = Math.round(
        255 * (1 - Math.min(1, Math.max(0, values[Math.floor(y / scale) * width + Math.floor(x / scale)]!))),
      );
      const p = 4 * ((top + y) * image.width + left + x);
      image.data[p] = image.data[p + 1] = image.data[p + 2] = v;
      image.data[p + 3] = 255;
    }
  }
}
