// One epoch of `flowgrad vae`'s training (the paper's 784-400-40 model, batch 100, the 80 steps
// of its 8,000 training digits; no validation or checkpoint), timed for this build on one thread
// and on every core, and, with --baseline DIR (scripts/build-at.sh REV), for an older build,
// alternating, so the speed-up is measured side by side. Each timing runs in a fresh process of
// its own (after 5 warm-up steps): sharing one, the older build's garbage slowed the newer one.
// With --gpu-mode webgpu it times this build on gpu.js's webgpu mode too (every op on the device,
// the loss read each step as `flowgrad vae` reads it): is a GPU the way to train the long runs?
// Run: npm run bench:vae-epoch -- --baseline .tmp/build-REV/dist   (--quick: 20 steps, K = 0 and 10;
// --K 0,10,80 picks the flow lengths)

import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as here from "../src/index.js";
import { backendInfo, initBackend, loadedGpuBackend, setCpuKernels } from "../src/kernels/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { environment, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const at = process.argv.indexOf("--baseline");
const baselineDir = at >= 0 ? process.argv[at + 1] : undefined;
if (at >= 0 && !baselineDir)
  throw new Error("--baseline needs the dist/ folder of an older build (scripts/build-at.sh REV)");
const modeAt = process.argv.indexOf("--gpu-mode");
const gpuMode = modeAt >= 0 ? process.argv[modeAt + 1] : undefined;
if (modeAt >= 0 && gpuMode !== "webgpu")
  throw new Error(`--gpu-mode: only webgpu is timed here (training reads the loss every step), not "${gpuMode}"`);
const kAt = process.argv.indexOf("--K");
type Lib = Pick<typeof here, "FlowVAE" | "Adam" | "Random" | "Tensor" | "tidy">;

const steps = quick ? 20 : 80;
const Ks = kAt >= 0 ? (process.argv[kAt + 1] ?? "").split(",").map(Number) : quick ? [0, 10] : [0, 10, 40];
if (!Ks.length || Ks.some((K) => !Number.isInteger(K) || K < 0))
  throw new Error(`--K: flow lengths as a comma-separated list of whole numbers, not "${process.argv[kAt + 1]}"`);
const cores = os.availableParallelism();

/**
 * Seconds for `steps` training steps of a fresh model built with `lib`, scaled to an epoch's 80.
 * Each step is trainVAE's: tidy forward and backward, read the loss, update (awaited on a device).
 */
async function epochSeconds(lib: Lib, K: number): Promise<number> {
  const data = loadMnist();
  const model = new lib.FlowVAE({ K, hidden: 400, latent: 40, seed: 1 });
  const opt = new lib.Adam(model.parameters(), { lr: 1e-3 });
  const random = new lib.Random(2);
  const batchAt = (s: number) =>
    new lib.Tensor(data.train.images.slice(s * 100 * 784, (s + 1) * 100 * 784), [100, 784]);
  const step = async (s: number) => {
    const loss = lib.tidy(() => {
      opt.zeroGrad();
      const l = model.freeEnergy(batchAt(s % 80), random);
      l.backward();
      return l;
    });
    await loss.read();
    await opt.stepAsync();
  };
  for (let s = 0; s < 5; s++) await step(s); // warm-up: compiled code, WebAssembly, worker threads, kernels
  const started = performance.now();
  for (let s = 0; s < steps; s++) await step(s);
  await Promise.all(model.parameters().map((p) => p.read())); // the last update has finished
  return ((performance.now() - started) / 1000) * (80 / steps);
}

// A child: --child this|baseline|webgpu --K k --threads t; prints its seconds as its last line.
const childAt = process.argv.indexOf("--child");
if (childAt >= 0) {
  const which = process.argv[childAt + 1];
  const K = Ks[0]!;
  setCpuKernels({ threads: Number(process.argv[process.argv.indexOf("--threads") + 1]) });
  if (which === "webgpu") {
    await initBackend("gpu", { gpuMode: "webgpu", quiet: true });
    console.log(`adapter: ${backendInfo().adapter ?? "unknown"}`);
  }
  if (which === "baseline" && !baselineDir) throw new Error("--child baseline needs --baseline DIR");
  // Only the child that times the older build loads it.
  const lib =
    which === "baseline" && baselineDir
      ? ((await import(pathToFileURL(path.resolve(baselineDir, "src/index.js")).href)) as Lib)
      : here;
  const seconds = await epochSeconds(lib, K);
  const gpu = loadedGpuBackend();
  if (which === "webgpu" && gpu) console.log(`kernels compiled: ${gpu.kernelsCompiled()}`);
  console.log(seconds);
  process.exit(0);
}

interface Row {
  K: number;
  build: string;
  /** Where the ops ran: "cpu" (the CPU backend's kernels on `threads` threads) or "webgpu". */
  backend: string;
  /** webgpu: gpu.js kernels compiled in each run (5 warm-up and the timed steps; more means recompiles). */
  kernelsCompiled?: number[];
  threads: number;
  epochSeconds: number[];
}
const rows: Row[] = [];
let adapter: string | null = null;
for (const K of Ks) {
  const ways: Array<[string, string, number]> = [
    ["this build", "cpu", 1],
    ["this build", "cpu", cores],
    ...(baselineDir ? [["baseline", "cpu", 1] as [string, string, number]] : []),
    ...(gpuMode ? [["this build", gpuMode, 1] as [string, string, number]] : []),
  ];
  const found: Row[] = ways.map(([build, backend, threads]) => ({ K, build, backend, threads, epochSeconds: [] }));
  for (let round = 0; round < 2; round++)
    ways.forEach(([build, backend, threads], i) => {
      const child = backend !== "cpu" ? backend : build === "baseline" ? "baseline" : "this";
      const args = [fileURLToPath(import.meta.url), "--child", child, "--K", `${K}`];
      args.push(
        "--threads",
        `${threads}`,
        ...(baselineDir ? ["--baseline", baselineDir] : []),
        ...(quick ? ["--quick"] : []),
      );
      const run = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      const s = Number(run.stdout.trim().split("\n").at(-1));
      if (run.status !== 0 || !Number.isFinite(s))
        throw new Error(`bench:vae-epoch: the ${build} ${backend} child failed (exit ${run.status})`);
      found[i]!.epochSeconds.push(s);
      adapter = run.stdout.match(/^adapter: (.*)$/m)?.[1] ?? adapter;
      const compiled = run.stdout.match(/^kernels compiled: (\d+)$/m)?.[1];
      if (compiled) found[i]!.kernelsCompiled = [...(found[i]!.kernelsCompiled ?? []), Number(compiled)];
      process.stderr.write(`  K=${K} ${build}, ${backend}, ${threads} thread(s): ${s.toFixed(2)} s per epoch\n`);
    });
  rows.push(...found);
}
const best = (r: Row) => Math.min(...r.epochSeconds);
const speedups = baselineDir
  ? Ks.map((K) => {
      const of = (build: string, threads: number) =>
        rows.find((r) => r.K === K && r.build === build && r.backend === "cpu" && r.threads === threads)!;
      const base = best(of("baseline", 1));
      return { K, oneThread: base / best(of("this build", 1)), allThreads: base / best(of("this build", cores)) };
    })
  : [];
console.log(`| K | build | backend | threads | seconds per epoch (best of 2) |${baselineDir ? " speed-up |" : ""}`);
console.log(`|---:|---|---|---:|---:|${baselineDir ? "---:|" : ""}`);
for (const r of rows) {
  const base = rows.find((b) => b.K === r.K && b.build === "baseline");
  console.log(
    `| ${r.K} | ${r.build} | ${r.backend} | ${r.threads} | ${best(r).toFixed(2)} |${base ? ` ${(best(base) / best(r)).toFixed(2)}× |` : ""}`,
  );
}
const file = `results/vae-epoch-bench${gpuMode ? `-${gpuMode}` : ""}${quick ? "-quick" : ""}.json`;
writeResult(file, {
  suite: "vae-epoch",
  quick,
  command: `npm run bench:vae-epoch -- ${process.argv.slice(2).join(" ")}`.trim(),
  environment: environment(),
  baseline: baselineDir ?? null,
  gpuMode: gpuMode ?? null,
  adapter,
  steps,
  rows,
  speedups,
});
console.log(`wrote ${file}`);
process.exit(0);
