// Markdown for the generated tables (scripts/docs-tables.ts, scripts/table2*.ts): one way to lay a
// table out and one way to write a value with its standard error.

/** A table: header cells, each column's alignment ("---" or "---:"), then the rows' cells. */
export function table(header: string[], align: string[], rows: string[][]): string {
  return [`| ${header.join(" | ")} |`, `|${align.join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** "value ± se" to `digits` places. */
export const pm = (value: number, se: number, digits = 4) => `${value.toFixed(digits)} ± ${se.toFixed(digits)}`;

/** A difference with its sign written out (+ or −, the minus sign) to 2 places, and "± se" when given. */
export const signed = (value: number, se?: number) =>
  `${value >= 0 ? "+" : "−"}${se === undefined ? Math.abs(value).toFixed(2) : pm(Math.abs(value), se, 2)}`;
