// A small log–log line plot as SVG text: enough for benchmark figures, no plotting library.

/** Least-squares slope of log(y) against log(x). */
export function slope(xs: number[], ys: number[]): number {
  const lx = xs.map(Math.log),
    ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length,
    my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let num = 0,
    den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i]! - mx) * (ly[i]! - my);
    den += (lx[i]! - mx) ** 2;
  }
  return num / den;
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

export function logLogPlot(
  title: string,
  series: Array<{ label: string; points: Array<[number, number]> }>,
  xLabel: string,
  yLabel: string,
): string {
  const all = series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  const [W, H, L, R, T, B] = [720, 460, 80, 200, 40, 60];
  const lx = all.map(([x]) => Math.log10(x)),
    ly = all.map(([, y]) => Math.log10(y));
  const x0 = Math.floor(Math.min(...lx)),
    x1 = Math.ceil(Math.max(...lx)),
    y0 = Math.floor(Math.min(...ly)),
    y1 = Math.ceil(Math.max(...ly));
  const px = (x: number) => L + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => H - B - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  out.push(`<text x="${(W - R + L) / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  for (let e = x0; e <= x1; e++) {
    const x = px(10 ** e);
    out.push(
      `<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#ddd"/><text x="${x}" y="${H - B + 16}" text-anchor="middle">${powerOfTen(e)}</text>`,
    );
  }
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    out.push(
      `<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/><text x="${L - 6}" y="${y + 4}" text-anchor="end">${powerOfTen(e)}</text>`,
    );
  }
  out.push(`<text x="${(W - R + L) / 2}" y="${H - 16}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push(
    `<text transform="translate(18 ${(H - B + T) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(([x, y]) => x > 0 && y > 0);
    if (pts.length === 0) return;
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`,
    );
    for (const [x, y] of pts)
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly0 = T + 10 + i * 20;
    out.push(
      `<line x1="${W - R + 12}" y1="${ly0}" x2="${W - R + 32}" y2="${ly0}" stroke="${color}" stroke-width="2"/><text x="${W - R + 38}" y="${ly0 + 4}">${escapeXml(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n");
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A tick label 10ᵉ as SVG text: the exponent raised and smaller, as printed on paper (not "10^3"). */
export function powerOfTen(e: number): string {
  return `10<tspan dy="-0.5em" font-size="75%">${e < 0 ? "−" : ""}${Math.abs(e)}</tspan>`;
}

/** The log-det benchmark's figure: time of each path against D at depth K, from its results' points. */
export function logdetFigure(
  N: number,
  points: ReadonlyArray<{ path: string; K: number; D: number; meanMs: number }>,
  K: number,
): string {
  const paths = [...new Set(points.map((q) => q.path))];
  return logLogPlot(
    `log|det J| time vs D (N = ${N}, K = ${K})`,
    paths.map((p) => ({
      label: p,
      points: points.filter((q) => q.path === p && q.K === K).map((q) => [q.D, q.meanMs] as [number, number]),
    })),
    "D (dimension)",
    "time per batch (ms)",
  );
}
