#!/usr/bin/env bash
# The paper's Table 2 on the 10,000 digits of the mnist package: the diagonal Gaussian, planar
# K = 10, 20, 40, 80 and NICE k = 10, 20, 40, 80, each trained until early stopping stops it
# (patience 10 epochs on the 1,000 validation digits; at most 2,000 epochs), for each seed, then
# scored by importance sampling (S = 200; S = 2,000 once, for planar K = 10 seed 0). One model per
# process, JOBS at a time, each on one thread; every run resumes from its checkpoint if it was cut
# short (run the script again). Then `npm run docs` writes the table and docs/figure4.png.
#
# usage: bash scripts/table2.sh [--jobs N] [--seeds 0,1] [--models planar:0,nice:10,…] [--max-minutes M]
#                               [--out results/table2] [--no-docs] [--no-check] [-- VAE OPTIONS]
#   --models runs only those rows (flow:K for every seed, flow:K:seed for one, in the order given), for a machine that can take a few at a time.
#   --no-check skips the S = 2,000 rescoring of planar K = 10 seed 0 (~15 minutes; a follow-up's folder needs no second one).
#   --max-minutes M stops each model's training after M minutes (the table then says "time"); such
#   runs belong in a folder of their own (--out), since a finished run is not run again.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(node -p "Math.min(18, require('os').availableParallelism())")
seeds="0,1"
out_root=results/table2
docs=yes
check=yes
models=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --max-minutes) extra+=(--max-minutes "$2"); shift 2 ;;
    --out) out_root=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --no-docs) docs=no; shift ;;
    --no-check) check=no; shift ;;
    --) shift; extra+=("$@"); break ;; # anything after -- goes to every vae run (a smoke test: --hidden 16 --train-count 300)
    *) echo "table2.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
[ -f dist/src/cli/main.js ] || npm run build --silent
runs=()
# flow:K:seed entries run once, whatever --seeds says (a queue across seeds, in this order)
for m in ${models//,/ }; do
  IFS=: read -r f k s <<< "$m"
  if [ -n "$s" ]; then runs+=("$f $k $s"); fi
done
for seed in ${seeds//,/ }; do
  if [ -n "$models" ]; then
    for m in ${models//,/ }; do
      IFS=: read -r f k s <<< "$m"
      if [ -z "$s" ]; then runs+=("$f $k $seed"); fi
    done
    continue
  fi
  runs+=("planar 0 $seed")
  for K in 10 20 40 80; do runs+=("planar $K $seed" "nice $K $seed"); done
done
echo "table2: ${#runs[@]} models, $jobs at a time, one thread each; logs in $out_root/*/run.log"
export out_root
run_one() {
  read -r flow K seed <<< "$1"
  shift
  local out="$out_root/$flow-K$K-seed$seed"
  mkdir -p "$out"
  if [ -f "$out/vae-$flow-L1.json" ]; then echo "$out: done before"; return 0; fi
  FLOWGRAD_THREADS=1 node dist/src/cli/main.js vae --flow "$flow" --K "$K" --seed "$seed" \
    --epochs 2000 --patience 10 --samples 200 --out "$out" --resume "$@" > "$out/run.log" 2>&1 \
    && echo "$out: $(grep -E '^K=' "$out/run.log" | tail -1)" || { echo "$out: failed, see $out/run.log"; return 1; }
}
export -f run_one
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "${extra[@]}"
# The estimate's convergence: the same model scored with ten times the samples.
# Planar K = 10: the first flow row, and ten times its S = 200 scoring (~15 minutes of one core).
model=$out_root/planar-K10-seed0/vae-planar-K10-L1.model.json
if [ "$check" = yes ] && [ -f "$model" ] && [ ! -f "$out_root/s2000.json" ]; then
  FLOWGRAD_THREADS=1 node dist/src/cli/main.js compare --models "$model" --samples 2000 --out "$out_root/s2000.json"
fi
if [ "$docs" = yes ]; then npm run --silent docs; fi
