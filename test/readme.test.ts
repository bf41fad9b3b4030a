import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// Every ```js block of README.md and docs/*.md is run; each line with `// →` must print exactly that text.
const root = path.resolve(import.meta.dirname, "..");
const pages = [
  "README.md",
  ...readdirSync(path.join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const blocks = pages.flatMap((page) => {
  const text = readFileSync(path.join(root, page), "utf8");
  return [...text.matchAll(/```js\n([\s\S]*?)```/g)].map((m, k) => ({
    page,
    label: `${page} example ${k + 1}`,
    code: m[1]!,
  }));
});
const tmp = path.join(root, ".tmp");
// The webgpu example runs where gpu.js's webgpu mode does (see test/webgpu.test.ts), else it is skipped with the reason.
const { createGpuBackend } = await import("../src/kernels/gpu/backend.js");
const webgpu = await createGpuBackend("webgpu").then(
  (b) => {
    b.dispose();
    return null;
  },
  (e: Error) => e.message,
);

describe("README and docs examples", () => {
  it("has examples", () => {
    expect(blocks.filter((b) => b.page === "README.md").length).toBeGreaterThanOrEqual(3);
    expect(blocks.length).toBeGreaterThanOrEqual(10);
  });
  blocks.forEach(({ label, code }, i) => {
    if (webgpu && code.includes('gpuMode: "webgpu"')) {
      // Where CI asked for webgpu (FLOWGRAD_EXPECT_WEBGPU=1), not running this example is a failure.
      if (process.env.FLOWGRAD_EXPECT_WEBGPU === "1")
        it(`${label} needs gpu.js webgpu mode, which CI asked for`, () => expect.fail(webgpu));
      else it.skip(`${label} needs gpu.js webgpu mode: ${webgpu}`, () => {});
      return;
    }
    it(`${label} prints what it says`, async () => {
      const expected = code.split("\n").flatMap((line) => {
        const m = /console\.log\(.*\/\/ → (.*)$/.exec(line);
        return m ? [m[1]!.trim()] : [];
      });
      expect(expected.length, "an example with nothing checked").toBeGreaterThan(0);
      const source = code.replace(
        /from "flowgrad\/(\w+)"/g,
        (_, sub: string) => `from ${JSON.stringify(path.join(root, "src", sub, "index.ts"))}`,
      );
      const module = `export const output = [];\nconst console = { log: (...a) => output.push(a.map(String).join(" ")) };\n${source}`;
      // Imports must stay first: hoist them above the console shim.
      const imports = module.split("\n").filter((l) => l.startsWith("import "));
      const rest = module.split("\n").filter((l) => !l.startsWith("import "));
      mkdirSync(tmp, { recursive: true });
      const file = path.join(tmp, `readme-example-${i + 1}.ts`);
      writeFileSync(file, [...imports, ...rest].join("\n"));
      const { output } = (await import(file)) as { output: string[] };
      expect(output).toEqual(expected);
    });
  });
});
