// Density pictures as plain RGBA pixels, so they can be drawn in a page or written as PNG by
// the Node-only writer (src/node/png.ts). No file or DOM access here.

import { drawText, GLYPH_HEIGHT, GLYPH_WIDTH, textWidth } from "./text.js";

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

/** Where each panel of a labelled grid sits: columns titled along the top, rows named down the left. */
export interface PanelGrid {
  image: Image;
  /** The top-left pixel of the panel in `row`, `column`. */
  at(row: number, column: number): { left: number; top: number };
}

/**
 * A white image for rows × columns square panels of `panel` pixels, with each column's title above it
 * and each row's name at its left (text.ts's font, at twice its size), so a figure says what it shows.
 */
export function labelledGrid(rowLabels: string[], columnLabels: string[], panel: number, gap = 4): PanelGrid {
  const scale = 2;
  const left = gap + Math.max(0, ...rowLabels.map((l) => textWidth(l, scale))) + gap;
  // Titles wider than a panel wrap at spaces; one whose word is still too wide drops to half size.
  // A title may use half of each gap beside its panel (the last glyph's spacing is blank anyway).
  const room = panel + gap;
  const titles = columnLabels.map((label) => {
    const lines = wrap(label, Math.floor(room / (GLYPH_WIDTH * scale)));
    if (lines.every((l) => textWidth(l, scale) <= room)) return { lines, scale };
    return { lines: wrap(label, Math.floor(room / GLYPH_WIDTH)), scale: 1 };
  });
  const lineHeight = (GLYPH_HEIGHT + 3) * scale;
  const titleLines = Math.max(1, ...titles.map((t) => Math.ceil((t.lines.length * t.scale) / scale)));
  const top = gap + titleLines * lineHeight + gap;
  const image = blankImage(left + columnLabels.length * (panel + gap), top + rowLabels.length * (panel + gap));
  const at = (row: number, column: number) => ({ left: left + column * (panel + gap), top: top + row * (panel + gap) });
  titles.forEach((title, c) =>
    title.lines.forEach((line, k) => {
      const x = at(0, c).left + Math.floor((panel - textWidth(line, title.scale)) / 2);
      drawText(image, line, x, gap + (k * lineHeight * title.scale) / scale, title.scale);
    }),
  );
  rowLabels.forEach((label, r) => {
    drawText(image, label, gap, at(r, 0).top + Math.floor((panel - GLYPH_HEIGHT * scale) / 2), scale);
  });
  return { image, at };
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  // "K = 8" stays on one line.
  for (const word of text.match(/\S+(?: = \S+)?/g) ?? []) {
    if (line && `${line} ${word}`.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
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
