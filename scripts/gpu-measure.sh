#!/usr/bin/env bash
# Runs on the GPU machine, through .carry/gpu-run.sh (see scripts/gpu-carry.sh), from the project
# root: "calibrate" measures where gpu.js webgpu beats the CPU backend there ("auto"'s thresholds),
# "bench" runs bench/webgpu.bench.ts (pass --quick for the short run). Results go to $OUT.
set -euo pipefail
what=${1:?usage: gpu-measure.sh calibrate|bench [--quick]}
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
  *) echo "gpu-measure.sh: unknown measurement \"$what\" (calibrate or bench)" >&2; exit 1 ;;
esac
