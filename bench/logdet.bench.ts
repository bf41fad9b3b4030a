// The headline: log|det ∂f/∂z| of planar and radial flows in O(D) against the general-Jacobian
// baseline in O(D³) (the full Jacobian by D reverse-mode passes, then LU). Prints tables, fitted
// log–log slopes and ratios, and writes results/logdet-bench.json and results/logdet.svg.
// Run: npm run bench:logdet   (--quick: D ≤ 256, K = 1, under a minute)
// On gpu.js: npm run bench:logdet -- --backend gpu --gpu-mode headlessgl|webgpu|webasm (float32;
// every path on the device where the mode keeps tensors there, each call ending in a read).
import { noGrad, Random, randn, type Tensor, tidy } from "../src/autograd/index.js";
import { type Flow, jacobian, logAbsDet, PlanarFlow, RadialFlow, Sequential } from "../src/flows/index.js";
import { backendInfo, type DeviceArray, type GpuMode, initBackend, loadedGpuBackend } from "../src/kernels/index.js";
import { environment, type Row, runCases, runCasesAsync, writeResult } from "./harness.js";
import { logdetFigure, slope } from "./plot.js";

const quick = process.argv.includes("--quick");
const argAfter = (flag: string) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const backendName = argAfter("--backend") ?? "cpu";
await initBackend(backendName, { gpuMode: argAfter("--gpu-mode") as GpuMode | undefined });
const info = backendInfo();
const onGpu = info.gpuMode !== null;
const label = info.gpuMode
  ? `gpu.js ${info.gpuMode} backend (${info.kernelClass}${info.adapter ? ` on ${info.adapter}` : ""}), float32`
  : "CPU backend, float64";
const suffix = `${info.gpuMode ? `-gpu-${info.gpuMode}` : ""}${quick ? "-quick" : ""}`;
const N = 64;
const maxTime = quick ? 0.2 : 1;
/** A path stops growing D once one call takes longer than this (seconds). */
const stopAfter = quick ? 1 : 10;
/** gpu.js indexes in float32, exact below 2²⁴ elements: larger Jacobians [N, D, D] would go to the CPU backend. */
const fitsOnGpu = (D: number) => !onGpu || N * D * D + 2 * N <= 1 << 24;
const allDims = quick ? [2, 4, 8, 16, 32, 64, 128, 256] : [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const dims = allDims.filter(fitsOnGpu);
const depths = quick ? [1] : [1, 8];
/** Before timing: the analytic and the brute-force log-dets agree to this (relative to 1 + |log-det|); float32 on gpu.js. */
const agreement = onGpu ? 1e-3 : 1e-8;
let worstDisagreement = 0;

type Path = "planar analytic" | "radial analytic" | "baseline total" | "baseline Jacobian" | "baseline LU";
const PATHS: Path[] = ["planar analytic", "radial analytic", "baseline total", "baseline Jacobian", "baseline LU"];

interface Point {
  path: Path;
  K: number;
  D: number;
  meanMs: number;
  rmePercent: number;
  samples: number;
}
const points: Point[] = [];
const stopped: Record<string, number | null> = {};

function makeFlow(kind: "planar" | "radial", D: number, K: number): Flow {
  const random = new Random(D * 31 + K);
  return new Sequential(
    Array.from({ length: K }, () =>
      kind === "planar" ? new PlanarFlow(D, { random }) : new RadialFlow(D, { random, alpha: 0.5, beta: 0.5 }),
    ),
  );
}

/**
 * Time fn: benchmark.js when a call is short; a single timed call when it is already long. On
 * gpu.js a call ends when its values are read (kernels may still be queued until then), runs in
 * tidy() so what the graph left on the device is freed, and is run once untimed first (compiling).
 */
async function measure(name: string, fn: () => Tensor): Promise<Row> {
  const call = async (): Promise<void> => {
    const t = tidy(fn);
    await t.read();
    t.storage.free();
  };
  if (onGpu) await call();
  const t0 = performance.now();
  if (onGpu) await call();
  else fn();
  const once = (performance.now() - t0) / 1000;
  if (once > maxTime) {
    process.stderr.write(`  ${name}: ${(once * 1000).toFixed(1)} ms (one call)\n`);
    return { name, meanMs: once * 1000, rmePercent: NaN, samples: 1, opsPerSec: 1 / once };
  }
  return onGpu ? (await runCasesAsync([{ name, asyncFn: call }], maxTime))[0]! : runCases([{ name, fn }], maxTime)[0]!;
}

for (const K of depths) {
  const active = new Set<Path>(PATHS);
  for (const D of dims) {
    const z = randn([N, D], { random: D });
    const planar = makeFlow("planar", D, K),
      radial = makeFlow("radial", D, K);
    const f = (x: Tensor) => planar.forward(x).z;
    // Before timing anything: the O(D) and O(D³) paths must agree.
    if (active.has("baseline total")) {
      const analytic = await noGrad(() => planar.forward(z).logAbsDet).read();
      const brute = await tidy(() => logAbsDet(jacobian(f, z))).read();
      for (let i = 0; i < N; i++) {
        const off = Math.abs(analytic[i]! - brute[i]!) / (1 + Math.abs(brute[i]!));
        worstDisagreement = Math.max(worstDisagreement, off);
        if (!(off <= agreement))
          throw new Error(
            `D=${D} K=${K}: analytic log-det ${analytic[i]} and baseline ${brute[i]} disagree at point ${i}`,
          );
      }
    }
    const J = active.has("baseline LU") ? tidy(() => jacobian(f, z)) : null;
    // On webgpu J's kernels are still queued: let them finish (J stays on the device) before timing anything else.
    if (J?.storage.onDevice) await (J.storage.kernelInput as DeviceArray).readAsync();
    const work: Record<Path, () => Tensor> = {
      "planar analytic": () => noGrad(() => planar.forward(z).logAbsDet),
      "radial analytic": () => noGrad(() => radial.forward(z).logAbsDet),
      "baseline total": () => logAbsDet(jacobian(f, z)),
      "baseline Jacobian": () => jacobian(f, z),
      "baseline LU": () => logAbsDet(J!),
    };
    for (const path of PATHS) {
      if (!active.has(path)) continue;
      const row = await measure(`${path} K=${K} D=${D}`, work[path]);
      points.push({ path, K, D, meanMs: row.meanMs, rmePercent: row.rmePercent, samples: row.samples });
      if (row.meanMs / 1000 > stopAfter) {
        active.delete(path);
        stopped[`${path} K=${K}`] = D;
      }
    }
    J?.storage.free();
  }
}

// Tables, slopes over the large-D range, ratios.
const env = environment();
const lines: string[] = [];
lines.push(
  `## log|det J|: O(D) flows vs the O(D³) general-Jacobian baseline (N = ${N} points; ${env.cpu}, ${env.cores} cores, Node ${env.node}, ${label})\n`,
);
lines.push(
  `Analytic and baseline log-dets agreed to ${worstDisagreement.toExponential(1)} (relative to 1 + |log-det|; checked before timing, bound ${agreement}).`,
);
if (dims.length < allDims.length)
  lines.push(
    `D ≤ ${dims.at(-1)} on gpu.js: a larger batch of Jacobians [${N}, D, D] exceeds the 2²⁴ elements gpu.js indexes exactly.`,
  );
const launches = loadedGpuBackend()?.kernelLaunchesByKind();
if (onGpu && launches)
  lines.push(
    `LU on the device: ${launches["lu-start"] ?? 0} logAbsDet calls in this run, ${(launches["lu-start"] ?? 0) + (launches["lu-step"] ?? 0) + (launches["lu-last"] ?? 0)} kernel launches (D + 1 per call).`,
  );
const slopes: Record<string, number> = {};
for (const K of depths) {
  lines.push(`\n### K = ${K} layer${K > 1 ? "s" : ""} (mean time per batch of ${N} points)\n`);
  lines.push(`| D | ${PATHS.join(" | ")} |`);
  lines.push(`|---:|${PATHS.map(() => "---:").join("|")}|`);
  for (const D of dims) {
    const cells = PATHS.map((p) => {
      const pt = points.find((q) => q.path === p && q.K === K && q.D === D);
      return pt ? fmt(pt.meanMs) : "—";
    });
    lines.push(`| ${D} | ${cells.join(" | ")} |`);
  }
  const large = (p: Path) => points.filter((q) => q.path === p && q.K === K && q.D >= 64);
  lines.push("");
  for (const p of PATHS) {
    const pts = large(p);
    if (pts.length >= 2) {
      slopes[`${p} K=${K}`] = slope(
        pts.map((q) => q.D),
        pts.map((q) => q.meanMs),
      );
      lines.push(`- slope of log time vs log D for D ≥ 64, ${p}: **${slopes[`${p} K=${K}`]!.toFixed(2)}**`);
    }
  }
  for (const D of [128, 512]) {
    const base = points.find((q) => q.path === "baseline total" && q.K === K && q.D === D);
    const ana = points.find((q) => q.path === "planar analytic" && q.K === K && q.D === D);
    if (base && ana)
      lines.push(`- D = ${D}: baseline / planar analytic = **${Math.round(base.meanMs / ana.meanMs)}×**`);
  }
  for (const p of PATHS)
    if (stopped[`${p} K=${K}`])
      lines.push(`- ${p} stopped after D = ${stopped[`${p} K=${K}`]} (one call took more than ${stopAfter} s)`);
}
console.log(lines.join("\n"));

const svg = logdetFigure(N, points, depths[0]!);
const svgFile = `results/logdet${suffix}.svg`;
writeResult(`results/logdet-bench${suffix}.json`, {
  suite: "logdet",
  quick,
  N,
  environment: { ...env, backend: info },
  agreement: { bound: agreement, worst: worstDisagreement },
  points,
  slopes,
  stoppedAfterD: stopped,
});
writeResult(svgFile, svg);
console.log(`\nwritten: results/logdet-bench${suffix}.json, ${svgFile}`);
process.exit(0); // a gpu.js context may keep the event loop alive

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}
