// Line charts drawn into RGBA images with the 5×7 font (text.ts): panels side by side, each a few
// series over the same categorical x axis — enough for the paper's Figure 4 (the bound, −ln p(x)
// and their gap against the flow length), with no plotting library and the same pixels everywhere.

import { blankImage, type Image } from "./heatmap.js";
import { drawText, GLYPH_HEIGHT, textWidth } from "./text.js";

export interface Series {
  label: string;
  colour: readonly [number, number, number];
  /** y at each x position (index into the chart's xLabels); null where there is no point. */
  values: ReadonlyArray<number | null>;
  /**
   * Points to set apart (a run whose training blew up, say): drawn hollow and unconnected, and left
   * out of the panel's y range, so one far point does not flatten the rest; beyond the axis, a
   * hollow point sits on its edge with an arrow pointing the way it is off.
   */
  apart?: ReadonlyArray<boolean>;
}

export interface Panel {
  title: string;
  series: Series[];
}

const PLOT_W = 260,
  PLOT_H = 200,
  LEFT = 52,
  TOP = 34,
  BOTTOM = 40,
  RIGHT = 16;

function setPixel(image: Image, x: number, y: number, c: readonly [number, number, number]): void {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  const p = 4 * (Math.round(y) * image.width + Math.round(x));
  image.data[p] = c[0];
  image.data[p + 1] = c[1];
  image.data[p + 2] = c[2];
  image.data[p + 3] = 255;
}

/** A line two pixels wide, by stepping along its longer axis. */
function line(
  image: Image,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  c: readonly [number, number, number],
): void {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  for (let i = 0; i <= steps; i++) {
    const x = x0 + ((x1 - x0) * i) / steps,
      y = y0 + ((y1 - y0) * i) / steps;
    setPixel(image, x, y, c);
    setPixel(image, x + 1, y, c);
    setPixel(image, x, y + 1, c);
  }
}

/** A hollow 7 × 7 square at (x, y); `off` −1 or +1 adds an arrow above or below it (the value is off the axis that way). */
function hollowPoint(image: Image, x: number, y: number, off: number, c: readonly [number, number, number]): void {
  for (let d = -3; d <= 3; d++) {
    for (const e of [-3, 3]) {
      setPixel(image, x + d, y + e, c);
      setPixel(image, x + e, y + d, c);
    }
  }
  if (off === 0) return;
  // A stem from the ring to 11 pixels past the centre, and a head: the way to the value, off the axis.
  const tip = y + off * 11;
  line(image, x, y + off * 4, x, tip, c);
  for (let d = 1; d <= 3; d++) {
    setPixel(image, x - d, tip - off * d, c);
    setPixel(image, x + d, tip - off * d, c);
  }
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10ᵏ, about four of them. */
export function ticks(lo: number, hi: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / 4,
    p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const out: number[] = [];
  // From the step at or below lo to the step at or above hi, so every value lies inside the axis.
  const last = Math.ceil(hi / step - 1e-9) * step;
  for (let t = Math.floor(lo / step) * step; t <= last + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** Panels side by side over one categorical x axis (`xLabels`, titled `xTitle`), a shared legend on top. */
export function lineChart(panels: Panel[], xLabels: string[], xTitle: string): Image {
  const panelW = LEFT + PLOT_W + RIGHT,
    width = panelW * panels.length;
  // The legend: every series label once, in its colour, wrapped into as many rows as it needs.
  const seen = new Map<string, Series["colour"]>();
  for (const p of panels) for (const s of p.series) if (!seen.has(s.label)) seen.set(s.label, s.colour);
  const entries: Array<{ label: string; colour: Series["colour"]; x: number; row: number }> = [];
  let lx = 8,
    row = 0;
  for (const [label, colour] of seen) {
    const w = 18 + textWidth(label) + 16;
    if (lx > 8 && lx + w > width) [lx, row] = [8, row + 1];
    entries.push({ label, colour, x: lx, row });
    lx += w;
  }
  const legendH = 18 * (row + 1);
  const image = blankImage(width, legendH + TOP + PLOT_H + BOTTOM);
  for (const { label, colour, x, row } of entries) {
    for (let dx = 0; dx < 14; dx++) for (let dy = 0; dy < 2; dy++) setPixel(image, x + dx, 8 + 18 * row + dy, colour);
    drawText(image, label, x + 18, 5 + 18 * row, 1, colour);
  }
  panels.forEach((panel, k) => {
    const left = k * panelW + LEFT,
      top = legendH + TOP;
    const ys = panel.series.flatMap((s) =>
      s.values.filter((v, i): v is number => v !== null && Number.isFinite(v) && !s.apart?.[i]),
    );
    // A panel with nothing to show yet (runs missing) still draws its axes, over [0, 1].
    const lo = ys.length ? Math.min(...ys) : 0,
      hi = ys.length ? Math.max(...ys) : 1,
      pad = (hi - lo || 1) * 0.08;
    const t = ticks(lo - pad, hi + pad);
    const y0 = t[0]!,
      y1 = t[t.length - 1]!;
    const px = (i: number) => left + ((i + 0.5) / xLabels.length) * PLOT_W;
    const py = (v: number) => top + PLOT_H - ((v - y0) / (y1 - y0 || 1)) * PLOT_H;
    drawText(image, panel.title, left + (PLOT_W - textWidth(panel.title, 2)) / 2, legendH + 6, 2);
    const grid: [number, number, number] = [225, 225, 225],
      axis: [number, number, number] = [60, 60, 60];
    for (const v of t) {
      line(image, left, py(v), left + PLOT_W, py(v), grid);
      const label = Number.isInteger(v) ? String(v) : v.toFixed(1);
      drawText(image, label, left - 6 - textWidth(label), py(v) - 3);
    }
    line(image, left, top, left, top + PLOT_H, axis);
    line(image, left, top + PLOT_H, left + PLOT_W, top + PLOT_H, axis);
    xLabels.forEach((label, i) => drawText(image, label, px(i) - textWidth(label) / 2, top + PLOT_H + 6));
    drawText(image, xTitle, left + (PLOT_W - textWidth(xTitle)) / 2, top + PLOT_H + 8 + GLYPH_HEIGHT + 8);
    const atEdge = new Map<string, number>();
    for (const s of panel.series) {
      let last: [number, number] | null = null;
      s.values.forEach((v, i) => {
        if (v === null || !Number.isFinite(v)) {
          last = null;
          return;
        }
        if (s.apart?.[i]) {
          const y = py(v),
            off = y < top ? -1 : y > top + PLOT_H ? 1 : 0;
          // Points held at the same edge side by side, 9 pixels apart (0, +9, −9, +18, …), not on top of each other.
          const n = off ? (atEdge.get(`${i} ${off}`) ?? 0) : 0;
          if (off) atEdge.set(`${i} ${off}`, n + 1);
          const dx = 9 * Math.ceil(n / 2) * (n % 2 ? 1 : -1);
          hollowPoint(image, px(i) + dx, Math.min(Math.max(y, top), top + PLOT_H), off, s.colour);
          last = null;
          return;
        }
        const here: [number, number] = [px(i), py(v)];
        if (last) line(image, last[0], last[1], here[0], here[1], s.colour);
        for (let dx = -2; dx <= 2; dx++)
          for (let dy = -2; dy <= 2; dy++) setPixel(image, here[0] + dx, here[1] + dy, s.colour);
        last = here;
      });
    }
  });
  return image;
}
