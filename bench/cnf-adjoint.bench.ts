// Backpropagation through the solver's steps against the adjoint method, for one CNF training
// step on the 2-D fits' model (MLP 3-16-16-2, exact trace, 200 points) as RK4's steps grow: the
// memory the recorded forward holds until its backward pass (the bytes of every tensor an op in its
// graph made: what backward keeps alive; counted, since the heap after a collection moves by more
// than it, runs to runs), and the time of a whole step, forward and backward. Before measuring, at every step count, the two gradients agree to
// the solver's accuracy. Run: npm run bench:cnf-adjoint (add --quick for fewer step counts).
import { randn, recordedOps, type Tensor } from "../src/autograd/index.js";
import { CNF } from "../src/flows/index.js";
import { environment, formatBytes, writeResult } from "./harness.js";

const quick = process.argv.includes("--quick");
const stepCounts = quick ? [4, 16, 64] : [4, 16, 64, 256];
const N = 200,
  reps = quick ? 3 : 5;
/** Bytes of the tensors made by the ops reachable from `outputs` (each tensor once): the graph's memory. */
function graphBytes(outputs: Tensor[]): number {
  const tensors = new Set(recordedOps(outputs).flatMap((op) => op.outputs));
  let bytes = 0;
  for (const t of tensors) bytes += t.size * (t.dtype === "float64" ? 8 : 4);
  return bytes;
}

const z = randn([N, 2], { random: 3 });

function model(steps: number, gradient: "backprop" | "adjoint") {
  return new CNF(2, { hidden: [16, 16], steps, gradient, random: 7 });
}
/** The training step's loss: −E[ln N(f(z)) + log|det|] up to a constant. */
const lossOf = (out: { z: Tensor; logAbsDet: Tensor }) => out.z.square().sum(1).mul(0.5).sub(out.logAbsDet).mean();

/** The parameters' gradient after one step, flattened. */
function gradientOf(cnf: CNF): number[] {
  for (const p of cnf.parameters()) p.zeroGrad();
  lossOf(cnf.forward(z)).backward();
  return cnf.parameters().flatMap((p) => Array.from(p.grad!.data));
}

const rows: Array<{
  steps: number;
  gradient: string;
  heldBytes: number;
  medianMs: number;
  evaluations: number;
  gradientGap: number;
}> = [];
for (const steps of stepCounts) {
  const gap = (() => {
    const a = gradientOf(model(steps, "adjoint")),
      b = gradientOf(model(steps, "backprop"));
    return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  })();
  if (!(gap < 1e-3)) throw new Error(`RK4 ${steps} steps: the adjoint's gradient is ${gap} from backpropagation's`);
  for (const gradient of ["backprop", "adjoint"] as const) {
    const cnf = model(steps, gradient);
    gradientOf(cnf); // warm up
    const out = cnf.forward(z);
    const held = graphBytes([out.z, out.logAbsDet]);
    lossOf(out).backward();
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const started = performance.now();
      gradientOf(cnf);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const evaluations = cnf.lastStats!.evaluations + (cnf.lastBackwardStats?.evaluations ?? 0);
    rows.push({
      steps,
      gradient,
      heldBytes: held,
      medianMs: times[Math.floor(reps / 2)]!,
      evaluations,
      gradientGap: gap,
    });
    console.error(
      `RK4 ${steps} steps, ${gradient}: ${formatBytes(held)} held by the forward's graph, ${times[Math.floor(reps / 2)]!.toFixed(0)} ms a step`,
    );
  }
}

const env = environment();
console.log(
  `\n## CNF training step: backpropagation through RK4's steps against the adjoint (${env.cpu}, ${env.cores} cores, Node ${env.node}, float64; N = ${N}, MLP 3-16-16-2, exact trace, median of ${reps})\n`,
);
console.log("| RK4 steps | gradient | tensors the forward's graph holds | training step | field evaluations |");
console.log("|---:|---|---:|---:|---:|");
for (const r of rows)
  console.log(
    `| ${r.steps} | ${r.gradient} | ${formatBytes(r.heldBytes)} | ${r.medianMs.toFixed(1)} ms | ${r.evaluations} |`,
  );
const file = quick ? "results/cnf-adjoint-quick.json" : "results/cnf-adjoint.json";
writeResult(file, { suite: "cnf-adjoint", quick, environment: env, settings: { N, hidden: [16, 16], reps }, rows });
console.log(`written: ${file}`);
