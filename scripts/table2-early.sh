#!/usr/bin/env bash
# When do a planar run's layers become translations (follow-up 5)? Six Table 2 runs at flow lr × 1 —
# three whose layers end mostly translating (K = 10 seed 0, K = 20 seed 4, K = 40 seed 0) and three
# whose end mostly bending (K = 10 seed 1, K = 20 seed 0, K = 40 seed 1) — trained again for their
# first 1, 3, 10 and 30 epochs (the same steps as Table 2's runs: a run stopped after E epochs is
# Table 2's run at epoch E, its validation bounds Table 2's to the last bit or within one), then read with
# `flowgrad layers`: results/table2-early/<run>-e<E>/ and results/table2-layers/table2-early/.
# Runs and readings already made are kept. Then `npm run docs` writes the table (table2-early).
#
# usage: bash scripts/table2-early.sh [--jobs N] [--no-docs]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(node -p "Math.min(6, require('os').availableParallelism())")
docs=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --no-docs) docs=no; shift ;;
    *) echo "table2-early.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
[ -f dist/src/cli/main.js ] || npm run build --silent
early_one() {
  read -r K seed epochs <<< "$1"
  local run="planar-K$K-seed$seed-e$epochs"
  local out="results/table2-early/$run" read="results/table2-layers/table2-early/$run.json"
  mkdir -p "$out" results/table2-layers/table2-early
  if [ ! -f "$out/vae-planar-L1.json" ]; then
    # --samples 2: the test score is not what this reads, the layers are
    FLOWGRAD_THREADS=1 node dist/src/cli/main.js vae --flow planar --K "$K" --seed "$seed" --epochs "$epochs" \
      --patience 10 --samples 2 --out "$out" > "$out/run.log" 2>&1 || { echo "$run: failed, see $out/run.log"; return 1; }
  fi
  [ -f "$read" ] || FLOWGRAD_THREADS=1 node dist/src/cli/main.js layers --model "$out/vae-planar-K$K-L1.model.json" --out "$read" > /dev/null
  echo "$run: read"
}
export -f early_one
for K_seed in "40 0" "40 1" "20 4" "20 0" "10 0" "10 1"; do
  for epochs in 30 10 3 1; do echo "$K_seed $epochs"; done
done | xargs -P "$jobs" -I{} bash -c 'early_one "$@"' _ {}
if [ "$docs" = yes ]; then npm run --silent docs; fi
