#!/usr/bin/env bash
# Prepares, on this machine, what a GPU machine (no Node.js, no network) needs to run flowgrad's
# webgpu measurements: the shared recipe's .carry/ (Node.js, node_modules, the Vulkan loader;
# ../shared/gpu/README.md) without dev dependencies, so it stays under the 64 MiB a run may carry,
# plus the `benchmark` package (and its two dependencies) that the bench harness imports.
# Then run there, with the device tool's carry [".carry", "dist"]:
#   bash .carry/gpu-run.sh bash scripts/gpu-measure.sh calibrate
#   bash .carry/gpu-run.sh bash scripts/gpu-measure.sh bench
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
bash ../shared/gpu/prepare-gpu-carry.sh --omit-dev
mkdir -p .carry/bench-modules
for m in benchmark lodash platform; do cp -r "node_modules/$m" .carry/bench-modules/; done
npm run --silent build # dist/ (bench and CLI) travels with the carry
echo "gpu-carry: .carry is $(du -sm .carry | cut -f1) MiB, dist $(du -sm dist | cut -f1) MiB"
