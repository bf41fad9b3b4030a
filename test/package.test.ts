import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// Pack the package as npm would publish it, install the tarball in an empty folder, and import
// flowgrad/autograd from plain Node ESM, recording every module Node resolves on the way.
const root = path.resolve(import.meta.dirname, "..");
const work = mkdtempSync(path.join(os.tmpdir(), "flowgrad-pack-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, npm_config_update_notifier: "false" },
  });

describe("the packed package", () => {
  it("installs from its tarball and flowgrad/autograd loads alone, without gpu.js, flows or models", () => {
    run("npm", ["pack", "--pack-destination", work, "--silent"], root);
    const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
    expect(tarball, "npm pack wrote no tarball").toBeDefined();
    const app = path.join(work, "app");
    run("mkdir", ["-p", app], work);
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    run(
      "npm",
      [
        "install",
        path.join(work, tarball!),
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--omit=optional",
        "--omit=dev",
      ],
      app,
    );

    // A resolve hook (in Node's loader thread) appends each resolved URL to a log file.
    const log = path.join(app, "resolved.log");
    writeFileSync(
      path.join(app, "hooks.mjs"),
      `
      import { appendFileSync } from "node:fs";
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        appendFileSync(${JSON.stringify(log)}, result.url + "\\n");
        return result;
      }`,
    );
    writeFileSync(
      path.join(app, "register.mjs"),
      `import { register } from "node:module"; register("./hooks.mjs", import.meta.url);`,
    );
    writeFileSync(
      path.join(app, "main.mjs"),
      `
      import { tensor, grad } from "flowgrad/autograd";
      const [g] = grad((x) => x.mul(x).sum())(tensor([1, 2, 3]));
      console.log(JSON.stringify(g.toArray()));`,
    );
    const out = run("node", ["--import", "./register.mjs", "main.mjs"], app);
    expect(out.trim()).toBe("[2,4,6]");

    const resolved = readFileSync(log, "utf8").trim().split("\n");
    const ours = resolved.filter((u) => u.includes("/node_modules/flowgrad/"));
    expect(ours.some((u) => u.endsWith("/dist/src/autograd/index.js"))).toBe(true);
    expect(ours.some((u) => u.includes("/dist/src/kernels/"))).toBe(true); // the CPU kernels, as designed
    expect(resolved.filter((u) => /gpu\.js|\/flows\/|\/models\//.test(u))).toEqual([]);
    // The installed command runs, and `bench` (whose suites live in a clone, not in the package) says so.
    const bench = spawnSync(
      process.execPath,
      [path.join(app, "node_modules/flowgrad/dist/src/cli/main.js"), "bench", "--quick"],
      { cwd: app, encoding: "utf8" },
    );
    expect(bench.status).toBe(1);
    expect(bench.stderr).toMatch(
      /flowgrad: the benchmarks run from a clone of the flowgrad repository: npm ci && npm run bench/,
    );
    // And the tarball ships types for every subpath.
    for (const sub of ["autograd", "kernels", "flows", "models"]) {
      expect(() => readFileSync(path.join(app, "node_modules/flowgrad/dist/src", sub, "index.d.ts"))).not.toThrow();
    }
    // Source maps carry the TypeScript they map to (the package ships no src/), so a debugger
    // steps through the real source: every map's sources have their content inlined.
    const mapFile = path.join(app, "node_modules/flowgrad/dist/src/autograd/backward.js.map");
    const map = JSON.parse(readFileSync(mapFile, "utf8")) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.length).toBe(map.sources.length);
    expect(map.sourcesContent![0]).toContain("export function backward");
  }, 180_000);
});
