// npm run docs: regenerate the result tables in README.md and docs/*.md, and the figures drawn
// from results alone (docs/logdet.svg), from results/*.json.
// --check: change nothing, exit 1 naming each page whose tables differ from the JSON.

import { readFileSync } from "node:fs";
import path from "node:path";
import { PNG } from "pngjs";
import { writeFileAtomic, writePng } from "../src/node/io.js";
import { FIGURES, pages, pngFigures, renderPage } from "./docs-tables.js";

const root = path.resolve(import.meta.dirname, "../..");
const check = process.argv.includes("--check");
let stale = 0;
/** Write `fresh` to a file whose text differs from it (or, with --check, say so). */
function sync(name: string, file: string, text: string, fresh: string, what: string): void {
  if (fresh === text) return;
  stale++;
  if (check) console.error(`${name}: ${what} (run npm run docs)`);
  else {
    writeFileAtomic(file, fresh);
    console.log(`updated ${name}`);
  }
}
for (const page of pages(root)) {
  const file = path.join(root, page);
  const text = readFileSync(file, "utf8");
  sync(page, file, text, renderPage(text, root, page), "its tables differ from results/*.json");
}
for (const [figure, draw] of Object.entries(FIGURES)) {
  const file = path.join(root, figure);
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // not drawn yet
  }
  sync(figure, file, text, draw(root), "differs from what its results JSON draws");
}
for (const [figure, draw] of Object.entries(pngFigures(root))) {
  const file = path.join(root, figure);
  const image = draw(root);
  let same = false;
  try {
    const old = PNG.sync.read(readFileSync(file));
    same =
      old.width === image.width &&
      old.height === image.height &&
      Buffer.compare(old.data, Buffer.from(image.data)) === 0;
  } catch {
    // not drawn yet
  }
  if (same) continue;
  stale++;
  if (check) console.error(`${figure}: differs from what its results JSON draws (run npm run docs)`);
  else {
    writePng(file, image);
    console.log(`updated ${figure}`);
  }
}
if (check && stale > 0) process.exit(1);
if (stale === 0) console.log("every table matches results/*.json");
