import { describe, expect, it } from "vitest";
import { blankImage, drawText, type Image, labelledGrid, textWidth } from "../src/models/index.js";
import { hasGlyph } from "../src/models/text.js";
import { inkAt } from "./helpers.js";

// Figures name their rows and columns in the image itself (a 5×7 font in src/models/text.ts).
const inked = (image: Image, x0: number, y0: number, x1: number, y1: number) => {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (image.data[4 * (y * image.width + x)]! < 128) n++;
  return n;
};

describe("labelled figures", () => {
  it("text at a fractional corner is drawn at the nearest whole pixel, not between rows", () => {
    const at = (left: number, top: number) => {
      const image = blankImage(40, 20);
      drawText(image, "92", left, top);
      return image.data;
    };
    expect(Buffer.from(at(10.4, 2.6)).equals(Buffer.from(at(10, 3)))).toBe(true);
  });
  it("the font draws every character the figures' labels use, and distinct characters differently", () => {
    const labels = ["U1", "U2", "U3", "U4", "true density", "planar K = 32", "radial K = 8", "CNF (16 hidden)"];
    labels.push("Hamiltonian K = 5", "Langevin (MALA, t = 10)", "MALA particles, t = 30", "ULA particles, t = 0.5");
    for (const label of labels) for (const ch of label) expect(hasGlyph(ch), `"${ch}" in "${label}"`).toBe(true);
    const pixels = (s: string) => {
      const image: Image = { width: 12, height: 8, data: new Uint8Array(4 * 12 * 8).fill(255) };
      drawText(image, s, 0, 0);
      return Array.from(image.data).join(",");
    };
    const chars = [..."0123456789UKCNFHLMAtrueplanz=(),"];
    const drawn = new Set(chars.map(pixels));
    expect(drawn.size).toBe(chars.length);
  });
  it("a grid puts each column's title above its panel and each row's name left of its row, never on a panel", () => {
    const panel = 64;
    const grid = labelledGrid(["U1", "U2"], ["true density", "planar K = 32", "CNF"], panel);
    const { image } = grid;
    for (let c = 0; c < 3; c++) {
      const { left, top } = grid.at(0, c);
      expect(inked(image, left, 0, left + panel, top), `title of column ${c}`).toBeGreaterThan(20);
      for (let r = 0; r < 2; r++) {
        const p = grid.at(r, c);
        expect(inked(image, p.left, p.top, p.left + panel, p.top + panel), `panel ${r}, ${c}`).toBe(0);
      }
    }
    for (let r = 0; r < 2; r++) {
      const { top } = grid.at(r, 0);
      expect(inked(image, 0, top, grid.at(r, 0).left, top + panel), `name of row ${r}`).toBeGreaterThan(10);
    }
    // A title wider than its panel wraps onto lines that fit above it ("K = 32" kept together).
    expect(textWidth("planar K = 32", 2)).toBeGreaterThan(panel);
    const { left } = grid.at(0, 1);
    expect(inked(image, grid.at(0, 0).left + panel, 0, left, grid.at(0, 1).top)).toBe(0);
  });
});

describe("line-chart ticks", () => {
  it("cover the range they are given, so no point is drawn outside the axis", async () => {
    const { ticks } = await import("../src/models/line-chart.js");
    // Table 2's −ELBO panel: values up to 103.32 once cut off at a top tick of 102.
    const t = ticks(96.5, 103.8);
    expect(t[0]!).toBeLessThanOrEqual(96.5);
    expect(t.at(-1)!).toBeGreaterThanOrEqual(103.8);
    const fc = (await import("fast-check")).default;
    fc.assert(
      fc.property(
        fc.double({ min: -1e4, max: 1e4, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e4, noNaN: true }),
        (lo, span) => {
          const u = ticks(lo, lo + span);
          // Within a billionth of the span: the ends are rounded to the step, in floating point.
          const slack = 1e-9 * span;
          return u[0]! <= lo + slack && u.at(-1)! >= lo + span - slack && u.length <= 12;
        },
      ),
      { seed: 2015 },
    );
  });
});

describe("line-chart legend", () => {
  it("wraps into rows when the labels outgrow the image, and every label keeps its colour on the image", async () => {
    const { lineChart } = await import("../src/models/line-chart.js");
    const colours: Array<[number, number, number]> = [
      [200, 0, 0],
      [0, 150, 0],
      [0, 0, 200],
      [150, 0, 150],
    ];
    const chart = (labels: string[]) =>
      lineChart(
        [{ title: "p", series: labels.map((label, i) => ({ label, colour: colours[i]!, values: [1, 2] })) }],
        ["a", "b"],
        "x",
      );
    const short = chart(["a", "b"]);
    // One panel is 328 pixels wide from x = 8: labels of 14 characters take 118 pixels with their
    // swatch and gaps, so two fit a row and four need two rows.
    const long = chart(colours.map((_, i) => `series number ${i}`.slice(-14)));
    expect(long.width).toBe(short.width);
    expect(long.height).toBe(short.height + 18);
    // Each label's swatch and ink lie inside the image, in the legend rows above the plots.
    const legendRows = 2 * 18;
    for (const c of colours) {
      const n = inkAt(long, c).filter(([, y]) => y < legendRows).length;
      expect(n).toBeGreaterThanOrEqual(28); // the 14 × 2 swatch, plus the label's ink
    }
  });
});

describe("line-chart points set apart", () => {
  it("a point set apart leaves the axes as they were, and sits hollow at the edge it is off, with an arrow", async () => {
    const { lineChart } = await import("../src/models/line-chart.js");
    const colour: [number, number, number] = [200, 0, 0];
    const chart = (values: Array<number | null>, apart?: boolean[]) =>
      lineChart([{ title: "p", series: [{ label: "s", colour, values, apart }] }], ["a", "b", "c"], "x");
    const without = chart([1, 2, null]);
    const far = chart([1, 2, 1000], [false, false, true]);
    const inside = chart([1, 2, 1.5], [false, false, true]);
    const key = ([x, y]: [number, number]) => `${x} ${y}`;
    const before = new Set(inkAt(without, colour).map(key));
    for (const [image, arrow] of [
      [far, true],
      [inside, false],
    ] as const) {
      // Everything drawn without the point is drawn the same (the y range ignores it; no line to it).
      const ink = inkAt(image, colour);
      expect(ink.filter((p) => before.has(key(p))).length).toBe(before.size);
      const added = ink.filter((p) => !before.has(key(p)));
      const xs = added.map(([x]) => x),
        ys = added.map(([, y]) => y);
      const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      // A 7 × 7 ring, hollow in the middle; the arrow reaches 11 pixels above its centre.
      expect(x1 - x0).toBe(6);
      expect(y1 - y0).toBe(arrow ? 14 : 6);
      const ring = arrow ? y1 - 3 : y0 + 3;
      expect(added.some(([x, y]) => x === x0 + 3 && y === ring)).toBe(false);
      // Off the top: the ring's centre is on the plot's top edge, above every point drawn without it.
      const plotted = [...before].map((k) => Number(k.split(" ")[1])).filter((y) => y > 18); // below the legend
      if (arrow) expect(ring).toBeLessThan(Math.min(...plotted));
    }
  });
});
