#!/usr/bin/env bash
# Build the library as it was at a commit into .tmp/build-REV/dist, for a benchmark that times an
# older build beside this one in one process (bench/higher-order.bench.ts --baseline DIR).
# Usage: bash scripts/build-at.sh REV   (prints the dist folder)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=$(git rev-parse --short "${1:?usage: scripts/build-at.sh REV}")
dir=".tmp/build-$rev"
rm -rf "$dir"
mkdir -p "$dir"
git archive "$rev" | tar -x -C "$dir"
# Its imports (gpu.js, benchmark) resolve to this checkout's node_modules, one folder up the tree.
# Builds since the WebAssembly kernels compile them first (their module is generated, not committed).
if [ -f "$dir/scripts/build-wasm.mjs" ]; then (cd "$dir" && node scripts/build-wasm.mjs) >&2; fi
npx tsc -p "$dir/tsconfig.build.json" >&2
echo "$dir/dist"
