// flowgrad beside TensorFlow.js (tfjs-core on its CPU and WASM backends) and a hand-written
// plain-JS loop, on the same planar K = 32 U1 training step and the same matrix products.
// tfjs computes in float32 only; flowgrad and the hand-written loop in float64 (their defaults).
// Run: npm run bench:peers   (--quick for a shorter run)
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs"; // the union package: tfjs-core plus its registered gradients
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { Adam, matmul, ones, Random, randn, type Tensor } from "../src/autograd/index.js";
import { FlowDistribution, PlanarChain, PlanarFlow, Sequential } from "../src/flows/index.js";
import { setCpuKernels } from "../src/kernels/index.js";
import { energy, freeEnergy } from "../src/models/index.js";
import { type Case, environment, markdownTable, type Row, runCases, writeResult } from "./harness.js";
import { HandWrittenPlanarU1 } from "./reference/planar-u1.js";

const quick = process.argv.includes("--quick");
const maxTime = quick ? 1 : 3;
const K = 32,
  N = 1000;
const init = new Float64Array(5 * K);
{
  const r = new Random(1);
  for (let i = 0; i < init.length; i++) init[i] = 0.1 * r.normal();
}

/** The same step in TensorFlow.js: planar layers with the paper's constraint, U1, Adam. */
function tfjsStep(): () => void {
  const params = Array.from({ length: K }, (_, k) => ({
    u: tf.variable(tf.tensor1d(Array.from(init.slice(5 * k, 5 * k + 2)))),
    w: tf.variable(tf.tensor1d(Array.from(init.slice(5 * k + 2, 5 * k + 4)))),
    b: tf.variable(tf.scalar(init[5 * k + 4]!)),
  }));
  const optimizer = tf.train.adam(1e-3);
  const halfSq = (x: tf.Tensor, c: number, s: number) => tf.mul(0.5, tf.square(tf.div(tf.sub(x, c), s)));
  const loss = (): tf.Scalar => {
    let z: tf.Tensor2D = tf.randomNormal([N, 2]);
    let total = tf.sub(tf.mul(-0.5, tf.sum(tf.square(z), 1)), Math.log(2 * Math.PI));
    for (const { u, w, b } of params) {
      const wu = tf.sum(tf.mul(w, u));
      const uHat = tf.add(u, tf.mul(tf.div(tf.sub(tf.sub(tf.softplus(wu), 1), wu), tf.sum(tf.square(w))), w));
      const h = tf.tanh(tf.add(tf.matMul(z, tf.reshape(w, [2, 1])), b)); // [N, 1]
      const wuHat = tf.sum(tf.mul(w, uHat));
      total = tf.sub(total, tf.reshape(tf.log(tf.abs(tf.add(1, tf.mul(tf.sub(1, tf.square(h)), wuHat)))), [N]));
      z = tf.add(z, tf.mul(h, uHat));
    }
    const [z1] = tf.split(z, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    const r = tf.sqrt(tf.sum(tf.square(z), 1));
    const u1 = tf.sub(
      halfSq(r, 2, 0.4),
      tf.reshape(tf.logSumExp(tf.concat([tf.neg(halfSq(z1, 2, 0.6)), tf.neg(halfSq(z1, -2, 0.6))], 1), 1), [N]),
    );
    return tf.mean(tf.add(total, u1)) as tf.Scalar;
  };
  return () => {
    const value = optimizer.minimize(loss, true);
    value?.dataSync();
    value?.dispose();
  };
}

// Each TensorFlow.js backend runs in a Node process of its own (`--tfjs cpu|wasm`), alone with
// its binary after a warm-up — as a user tuning it would — and reports its rows as JSON; flowgrad
// and the hand-written loop run here. Sharing one process made tfjs switch backends between cases.
const only = process.argv.includes("--tfjs") ? process.argv[process.argv.indexOf("--tfjs") + 1] : undefined;
const sizes = quick ? [64, 256] : [64, 256, 512];

if (only) {
  setWasmPaths(`${path.resolve("node_modules/@tensorflow/tfjs-backend-wasm/dist")}/`);
  const ok = await tf.setBackend(only).catch(() => false);
  await tf.ready();
  if (!ok || tf.getBackend() !== only) {
    console.log(JSON.stringify({ backend: only, rows: [] }));
    process.exit(0);
  }
  const cases: Case[] = [{ name: `planar K=32 U1 step: tfjs-${only} (float32)`, fn: tfjsStep() }];
  for (const n of sizes) {
    const a = tf.randomNormal([n, n]),
      b = tf.randomNormal([n, n]),
      dc = tf.onesLike(a);
    // Forward and both gradients: three products, as in a training step (tf.grads runs the forward too).
    const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D));
    cases.push({
      name: `matmul n=${n} forward+backward: tfjs-${only} (float32)`,
      fn: () => {
        const [da, db] = grads([a, b], dc);
        da!.dataSync();
        db!.dataSync();
        da!.dispose();
        db!.dispose();
      },
      flops: 3 * 2 * n ** 3,
    });
    // The same three products written out with transpose flags, as a user tuning tfjs would.
    cases.push({
      name: `matmul n=${n} forward+backward, by hand: tfjs-${only} (float32)`,
      fn: () => {
        const c = tf.matMul(a, b),
          da = tf.matMul(dc, b, false, true),
          db = tf.matMul(a, dc, true, false);
        c.dataSync();
        da.dataSync();
        db.dataSync();
        tf.dispose([c, da, db]);
      },
      flops: 3 * 2 * n ** 3,
    });
    cases.push({
      name: `matmul n=${n}: tfjs-${only} (float32)`,
      // The product is read (dataSync) and disposed, but not returned from tidy(): tidy walks what
      // its function returns looking for tensors, and a returned Float32Array of n² values cost it
      // ≈ 110 ms at n = 512 — 12× the product itself — in the runs before this was found.
      fn: () => {
        const c = tf.matMul(a, b);
        c.dataSync();
        c.dispose();
      },
      flops: 2 * n ** 3,
    });
  }
  for (const c of cases) for (let i = 0; i < 5; i++) c.fn!(); // warm-up: compiled kernels, allocated memory
  const rows = runCases(cases, maxTime);
  console.log(
    JSON.stringify({
      backend: only,
      rows,
      simd: await tf
        .env()
        .getAsync("WASM_HAS_SIMD_SUPPORT")
        .catch(() => null),
    }),
  );
  process.exit(0);
}

const cases: Case[] = [];
const hand = new HandWrittenPlanarU1(K, N, init);
const handRng = new Random(2);
cases.push({ name: "planar K=32 U1 step: hand-written plain JS (float64)", fn: () => hand.step(handRng, 1) });
// The K layers as one PlanarChain (what `flowgrad fit` trains), and as K PlanarFlow modules.
for (const form of ["fused", "fused, K separate layers"] as const) {
  const row = (j: number) =>
    Array.from({ length: K }, (_, k) => Array.from(init.slice(5 * k + j, 5 * k + j + (j === 4 ? 1 : 2))));
  const flow =
    form === "fused"
      ? new PlanarChain(2, K, { u: row(0).flat(), w: row(2).flat(), b: row(4).flat() })
      : new Sequential(
          Array.from({ length: K }, (_, k) => new PlanarFlow(2, { u: row(0)[k]!, w: row(2)[k]!, b: row(4)[k]![0]! })),
        );
  const q = new FlowDistribution(flow, { fixedBase: true });
  const opt = new Adam(q.parameters(), { lr: 1e-3 });
  const U = energy("U1"),
    rng = new Random(3);
  cases.push({
    name: `planar K=32 U1 step: flowgrad ${form} (float64)`,
    fn: () => {
      opt.zeroGrad();
      freeEnergy(q, U, N, 1, rng).backward();
      opt.step();
    },
  });
}
// flowgrad's products on its WebAssembly SIMD kernels, in both dtypes, on one thread and on every
// core (tfjs-wasm runs one thread here: its threaded build needs cross-origin isolation in Node too).
const cores = os.availableParallelism();
// Their tensors are made on first use, after the planar step has been timed: float32 arrays seen
// earlier make the shared loops polymorphic and the float64 planar step measurably slower.
for (const threads of [...new Set([1, cores])])
  for (const dtype of ["float64", "float32"] as const)
    for (const n of sizes) {
      let t: { a: Tensor; b: Tensor; ar: Tensor; br: Tensor; dc: Tensor } | null = null;
      const made = () =>
        (t ??= {
          a: randn([n, n], { random: 1, dtype }),
          b: randn([n, n], { random: 2, dtype }),
          ar: randn([n, n], { random: 1, dtype, requiresGrad: true }),
          br: randn([n, n], { random: 2, dtype, requiresGrad: true }),
          dc: ones([n, n], { dtype }),
        });
      const label = `flowgrad (${dtype}, ${threads} thread${threads > 1 ? "s" : ""})`;
      const pinned = (fn: () => void) => () => {
        setCpuKernels({ threads });
        fn();
      };
      cases.push({ name: `matmul n=${n}: ${label}`, fn: pinned(() => matmul(made().a, made().b)), flops: 2 * n ** 3 });
      cases.push({
        name: `matmul n=${n} forward+backward: ${label}`,
        fn: pinned(() => {
          const { ar, br, dc } = made();
          ar.grad = br.grad = null;
          matmul(ar, br).backward(dc);
        }),
        flops: 3 * 2 * n ** 3,
      });
    }
const results: Row[] = runCases(cases, maxTime);
const backends: string[] = [];
for (const backend of ["cpu", "wasm"]) {
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), "--tfjs", backend, ...(quick ? ["--quick"] : [])],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
  );
  const last = child.stdout.trim().split("\n").at(-1) ?? "";
  let report: { rows: Row[] } | null = null;
  try {
    report = JSON.parse(last) as { rows: Row[] };
  } catch {
    console.error(
      `tfjs ${backend}: its process reported nothing readable (exit ${child.status}); its rows are left out`,
    );
  }
  if (!report || report.rows.length === 0) {
    console.error(`tfjs ${backend} backend is not available; its rows are left out`);
    continue;
  }
  backends.push(backend);
  results.push(...report.rows);
}
const env = environment();
console.log(
  `\n## flowgrad beside TensorFlow.js ${tf.version_core} (${env.cpu}, ${env.cores} cores, Node ${env.node}; tfjs backends: ${backends.join(", ") || "none"}, each in a process of its own)\n`,
);
console.log(markdownTable(results));
const ms = (name: string) => results.find((r) => r.name === name)?.meanMs;
const handMs = ms("planar K=32 U1 step: hand-written plain JS (float64)")!;
const fusedMs = ms("planar K=32 U1 step: flowgrad fused (float64)")!;
const layersMs = ms("planar K=32 U1 step: flowgrad fused, K separate layers (float64)")!;
console.log(
  `\nplanar K=32 step: flowgrad fused = ${(fusedMs / handMs).toFixed(2)}× the hand-written loop (as K separate layers: ${(layersMs / handMs).toFixed(2)}×)`,
);
for (const b of backends) {
  const t = ms(`planar K=32 U1 step: tfjs-${b} (float32)`);
  if (t)
    console.log(
      `  tfjs-${b} = ${(t / handMs).toFixed(1)}× the hand-written loop; flowgrad fused is ${(t / fusedMs).toFixed(1)}× faster than tfjs-${b}`,
    );
}
// The targets (#18), as ratios from this one run: > 1 means flowgrad is faster.
const n = sizes.at(-1)!;
const tfWasm = (what: string) => ms(`matmul n=${n}${what}: tfjs-wasm (float32)`);
const ours = (what: string, threads: number) =>
  ms(`matmul n=${n}${what}: flowgrad (float32, ${threads} thread${threads > 1 ? "s" : ""})`);
const tfBest = Math.min(tfWasm(" forward+backward") ?? Infinity, tfWasm(" forward+backward, by hand") ?? Infinity);
const targets = backends.includes("wasm")
  ? {
      n,
      forwardFloat32OverTfjsWasm: { oneThread: tfWasm("")! / ours("", 1)!, allThreads: tfWasm("")! / ours("", cores)! },
      // Against tfjs's faster way: tf.grads, or the three products written out.
      forwardBackwardFloat32OverTfjsWasm: {
        oneThread: tfBest / ours(" forward+backward", 1)!,
        allThreads: tfBest / ours(" forward+backward", cores)!,
      },
      float64Gflops: {
        oneThread: results.find((r) => r.name === `matmul n=${n}: flowgrad (float64, 1 thread)`)?.gflops,
        allThreads: results.find((r) => r.name === `matmul n=${n}: flowgrad (float64, ${cores} threads)`)?.gflops,
      },
      planarStepOverHand: fusedMs / handMs,
      planarLayersStepOverHand: layersMs / handMs,
      tfjsWasmPlanarStepOverFlowgrad: ms("planar K=32 U1 step: tfjs-wasm (float32)")! / fusedMs,
    }
  : null;
if (targets) console.log(`\ntargets (speed ratios, > 1: flowgrad faster): ${JSON.stringify(targets, null, 1)}`);
writeResult(quick ? "results/peers-bench-quick.json" : "results/peers-bench.json", {
  suite: "peers",
  quick,
  environment: { ...env, tfjs: tf.version_core, tfjsBackends: backends, tfjsProcesses: "one per backend, warmed up" },
  threads: cores,
  rows: results,
  targets,
});
console.log(`written: results/peers-bench${quick ? "-quick" : ""}.json`);
