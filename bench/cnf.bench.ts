// The O(D) vs O(D²) story carried to continuous time: one CNF training step (RK4, forward with
// the log-det, backward through the solve) against the dimension D, with the exact trace (D
// vector-Jacobian products per evaluation of the field) and Hutchinson's estimator (one). Before
// timing, at every D: Hutchinson's log-det averaged over many probes agrees with the exact one.
// Run: npm run bench:cnf   (add --quick for a shorter run; -- --memory 2000 for the memory of a long fit)
import v8 from "node:v8";
import vm from "node:vm";
import { Adam, noGrad, Random, randn } from "../src/autograd/index.js";
import { CNF } from "../src/flows/index.js";
import { fittedEnergy, freeEnergy, makeFlow2D } from "../src/models/index.js";
import { type Case, environment, markdownTable, runCases, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
// --memory N: instead of the timings, N training steps of a CNF on U1 (D = 2), the heap after a
// full collection every N/10 steps: is it flat over a long fit?
const memoryAt = process.argv.indexOf("--memory");
const dims = quick ? [2, 8, 32] : [2, 4, 8, 16, 32, 64, 128, 256];
const N = 64,
  hidden = 64,
  odeSteps = 4,
  maxSecondsPerCall = quick ? 2 : 10;

function model(d: number, trace: "exact" | "hutchinson") {
  const cnf = new CNF(d, { hidden: [hidden], steps: odeSteps, trace, random: 7 });
  const opt = new Adam(cnf.parameters(), { lr: 1e-3 });
  const z = randn([N, d], { random: 3 });
  return {
    cnf,
    step: () => {
      opt.zeroGrad();
      const { z: out, logAbsDet } = cnf.forward(z);
      out.square().sum(1).mul(0.5).sub(logAbsDet).mean().backward(); // −E[ln N(f(z)) + log|det|] up to a constant
      opt.step();
    },
    z,
  };
}

if (memoryAt >= 0) {
  const steps = Number(process.argv[memoryAt + 1]);
  if (!Number.isInteger(steps) || steps < 10) throw new Error("--memory needs a number of steps (at least 10)");
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const q = makeFlow2D("cnf", 16, new Random(0));
  const opt = new Adam(q.parameters(), { lr: 1e-3 });
  const U = fittedEnergy("U1"),
    random = new Random(1);
  const heap: Array<{ step: number; heapMiB: number; rssMiB: number }> = [];
  const started = performance.now();
  for (let t = 0; t <= steps; t++) {
    if (t % (steps / 10) === 0) {
      gc();
      heap.push({
        step: t,
        heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
        rssMiB: process.memoryUsage().rss / 2 ** 20,
      });
      console.error(`  step ${t}: heap ${heap.at(-1)!.heapMiB.toFixed(1)} MiB`);
    }
    opt.zeroGrad();
    freeEnergy(q, U, 200, 1, random).backward();
    opt.step();
  }
  const env = environment(),
    growth = heap.at(-1)!.heapMiB - heap[1]!.heapMiB;
  console.log(
    `- ${steps.toLocaleString("en")} CNF training steps on U1 (MLP 3-16-16-2, RK4 10 steps, exact trace, batch 200): heap after a full GC ${heap.map((h) => h.heapMiB.toFixed(1)).join(", ")} MiB at every ${steps / 10} steps; ${growth >= 0 ? "+" : ""}${growth.toFixed(2)} MiB from step ${steps / 10} to the end (${((performance.now() - started) / 1000).toFixed(0)} s)`,
  );
  writeResult("results/cnf-memory.json", { suite: "cnf-memory", environment: env, steps, heap, growthMiB: growth });
  console.log("written: results/cnf-memory.json");
  process.exit(0);
}

// Agreement first: the mean of Hutchinson's log-det over 100 probe draws (per point) is within 5
// standard errors of the exact one, for every point, at every D.
const checks: Array<{ d: number; worstZ: number }> = [];
for (const d of dims.filter((x) => x <= 64)) {
  const exact = model(d, "exact"),
    hutch = model(d, "hutchinson");
  const reference = noGrad(() => exact.cnf.forward(exact.z).logAbsDet.data);
  const draws = Array.from({ length: 100 }, () => noGrad(() => hutch.cnf.forward(hutch.z).logAbsDet.data));
  let worst = 0;
  for (let p = 0; p < N; p++) {
    const values = draws.map((v) => v[p]!),
      mean = values.reduce((a, b) => a + b, 0) / values.length;
    const se = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1) / values.length);
    worst = Math.max(worst, Math.abs(mean - reference[p]!) / (se + 1e-12));
  }
  if (!(worst < 5))
    throw new Error(
      `D = ${d}: Hutchinson's mean log-det is ${worst.toFixed(1)} standard errors from the exact trace's`,
    );
  checks.push({ d, worstZ: worst });
  console.error(
    `check: D = ${d}: Hutchinson's log-det (mean of 100 probes) within ${worst.toFixed(2)} s.e. of the exact one at every point`,
  );
}

const cases: Case[] = [];
const stopped = new Set<string>();
for (const d of dims) {
  for (const trace of ["exact", "hutchinson"] as const) {
    if (stopped.has(trace)) continue;
    const m = model(d, trace);
    const started = performance.now();
    m.step();
    const seconds = (performance.now() - started) / 1000;
    cases.push({ name: `D=${d} ${trace}`, fn: m.step, maxTime: quick ? 0.5 : 2 });
    if (seconds > maxSecondsPerCall) stopped.add(trace); // the next D would take longer still
  }
}
const rows = runCases(cases, quick ? 0.5 : 2);
const ms = (name: string) => rows.find((r) => r.name === name)?.meanMs;

/** Least-squares slope of log time against log D over the dimensions ≥ 16 that were timed. */
function slope(trace: string): number | null {
  const points = dims
    .filter((d) => d >= 16)
    .flatMap((d) => {
      const t = ms(`D=${d} ${trace}`);
      return t ? [[Math.log(d), Math.log(t)] as const] : [];
    });
  if (points.length < 2) return null;
  const mx = points.reduce((s, p) => s + p[0], 0) / points.length,
    my = points.reduce((s, p) => s + p[1], 0) / points.length;
  return points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0) / points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
}

const env = environment();
console.log(
  `\n## CNF training step against D (${env.cpu}, ${env.cores} cores, Node ${env.node}, CPU backend, float64; N = ${N}, MLP hidden ${hidden}, RK4 ${odeSteps} steps)\n`,
);
console.log(markdownTable(rows));
const slopes = { exact: slope("exact"), hutchinson: slope("hutchinson") };
console.log(
  `\n- slope of log time vs log D for D ≥ 16: exact trace **${slopes.exact?.toFixed(2) ?? "–"}**, Hutchinson **${slopes.hutchinson?.toFixed(2) ?? "–"}**`,
);
for (const d of dims) {
  const e = ms(`D=${d} exact`),
    h = ms(`D=${d} hutchinson`);
  if (e && h) console.log(`- D = ${d}: exact / Hutchinson = ${(e / h).toFixed(1)}×`);
}
for (const trace of stopped) console.log(`- ${trace} stopped after one call took more than ${maxSecondsPerCall} s`);
const file = quick ? "results/cnf-bench-quick.json" : "results/cnf-bench.json";
writeResult(file, {
  suite: "cnf",
  quick,
  environment: env,
  settings: { N, hidden, odeSteps },
  checks,
  rows,
  slopes,
  stopped: [...stopped],
});
console.log(`written: ${file}`);
