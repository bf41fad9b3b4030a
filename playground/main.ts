// The playground: fit the paper's 2-D densities live, and time the O(D) log-det against the O(D³)
// baseline in the reader's browser. Everything comes from flowgrad's own modules, bundled by Vite.
import * as autograd from "../src/autograd/index.js";
import { Adam, noGrad, Random, randn, tensor, tidy } from "../src/autograd/index.js";
import { jacobian, logAbsDet, PlanarFlow } from "../src/flows/index.js";
import * as kernels from "../src/kernels/index.js";
import { backendInfo, initBackend, startCpuThreads } from "../src/kernels/index.js";
import {
  annealedBeta,
  energy,
  estimateKL,
  type Flow2DKind,
  fittedEnergy,
  freeEnergy,
  gridPoints,
  logPartition,
  makeFlow2D,
  type TargetName,
  viridis,
} from "../src/models/index.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
// For the browser console: flowgrad.autograd and flowgrad.kernels, the modules the page runs on.
Object.assign(globalThis, { flowgrad: { autograd, kernels } });
const HALF = 4,
  PANEL = 240,
  BATCH = 200,
  ANNEAL_STEPS = 1000,
  KL_EVERY = 250;

interface Run {
  target: TargetName;
  q: ReturnType<typeof makeFlow2D>;
  opt: Adam;
  U: ReturnType<typeof fittedEnergy>;
  random: Random;
  logZ: number;
  step: number;
  losses: number[];
  kls: Array<[number, number]>;
}
let run: Run | null = null;
let running = false;
let rateStart = { time: 0, step: 0 };
const logZCache = new Map<string, number>();

function settings() {
  const K = Math.round(Number(($("K") as HTMLInputElement).value));
  const lr = Number(($("lr") as HTMLInputElement).value);
  if (!(K >= 1 && K <= 64)) throw new Error("K must be a whole number from 1 to 64");
  if (!(lr > 0 && lr <= 0.1)) throw new Error("the learning rate must be in (0, 0.1]");
  return {
    target: ($("target") as HTMLSelectElement).value as TargetName,
    flow: ($("flow") as HTMLSelectElement).value as Flow2DKind,
    K,
    lr,
  };
}

function notice(text: string | null): void {
  const el = $("notice");
  el.hidden = !text;
  el.textContent = text ?? "";
}

function newRun(): Run {
  const s = settings();
  const random = new Random(0);
  // The CNF: RK4 with 4 steps and Hutchinson's trace, light enough for a live page.
  const q = makeFlow2D(s.flow, s.K, random, "fused", { steps: 4, trace: "hutchinson" });
  if (!logZCache.has(s.target)) logZCache.set(s.target, logPartition(s.target, 400));
  return {
    target: s.target,
    q,
    opt: new Adam(q.parameters(), { lr: s.lr }),
    U: fittedEnergy(s.target),
    random,
    logZ: logZCache.get(s.target)!,
    step: 0,
    losses: [],
    kls: [],
  };
}

function drawTarget(target: TargetName): void {
  const ctx = ($("target-canvas") as HTMLCanvasElement).getContext("2d")!;
  const size = 120;
  const logp = noGrad(
    () =>
      energy(target)(tensor(gridPoints(size, HALF), { shape: [size * size, 2] }))
        .neg()
        .toHost().data,
  );
  let max = -Infinity;
  for (const v of logp) max = Math.max(max, v);
  const img = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const [r, g, b] = viridis(Math.exp(logp[i]! - max));
    img.data.set([r, g, b, 255], 4 * i);
  }
  const off = new OffscreenCanvas(size, size);
  off.getContext("2d")!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, PANEL, PANEL);
}

function drawSamples(r: Run): void {
  const ctx = ($("samples-canvas") as HTMLCanvasElement).getContext("2d")!;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, PANEL, PANEL);
  ctx.drawImage($("target-canvas") as HTMLCanvasElement, 0, 0);
  ctx.fillStyle = "rgba(255, 255, 255, 0.65)";
  ctx.fillRect(0, 0, PANEL, PANEL);
  const z = noGrad(() => r.q.sample(1500, new Random(r.step)).z.toHost().data);
  ctx.fillStyle = "rgba(200, 30, 30, 0.55)";
  for (let i = 0; i < z.length; i += 2) {
    const x = ((z[i]! + HALF) / (2 * HALF)) * PANEL,
      y = ((HALF - z[i + 1]!) / (2 * HALF)) * PANEL;
    ctx.fillRect(x - 1, y - 1, 2, 2);
  }
  // Before Start these are q's samples as initialised, not yet fitted: say which step they are from.
  ctx.fillStyle = "#222";
  ctx.font = "11px sans-serif";
  ctx.fillText(r.step === 0 ? "before training (step 0)" : `step ${r.step}`, 6, 14);
}

function drawCurves(r: Run): void {
  const ctx = ($("loss-canvas") as HTMLCanvasElement).getContext("2d")!;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, PANEL, PANEL);
  const losses = r.losses,
    n = losses.length;
  // Axes: nats up the left, training steps along the bottom.
  const L = 38,
    B = 28,
    T = 8,
    R = 6;
  ctx.fillStyle = "#333";
  ctx.font = "10px sans-serif";
  ctx.fillText("training step", PANEL / 2 - 28, PANEL - 4);
  ctx.save();
  ctx.translate(10, PANEL / 2 + 12);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText("nats", 0, 0);
  ctx.restore();
  if (n < 2) return;
  const lo = Math.min(...losses.slice(-2000), -r.logZ),
    hi = Math.max(...losses.slice(-2000), -r.logZ + 2);
  const px = (i: number) => L + (i / (n - 1)) * (PANEL - L - R),
    py = (v: number) => PANEL - B - ((v - lo) / (hi - lo || 1)) * (PANEL - B - T);
  ctx.strokeStyle = "#bbb";
  ctx.beginPath();
  ctx.moveTo(L, T);
  ctx.lineTo(L, PANEL - B);
  ctx.lineTo(PANEL - R, PANEL - B);
  ctx.stroke();
  ctx.fillStyle = "#333";
  ctx.textAlign = "right";
  ctx.fillText(hi.toFixed(1), L - 3, py(hi) + 8);
  ctx.fillText(lo.toFixed(1), L - 3, py(lo));
  ctx.textAlign = "left";
  ctx.fillText("0", L, PANEL - B + 11);
  ctx.textAlign = "right";
  ctx.fillText(String(n - 1), PANEL - R, PANEL - B + 11);
  ctx.textAlign = "left";
  ctx.strokeStyle = "#999";
  ctx.beginPath();
  losses.forEach((v, i) => (i === 0 ? ctx.moveTo(px(i), py(v)) : ctx.lineTo(px(i), py(v))));
  ctx.stroke();
  // −ln Z is the floor F can reach: where KL = 0.
  ctx.strokeStyle = "#2a2";
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(L, py(-r.logZ));
  ctx.lineTo(PANEL - R, py(-r.logZ));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = "#1f77b4";
  for (const [step, kl] of r.kls) ctx.fillRect(px(step) - 2, py(kl - r.logZ) - 2, 4, 4);
}

function frame(): void {
  if (!running || !run) return;
  const r = run;
  const started = performance.now();
  try {
    while (performance.now() - started < 25) {
      // tidy: on the GPU backend the step's tensors are textures, freed when the step ends.
      const value = tidy(() => {
        r.opt.zeroGrad();
        const loss = freeEnergy(r.q, r.U, BATCH, annealedBeta(r.step, ANNEAL_STEPS), r.random);
        loss.backward();
        return loss.item();
      });
      r.opt.step();
      r.losses.push(value);
      r.step++;
      if (r.step % KL_EVERY === 0) {
        const kl = estimateKL(r.q, r.target, r.logZ, 5000, r.step).kl;
        r.kls.push([r.losses.length - 1, kl]);
        $("kl").textContent = `${kl.toFixed(3)} nats`;
      }
    }
  } catch (error) {
    stop();
    notice(`training stopped: ${(error as Error).message}`);
    return;
  }
  $("step").textContent = String(r.step);
  const now = performance.now();
  if (now - rateStart.time > 1000) {
    $("rate").textContent = ((1000 * (r.step - rateStart.step)) / (now - rateStart.time)).toFixed(0);
    rateStart = { time: now, step: r.step };
  }
  drawSamples(r);
  drawCurves(r);
  requestAnimationFrame(frame);
}

function start(): void {
  try {
    if (!run) run = newRun();
  } catch (error) {
    notice((error as Error).message);
    return;
  }
  notice(null);
  running = true;
  rateStart = { time: performance.now(), step: run.step };
  ($("start") as HTMLButtonElement).disabled = true;
  ($("pause") as HTMLButtonElement).disabled = false;
  requestAnimationFrame(frame);
}

function stop(): void {
  running = false;
  ($("start") as HTMLButtonElement).disabled = false;
  ($("pause") as HTMLButtonElement).disabled = true;
}

function reset(): void {
  stop();
  run = null;
  $("step").textContent = "0";
  $("kl").textContent = "–";
  $("rate").textContent = "–";
  drawTarget(settings().target);
  // q as initialised, so the panel shows where training starts (not a copy of the target).
  try {
    run = newRun();
    drawSamples(run);
    drawCurves(run);
  } catch (error) {
    notice((error as Error).message);
  }
}

/** The CPU backend's products: WebAssembly SIMD or the TypeScript loops, on how many threads (a cross-origin isolated page gets workers). */
async function cpuDescription(): Promise<string> {
  const cpu = await startCpuThreads();
  const kind = cpu.matmul === "wasm-simd" ? "WebAssembly SIMD" : "TypeScript loops";
  return `cpu: ${kind}, ${cpu.threads} thread${cpu.threads > 1 ? "s" : ""}${cpu.threads > 1 ? "" : crossOriginIsolated ? "" : " (page not cross-origin isolated)"}`;
}

async function chooseBackend(): Promise<void> {
  const name = ($("backend") as HTMLSelectElement).value;
  try {
    await initBackend(name, { quiet: true });
    const info = backendInfo();
    $("backend-info").textContent = info.gpuMode
      ? `${info.backend}: gpu.js ${info.gpuMode} (${info.kernelClass})`
      : await cpuDescription();
    notice(info.notices.length ? `GPU: ${info.notices.join("; ")}. Running gpu.js in ${info.gpuMode} mode.` : null);
  } catch (error) {
    await initBackend("cpu");
    ($("backend") as HTMLSelectElement).value = "cpu";
    $("backend-info").textContent = await cpuDescription();
    notice(`The GPU backend could not start (${(error as Error).message}); running on the CPU backend.`);
  }
}

// The log-det panel: analytic planar log-det vs the general Jacobian + LU, for growing D.
async function measure(): Promise<void> {
  const button = $("measure") as HTMLButtonElement;
  button.disabled = true;
  const points: Array<{ D: number; analytic: number; baseline: number }> = [];
  const time = (fn: () => void, budgetMs: number): number => {
    let calls = 0;
    const t0 = performance.now();
    do {
      fn();
      calls++;
    } while (performance.now() - t0 < budgetMs);
    return (performance.now() - t0) / calls;
  };
  for (let D = 2; D <= 512; D *= 2) {
    const layer = new PlanarFlow(D, { random: D });
    const z = randn([16, D], { random: 1 });
    const analytic = time(() => noGrad(() => layer.forward(z).logAbsDet), 50);
    const baseline = time(() => logAbsDet(jacobian((x) => layer.forward(x).z, z)), 20);
    points.push({ D, analytic, baseline });
    drawLogDet(points);
    $("logdet-result").textContent =
      `D = ${D}: formula ${analytic.toFixed(3)} ms, Jacobian + LU ${baseline.toFixed(1)} ms (${Math.round(baseline / analytic)}× slower)`;
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the page paint
    if (baseline > 1000) break;
  }
  button.disabled = false;
}

function drawLogDet(points: Array<{ D: number; analytic: number; baseline: number }>): void {
  const canvas = $("logdet-canvas") as HTMLCanvasElement,
    ctx = canvas.getContext("2d")!;
  const W = canvas.width,
    H = canvas.height,
    L = 50,
    B = 30;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  const ys = points.flatMap((p) => [p.analytic, p.baseline]);
  const y0 = Math.floor(Math.log10(Math.min(...ys))),
    y1 = Math.ceil(Math.log10(Math.max(...ys)));
  const px = (D: number) => L + ((Math.log2(D) - 1) / 8) * (W - L - 40),
    py = (t: number) => H - B - ((Math.log10(t) - y0) / (y1 - y0 || 1)) * (H - B - 10);
  ctx.fillStyle = "#333";
  ctx.font = "11px sans-serif";
  for (let e = y0; e <= y1; e++)
    ctx.fillText(`${10 ** e >= 1 ? 10 ** e : (10 ** e).toPrecision(1)} ms`, 2, py(10 ** e) + 4);
  for (let D = 2; D <= 512; D *= 4) ctx.fillText(`D=${D}`, px(D) - 10, H - 10);
  for (const [key, color] of [
    ["analytic", "#1f77b4"],
    ["baseline", "#d62728"],
  ] as const) {
    ctx.strokeStyle = color;
    ctx.beginPath();
    points.forEach((p, i) => (i === 0 ? ctx.moveTo(px(p.D), py(p[key])) : ctx.lineTo(px(p.D), py(p[key]))));
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.fillText(
      key === "analytic" ? "planar formula, O(D)" : "Jacobian + LU, O(D³)",
      W - 150,
      key === "analytic" ? 20 : 36,
    );
  }
}

$("start").addEventListener("click", start);
$("pause").addEventListener("click", stop);
$("reset").addEventListener("click", reset);
for (const id of ["target", "flow", "K", "lr"]) $(id).addEventListener("change", reset);
$("backend").addEventListener("change", () => void chooseBackend());
$("measure").addEventListener("click", () => void measure());
reset();
void cpuDescription().then((text) => {
  if (backendInfo().backend === "cpu") $("backend-info").textContent = text;
});
