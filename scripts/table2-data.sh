#!/usr/bin/env bash
# Follow-up 7: Table 2's planar rows on fewer training digits. If the flow length's step back on
# 8,000 digits comes from having too few of them, it should be larger on 4,000 and larger still
# on 2,000; if it is not, the data's size does not explain it. Each run is a Table 2 run (patience
# 10, S = 200, the same 1,000 test digits) fitted on the first N of Table 2's 8,000 training digits,
# the 1,000 after them held out for early stopping (flowgrad vae --train-count N+1000), into
# results/table2-data/train<N>/<flow>-K<K>-seed<s>/; runs resume and skip what is done, as
# scripts/table2.sh's, JOBS at a time. Table 2's own runs (results/table2) are the 8,000 column.
#
# usage: bash scripts/table2-data.sh [--jobs N] [--seeds 0,1,2] [--sizes 2000,4000] [--models planar:0,planar:10,planar:20,planar:40]
#                                    [--out results/table2-data] [-- VAE OPTIONS]
#   anything after -- goes to every vae run (a smoke test: --out /tmp/t -- --hidden 16 --epochs 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(node -p "Math.min(18, require('os').availableParallelism())")
seeds=0,1,2
sizes=2000,4000
models=planar:0,planar:10,planar:20,planar:40
root=results/table2-data
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --out) root=$2; shift 2 ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "table2-data.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
[ -f dist/src/cli/main.js ] || npm run build --silent
runs=()
# seed by seed, so that a run cut short leaves whole seeds behind it
for seed in ${seeds//,/ }; do
  for size in ${sizes//,/ }; do
    for m in ${models//,/ }; do runs+=("$size $m:$seed"); done
  done
done
echo "table2-data: ${#runs[@]} models, $jobs at a time, one thread each; logs in $root/*/*/run.log"
one() {
  read -r size model <<< "$1"
  shift
  bash scripts/table2.sh --jobs 1 --models "$model" --out "$root/train$size" --no-docs --no-check \
    -- --train-count $((size + 1000)) "$@" | grep -v '^table2:'
}
export root
export -f one
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {} "${extra[@]}"
