import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The playground built as a static site, served from localhost, driven in headless Chromium
// (Debian's chromium, by playwright-core). Without Chromium the test is reported as skipped.
const root = path.resolve(import.meta.dirname, "..");
const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
const site = path.join(root, "dist-playground");
const artifacts = path.join(root, "test-artifacts");
const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
};

let server: Server;
let url = "";
const requests: string[] = [];

// CI installs chromium and asks for this test: there, no Chromium is a failure, not a skip.
if (process.env.FLOWGRAD_EXPECT_PLAYGROUND === "1") {
  it("CI asked for the playground's end-to-end test: Chromium is installed", () => {
    expect(chromium, "no Chromium at /usr/bin/chromium").toBeDefined();
  });
}

describe.skipIf(!chromium)(
  `the playground in headless Chromium${chromium ? "" : " (skipped: no Chromium at /usr/bin/chromium; .ci/run installs Debian's chromium)"}`,
  () => {
    beforeAll(async () => {
      execFileSync("npx", ["vite", "build", "--config", "playground/vite.config.ts", "--logLevel", "error"], {
        cwd: root,
        stdio: "inherit",
      });
      server = createServer((req, res) => {
        const file = path.join(
          site,
          decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/\/$/, "/index.html"),
        );
        if (!file.startsWith(site) || !existsSync(file)) {
          res.writeHead(404).end();
          return;
        }
        // Cross-origin isolated, as playground/vite.config.ts serves it: the products may use Web Workers.
        res
          .writeHead(200, {
            "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
            "cross-origin-opener-policy": "same-origin",
            "cross-origin-embedder-policy": "require-corp",
          })
          .end(readFileSync(file));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/index.html`;
    }, 120_000);
    afterAll(() => server?.close());

    it("trains U1 until the KL shown is below 0.5 nats, with no console error and no outside request", async () => {
      const { chromium: launcher } = await import("playwright-core");
      // launch() gives the browser a fresh, temporary user data dir of its own.
      const browser = await launcher.launch({
        executablePath: chromium!,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--no-first-run",
        ],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        const errors: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        page.on("pageerror", (e) => errors.push(e.message));
        page.on("request", (r) => requests.push(r.url()));
        await page.goto(url);
        // The CPU backend's large products on Web Workers (the page is cross-origin isolated), with
        // the same result, bit for bit, as on one thread.
        const cores = await page.evaluate(() => navigator.hardwareConcurrency);
        if (cores > 1) {
          await page.waitForFunction(
            () => /threads/.test(document.getElementById("backend-info")?.textContent ?? ""),
            undefined,
            {
              timeout: 30_000,
            },
          );
          expect(await page.textContent("#backend-info")).toMatch(/^cpu: WebAssembly SIMD, \d+ threads$/);
          const product = await page.evaluate(() => {
            // biome-ignore lint/suspicious/noExplicitAny: the page's console hook
            const { autograd: ag, kernels: k } = (globalThis as any).flowgrad;
            const a = ag.randn([300, 200], { random: 1 }),
              b = ag.randn([200, 250], { random: 2 });
            const before = k.cpuKernelInfo();
            const threaded = Array.from(ag.matmul(a, b).data as Float64Array);
            const after = k.cpuKernelInfo();
            k.setCpuKernels({ threads: 1 });
            const single = Array.from(ag.matmul(a, b).data as Float64Array);
            k.setCpuKernels({ threads: before.threads });
            return {
              isolated: crossOriginIsolated,
              threads: before.threads,
              threadedCalls: after.calls.threaded - before.calls.threaded,
              same: threaded.length === 75_000 && threaded.every((v, i) => Object.is(v, single[i])),
            };
          });
          expect(product).toEqual({ isolated: true, threads: Math.min(cores, 8), threadedCalls: 1, same: true });
        }
        await page.selectOption("#target", "U1");
        // Before Start the samples panel shows q as initialised (red points on a faded target), not a
        // copy of the target, which would look as if q already fitted.
        const beforeStart = await page.evaluate(() => {
          const pixels = (id: string) => {
            const c = document.getElementById(id) as HTMLCanvasElement;
            return c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
          };
          const target = pixels("target-canvas");
          const samples = pixels("samples-canvas");
          let differ = 0;
          let red = 0;
          for (let i = 0; i < samples.length; i += 4) {
            if (Math.abs(samples[i]! - target[i]!) + Math.abs(samples[i + 1]! - target[i + 1]!) > 30) differ++;
            if (samples[i]! > 180 && samples[i + 1]! < 150 && samples[i + 2]! < 150) red++;
          }
          return { differ, red, pixels: samples.length / 4 };
        });
        expect(beforeStart.differ).toBeGreaterThan(beforeStart.pixels / 4);
        expect(beforeStart.red).toBeGreaterThan(100);
        await page.click("#start");
        // Bounded wait: the KL estimate (every 250 steps) must fall below 0.5 nats.
        await page.waitForFunction(
          () => {
            const text = document.getElementById("kl")?.textContent ?? "";
            const value = parseFloat(text);
            return Number.isFinite(value) && value < 0.5;
          },
          undefined,
          { timeout: 90_000, polling: 500 },
        );
        const kl = parseFloat((await page.textContent("#kl")) ?? "");
        expect(kl).toBeLessThan(0.5);
        expect(Number(await page.textContent("#step"))).toBeGreaterThan(0);
        await page.click("#pause");
        // The second panel: measure until it stops by itself (one measurement over a second, or D = 512).
        await page.click("#measure");
        await page.waitForFunction(
          () =>
            !(document.getElementById("measure") as HTMLButtonElement).disabled &&
            /D = \d+/.test(document.getElementById("logdet-result")?.textContent ?? ""),
          undefined,
          { timeout: 90_000, polling: 500 },
        );
        expect(await page.textContent("#logdet-result")).toMatch(/Jacobian \+ LU [\d.]+ ms \(\d+× slower\)/);
        mkdirSync(artifacts, { recursive: true });
        await page.screenshot({ path: path.join(artifacts, "playground.png"), fullPage: true });
        // The GPU backend: gpu.js in whatever mode this browser offers (WebGL2/WebGL, else webasm),
        // reported on the page, with a visible notice for every mode passed over or a fallback to the CPU.
        await page.selectOption("#backend", "gpu");
        await page.waitForFunction(
          () =>
            (document.getElementById("backend-info")?.textContent ?? "").startsWith("gpu:") ||
            !document.getElementById("notice")!.hidden,
          undefined,
          { timeout: 30_000, polling: 200 },
        );
        const shown = (await page.textContent("#backend-info")) ?? "";
        console.info(`playground GPU backend: ${shown}`);
        const noticeText = (await page.textContent("#notice")) ?? "";
        // gpu.js must start in some mode (webgl2/webgl, else webasm or its cpu mode): a backend that
        // failed to start, even with a notice saying so, is a failure of this test.
        expect(shown, `the GPU backend did not start; the page says: ${noticeText}`).toMatch(/^gpu: gpu\.js /);
        if (!/webgl2|webgpu/.test(shown)) expect(noticeText.length).toBeGreaterThan(0); // a fallback is never silent
        await page.click("#reset");
        await page.click("#start");
        await page.waitForFunction(() => Number(document.getElementById("step")?.textContent) > 50, undefined, {
          timeout: 60_000,
        });
        await page.click("#pause");
        // The continuous flow (a neural ODE) trains in the page too, on the CPU backend.
        await page.selectOption("#backend", "cpu");
        await page.selectOption("#flow", "cnf");
        await page.fill("#K", "8");
        await page.click("#reset");
        await page.click("#start");
        await page.waitForFunction(() => Number(document.getElementById("step")?.textContent) > 20, undefined, {
          timeout: 60_000,
        });
        await page.click("#pause");
        expect(await page.isHidden("#notice"), (await page.textContent("#notice")) ?? "").toBe(true);
        expect(errors).toEqual([]);
        // blob: URLs are the kernels' Web Workers, made in the page
        expect(
          requests.filter((r) => !r.startsWith(url.replace(/index\.html$/, "")) && !r.startsWith("blob:")),
        ).toEqual([]);
      } finally {
        await browser.close();
      }
    }, 150_000);
  },
);
