#!/usr/bin/env bash
# Runs on the GPU machine, through .carry/gpu-run.sh (see scripts/gpu-carry.sh), from the project
# root: "calibrate" measures where gpu.js webgpu beats the CPU backend there ("auto"'s thresholds),
# "bench" runs bench/webgpu.bench.ts (pass --quick for the short run), "logdet" the O(D) vs O(D³)
# log-det benchmark with every path on the device, "vae-epoch" an epoch of the MNIST model on webgpu
# against the CPU backend (bench/vae-epoch.bench.ts; --K 0,10,80 picks the flow lengths),
# "agreement" how far webgpu's results are from the CPU's, op by op and over MNIST training steps
# (scripts/webgpu-agreement.ts), then one MNIST epoch of planar K = 10 against the CPU's. Results go to $OUT.
set -euo pipefail
what=${1:?usage: gpu-measure.sh calibrate|bench|logdet|vae-epoch|agreement [--quick]}
shift
out=${OUT:?set OUT to the folder for results}
mkdir -p "$out"
# The bench harness imports benchmark, a dev dependency the carried node_modules leaves out.
[ -d .carry/bench-modules ] && cp -r .carry/bench-modules/. node_modules/
case "$what" in
  calibrate) node dist/src/cli/main.js --gpu-mode webgpu calibrate --out "$out/calibrate-webgpu.json" "$@" | tee "$out/calibrate-webgpu.md" ;;
  bench)
    file=results/webgpu-bench.json
    case " $* " in *" --quick "*) file=results/webgpu-bench-quick.json ;; esac
    node dist/bench/webgpu.bench.js "$@" | tee "$out/webgpu-bench.md"
    cp "$file" "$out/" ;; # only what this run wrote (the tree holds lavapipe's figures)
  logdet)
    suffix=-gpu-webgpu
    case " $* " in *" --quick "*) suffix=-gpu-webgpu-quick ;; esac
    node dist/bench/logdet.bench.js --backend gpu --gpu-mode webgpu "$@" | tee "$out/logdet-webgpu.md"
    cp "results/logdet-bench$suffix.json" "results/logdet$suffix.svg" "$out/" ;;
  vae-epoch)
    file=results/vae-epoch-bench-webgpu.json
    case " $* " in *" --quick "*) file=results/vae-epoch-bench-webgpu-quick.json ;; esac
    node dist/bench/vae-epoch.bench.js --gpu-mode webgpu "$@" | tee "$out/vae-epoch-webgpu.md"
    cp "$file" "$out/" ;;
  agreement)
    node dist/scripts/webgpu-agreement.js "$out/webgpu-agreement.json" | tee "$out/webgpu-agreement.md"
    # Then one epoch of the run that departed on the H200 (planar K = 10, seed 0), against the CPU's first epoch.
    node dist/src/cli/main.js vae --backend gpu --gpu-mode webgpu --flow planar --K 10 --seed 0 --epochs 1 \
      --patience 10 --samples 2 --out "$out/epoch1" > "$out/epoch1.log" 2>&1
    node -e 'const [gpu, cpu] = process.argv.slice(1).map((f) => require(require("path").resolve(f)).records[0].validationLosses[0]);
      console.log(`planar K = 10, seed 0, validation -ELBO after epoch 1: webgpu ${gpu.toFixed(2)}, CPU ${cpu.toFixed(2)} (relative gap ${(Math.abs(gpu - cpu) / cpu).toExponential(1)}; lavapipe 196.97, the H200 before floorDiv 204.96)`);' \
      "$out/epoch1/vae-planar-L1.json" results/table2/planar-K10-seed0/vae-planar-L1.json | tee -a "$out/webgpu-agreement.md" ;;
  *) echo "gpu-measure.sh: unknown measurement \"$what\" (calibrate, bench, logdet, vae-epoch or agreement)" >&2; exit 1 ;;
esac
