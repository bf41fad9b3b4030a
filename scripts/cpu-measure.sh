#!/usr/bin/env bash
# The CPU backend's measurements on a machine with many cores (the device machine has 16), run
# through .carry/gpu-run.sh (prepared by scripts/gpu-carry.sh, with the device tool's carry
# [".carry", "dist", BASELINE]): bench:matmul with its thread scaling and bit-identity check, and
# bench:vae-epoch against an older build (scripts/build-at.sh REV). Results go to $OUT.
# usage: bash .carry/gpu-run.sh bash scripts/cpu-measure.sh .tmp/build-REV/dist
set -euo pipefail
baseline=${1:?usage: cpu-measure.sh BASELINE_DIST}
out=${OUT:?set OUT to the folder for results}
mkdir -p "$out"
# The bench harness imports benchmark, a dev dependency the carried node_modules leaves out.
[ -d .carry/bench-modules ] && cp -r .carry/bench-modules/. node_modules/
{ nproc; lscpu | grep -E "Model name|^CPU\(s\)|Thread|L2|L3"; } | tee "$out/machine.txt"
node dist/bench/matmul.bench.js --quick --scaling 1,2,4,8,16 | tee "$out/matmul.md"
cp results/matmul-bench-quick.json "$out/matmul-bench-16-cores.json"
node dist/bench/vae-epoch.bench.js --quick --baseline "$baseline" | tee "$out/vae-epoch.md"
cp results/vae-epoch-bench-quick.json "$out/vae-epoch-bench-16-cores.json"
