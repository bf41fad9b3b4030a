#!/usr/bin/env bash
# Why does planar K = 10 do worse than the diagonal Gaussian in Table 2 (docs/results.md)? Train
# the diagonal model and planar K = 10 side by side under training variants, every run at once
# (one thread each), for the same wall-clock minutes, and compare their validation bounds epoch by
# epoch (same seed, same validation draws). Not converged runs: a screen of which variant to train
# to convergence with scripts/table2.sh.
#
# usage: bash scripts/table2-sweep.sh [--minutes M] [--out results/table2-sweep] [-- VAE OPTIONS]
# Then: node dist/scripts/table2-sweep.js results/table2-sweep  (the comparison as a table)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=7
out=results/table2-sweep
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "table2-sweep.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
# name | rows (flow:K) | vae options
variants=(
  "base|planar:0,planar:10|"
  "shared-head|planar:10|--flow-head shared"
  "flow-lr-0.1|planar:10,planar:20|--flow-lr 0.1"
  "flow-lr-0.3|planar:10|--flow-lr 0.3"
  "random-init|planar:10|--flow-init random"
  "anneal-2000|planar:0,planar:10|--anneal-steps 2000"
  "dynamic|planar:0,planar:10,nice:10|--binarize dynamic"
  "dynamic-flow-lr-0.1|planar:10|--binarize dynamic --flow-lr 0.1"
)
rows=0
for v in "${variants[@]}"; do IFS='|' read -r _ models _ <<< "$v"; rows=$((rows + $(tr ',' '\n' <<< "$models" | wc -l))); done
echo "table2-sweep: ${#variants[@]} variants, $rows models at once, $minutes minutes of training each"
[ -f dist/src/cli/main.js ] || npm run build --silent
pids=()
for v in "${variants[@]}"; do
  IFS='|' read -r name models options <<< "$v"
  mkdir -p "$out/$name"
  # shellcheck disable=SC2086 # options are words
  bash scripts/table2.sh --jobs 9 --seeds 0 --models "$models" --max-minutes "$minutes" --out "$out/$name" --no-docs \
    -- --samples 20 $options "${extra[@]}" > "$out/$name/console.txt" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
