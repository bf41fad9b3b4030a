import { builtinModules } from "node:module";
import path from "node:path";
import { build, createLogger, type Plugin, type Rollup } from "vite";
import { describe, expect, it } from "vitest";

// flowgrad/autograd, /kernels, /flows and /models must bundle for the browser without any Node
// built-in (fs, path, process…) on their import paths; the Node-only parts live in src/node and src/cli.
const root = path.resolve(import.meta.dirname, "..");
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

describe("the browser bundle", () => {
  it("pulls in no Node built-in from autograd, kernels, flows or models", async () => {
    const pulled: string[] = [];
    const watch: Plugin = {
      name: "watch-node-builtins",
      enforce: "pre",
      resolveId(source, importer) {
        if (builtins.has(source) || source.startsWith("node:"))
          pulled.push(`${source} (from ${path.relative(root, importer ?? "?")})`);
        return null;
      },
    };
    await build({
      root,
      logLevel: "silent",
      configFile: false,
      plugins: [watch],
      build: {
        write: false,
        target: "es2022",
        lib: {
          entry: Object.fromEntries(
            ["autograd", "kernels", "flows", "models"].map((e) => [e, path.join(root, "src", e, "index.ts")]),
          ),
          formats: ["es"],
        },
      },
    });
    expect(pulled).toEqual([]);
  }, 120_000);
  it("builds the playground without warnings, with the webgpu shim in a chunk of its own, loaded only when asked", async () => {
    const warnings: string[] = [];
    const logger = createLogger("warn", { allowClearScreen: false });
    logger.warn = (msg) => warnings.push(msg);
    logger.warnOnce = (msg) => warnings.push(msg);
    const output = (await build({
      configFile: path.join(root, "playground/vite.config.ts"),
      customLogger: logger,
      logLevel: "warn",
      build: { write: false },
    })) as Rollup.RollupOutput | Rollup.RollupOutput[];
    // Rolldown's [PLUGIN_TIMINGS] notice says the build was slow (a busy machine), not that the bundle is wrong.
    expect(warnings.filter((w) => !w.startsWith("[PLUGIN_TIMINGS]"))).toEqual([]);
    const chunks = (Array.isArray(output) ? output : [output])
      .flatMap((o) => o.output)
      .filter((c) => c.type === "chunk");
    const entry = chunks.find((c) => c.isEntry)!;
    expect(Object.keys(entry.modules).some((m) => m.endsWith("kernels/gpu/webgpu.ts"))).toBe(false);
    expect(chunks.some((c) => Object.keys(c.modules).some((m) => m.endsWith("kernels/gpu/webgpu.ts")))).toBe(true);
  }, 120_000);
});
