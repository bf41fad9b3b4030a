import { readFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { FIGURES, pages, pngFigures, renderPage, TABLES, tablesIn } from "../scripts/docs-tables.js";

// The result tables in README.md and docs/*.md are generated from results/*.json (npm run docs):
// a page whose table differs from its JSON fails here, so numbers and text cannot drift apart.
const root = path.resolve(import.meta.dirname, "..");

describe("docs: result tables match the committed results JSON", () => {
  const used = new Set<string>();
  for (const page of pages(root)) {
    const text = readFileSync(path.join(root, page), "utf8");
    for (const name of tablesIn(text)) used.add(name);
    it(`${page}: every marked table equals what npm run docs generates`, () => {
      const fresh = renderPage(text, root, page);
      if (fresh !== text) {
        // Name the first table that differs, so the failure says what to regenerate.
        const stale = tablesIn(text).find((name) => {
          const marker = new RegExp(`<!-- table: ${name} -->\\n([\\s\\S]*?)<!-- /table -->`);
          return marker.exec(text)?.[1] !== marker.exec(fresh)?.[1];
        });
        expect.fail(`${page}: table "${stale}" differs from results/*.json; run npm run docs`);
      }
    });
  }
  for (const [figure, draw] of Object.entries(FIGURES)) {
    it(`${figure} is what its results JSON draws`, () => {
      expect(readFileSync(path.join(root, figure), "utf8") === draw(root), `${figure}: run npm run docs`).toBe(true);
    });
  }
  for (const [figure, draw] of Object.entries(pngFigures(root))) {
    it(`${figure} has the pixels its results JSON draws`, () => {
      const image = draw(root);
      const saved = PNG.sync.read(readFileSync(path.join(root, figure)));
      expect([saved.width, saved.height]).toEqual([image.width, image.height]);
      expect(Buffer.compare(saved.data, Buffer.from(image.data)) === 0, `${figure}: run npm run docs`).toBe(true);
    });
  }
  it("figures label powers of ten as 10 with a raised exponent, never 10^e", () => {
    for (const figure of Object.keys(FIGURES)) {
      const svg = readFileSync(path.join(root, figure), "utf8");
      expect(svg).not.toMatch(/10\^/);
      expect(svg).toMatch(/>10<tspan dy="-0.5em" font-size="75%">-?\d+<\/tspan>/);
    }
  });
  it("every generated table is shown on some page", () => {
    expect(Object.keys(TABLES).filter((name) => !used.has(name))).toEqual([]);
  });
  it("a changed number is caught, and an unknown table is named", () => {
    const text = readFileSync(path.join(root, "README.md"), "utf8");
    const name = tablesIn(text)[0]!;
    const changed = text.replace(
      new RegExp(`(<!-- table: ${name} -->\\n[^\\n]*\\n[^\\n]*\\n\\| [^|]+ \\| )(\\d)`),
      (_, a, d) => `${a}${(Number(d) + 1) % 10}`,
    );
    expect(changed).not.toBe(text);
    expect(renderPage(changed, root)).not.toBe(changed);
    expect(() => renderPage("<!-- table: nonsense -->\n<!-- /table -->", root, "x.md")).toThrow(
      /x.md: unknown table "nonsense"/,
    );
  });
  it("links between the pages point to files that exist", () => {
    for (const page of pages(root)) {
      const text = readFileSync(path.join(root, page), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^https?:/.test(target!)) continue;
        const file = path.resolve(path.dirname(path.join(root, page)), target!);
        expect(() => readFileSync(file), `${page} links to ${target}`).not.toThrow();
      }
    }
  });
});
