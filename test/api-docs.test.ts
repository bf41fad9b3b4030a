import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";

// The API reference (npm run docs:api, TypeDoc over the package's entry points) keeps building:
// a warning — a broken {@link}, a public signature naming a type that is not exported — fails here.
const root = path.resolve(import.meta.dirname, "..");

it("TypeDoc builds the API reference from the doc comments with no warning", () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "flowgrad-api-"));
  try {
    const run = spawnSync(
      process.execPath,
      [path.join(root, "node_modules/typedoc/bin/typedoc"), "--treatWarningsAsErrors", "--out", out],
      { cwd: root, encoding: "utf8" },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    // One page per public class, with its doc comment in it.
    const planar = path.join(out, "classes", "flows.PlanarFlow.html");
    expect(existsSync(planar)).toBe(true);
    expect(readFileSync(planar, "utf8")).toContain("dtype");
    expect(existsSync(path.join(out, "functions", "autograd.hvp.html"))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);
