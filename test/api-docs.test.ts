import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";

// The API reference in docs/api (npm run docs:api: TypeDoc over the package's entry points, as
// Markdown) is committed: here it is generated again, with warnings as errors — a broken {@link},
// a public signature naming a type that is not exported — and must equal the committed pages.
const root = path.resolve(import.meta.dirname, "..");

it("docs/api is what TypeDoc generates from the doc comments now, with no warning", () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "flowgrad-api-"));
  try {
    const run = spawnSync(
      process.execPath,
      [path.join(root, "node_modules/typedoc/bin/typedoc"), "--treatWarningsAsErrors", "--out", out],
      { cwd: root, encoding: "utf8" },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const committed = path.join(root, "docs/api");
    expect(readdirSync(out).sort()).toEqual(readdirSync(committed).sort());
    for (const page of readdirSync(out)) {
      const fresh = readFileSync(path.join(out, page), "utf8");
      expect(
        fresh === readFileSync(path.join(committed, page), "utf8"),
        `docs/api/${page} is stale: run npm run docs:api`,
      ).toBe(true);
    }
    // The pages hold the doc comments, not only signatures.
    expect(readFileSync(path.join(out, "flows.md"), "utf8")).toContain("An additive coupling layer: volume-preserving");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
