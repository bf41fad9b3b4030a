// One epoch of `flowgrad vae`'s training (the paper's 784-400-40 model, batch 100, the 80 steps
// of its 8,000 training digits; no validation or checkpoint), timed for this build on one thread
// and on every core, and, with --baseline DIR (scripts/build-at.sh REV), for an older build,
// alternating, so the speed-up is measured side by side. Each timing runs in a fresh process of
// its own (after 5 warm-up steps): sharing one, the older build's garbage slowed the newer one.
// Run: npm run bench:vae-epoch -- --baseline .tmp/build-REV/dist   (--quick: 20 steps, K = 0 and 10)

import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as here from "../src/index.js";
import { setCpuKernels } from "../src/kernels/index.js";
import { loadMnist } from "../src/node/mnist.js";
import { environment, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const at = process.argv.indexOf("--baseline");
const baselineDir = at >= 0 ? process.argv[at + 1] : undefined;
if (at >= 0 && !baselineDir)
  throw new Error("--baseline needs the dist/ folder of an older build (scripts/build-at.sh REV)");
type Lib = Pick<typeof here, "FlowVAE" | "Adam" | "Random" | "Tensor">;

const steps = quick ? 20 : 80;
const Ks = quick ? [0, 10] : [0, 10, 40];
const cores = os.availableParallelism();

/** Seconds for `steps` training steps of a fresh model built with `lib`, scaled to an epoch's 80. */
function epochSeconds(lib: Lib, K: number): number {
  const data = loadMnist();
  const model = new lib.FlowVAE({ K, hidden: 400, latent: 40, seed: 1 });
  const opt = new lib.Adam(model.parameters(), { lr: 1e-3 });
  const random = new lib.Random(2);
  const batchAt = (s: number) =>
    new lib.Tensor(data.train.images.slice(s * 100 * 784, (s + 1) * 100 * 784), [100, 784]);
  const step = (s: number) => {
    opt.zeroGrad();
    model.freeEnergy(batchAt(s % 80), random).backward();
    opt.step();
  };
  for (let s = 0; s < 5; s++) step(s); // warm-up: compiled code, WebAssembly, worker threads
  const started = performance.now();
  for (let s = 0; s < steps; s++) step(s);
  return ((performance.now() - started) / 1000) * (80 / steps);
}

// A child: --child this|baseline --K k --threads t; prints its seconds as its last line.
const childAt = process.argv.indexOf("--child");
if (childAt >= 0) {
  const which = process.argv[childAt + 1];
  const K = Number(process.argv[process.argv.indexOf("--K") + 1]);
  setCpuKernels({ threads: Number(process.argv[process.argv.indexOf("--threads") + 1]) });
  if (which === "baseline" && !baselineDir) throw new Error("--child baseline needs --baseline DIR");
  // Only the child that times the older build loads it.
  const lib =
    which === "baseline" && baselineDir
      ? ((await import(pathToFileURL(path.resolve(baselineDir, "src/index.js")).href)) as Lib)
      : here;
  console.log(epochSeconds(lib, K));
  process.exit(0);
}

interface Row {
  K: number;
  build: string;
  threads: number;
  epochSeconds: number[];
}
const rows: Row[] = [];
for (const K of Ks) {
  const ways: Array<[string, number]> = [
    ["this build", 1],
    ["this build", cores],
    ...(baselineDir ? [["baseline", 1] as [string, number]] : []),
  ];
  const found = ways.map(([build, threads]) => ({ K, build, threads, epochSeconds: [] as number[] }));
  for (let round = 0; round < 2; round++)
    ways.forEach(([build, threads], i) => {
      const args = [
        fileURLToPath(import.meta.url),
        "--child",
        build === "baseline" ? "baseline" : "this",
        "--K",
        `${K}`,
      ];
      args.push(
        "--threads",
        `${threads}`,
        ...(baselineDir ? ["--baseline", baselineDir] : []),
        ...(quick ? ["--quick"] : []),
      );
      const child = spawnSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      const s = Number(child.stdout.trim().split("\n").at(-1));
      if (child.status !== 0 || !Number.isFinite(s))
        throw new Error(`bench:vae-epoch: the ${build} child failed (exit ${child.status})`);
      found[i]!.epochSeconds.push(s);
      process.stderr.write(`  K=${K} ${build}, ${threads} thread(s): ${s.toFixed(2)} s per epoch\n`);
    });
  rows.push(...found);
}
const best = (r: Row) => Math.min(...r.epochSeconds);
const speedups = baselineDir
  ? Ks.map((K) => {
      const of = (build: string, threads: number) =>
        rows.find((r) => r.K === K && r.build === build && r.threads === threads)!;
      const base = best(of("baseline", 1));
      return { K, oneThread: base / best(of("this build", 1)), allThreads: base / best(of("this build", cores)) };
    })
  : [];
console.log(`| K | build | threads | seconds per epoch (best of 2) |${baselineDir ? " speed-up |" : ""}`);
console.log(`|---:|---|---:|---:|${baselineDir ? "---:|" : ""}`);
for (const r of rows) {
  const base = rows.find((b) => b.K === r.K && b.build === "baseline");
  console.log(
    `| ${r.K} | ${r.build} | ${r.threads} | ${best(r).toFixed(2)} |${base ? ` ${(best(base) / best(r)).toFixed(2)}× |` : ""}`,
  );
}
const file = quick ? "results/vae-epoch-bench-quick.json" : "results/vae-epoch-bench.json";
writeResult(file, {
  suite: "vae-epoch",
  quick,
  command: `npm run bench:vae-epoch -- ${process.argv.slice(2).join(" ")}`.trim(),
  environment: environment(),
  baseline: baselineDir ?? null,
  steps,
  rows,
  speedups,
});
console.log(`wrote ${file}`);
process.exit(0);
