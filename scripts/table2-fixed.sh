#!/usr/bin/env bash
# Table 2's posteriors on one generative model: for each seed, every row starts from that seed's
# trained diagonal model (results/table2/planar-K0-seed<s>) and trains q(z|x) alone, its decoder
# fixed (flowgrad vae --start-from … --fixed-decoder): K = 0 (the encoder alone, trained on), planar
# K at flow lr × 10/K (as follow-up 1) and NICE k at × 1 (as Table 2), each until early stopping
# (patience 10), then scored with S = 200. The paper's claim, "for the same generative model", as
# a measurement: with p(x|z) fixed, only the posterior differs between rows. Runs go to
# results/table2-fixed/<flow>-K<K>-seed<s>/ and resume like scripts/table2.sh's.
#
# usage: bash scripts/table2-fixed.sh [--jobs N] [--seeds 0,1] [--Ks 0,10,20,40,80] [--flows planar,nice] [--from results/table2]
#                                     [--rates 0.1,0.01]
#   --rates trains the planar rows at each of these flow lr multiples instead of 10/K, into
#   results/table2-fixed/planar-K<K>-seed<s>-lr<rate>/ (a row of its own in the table).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(node -p "Math.min(18, require('os').availableParallelism())")
seeds=0,1
Ks=0,10,20,40,80
flows=planar,nice
from=results/table2
rates=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --Ks) Ks=$2; shift 2 ;;
    --flows) flows=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    *) echo "table2-fixed.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
[ -f dist/src/cli/main.js ] || npm run build --silent
runs=()
for seed in ${seeds//,/ }; do
  base="$from/planar-K0-seed$seed/vae-planar-K0-L1.model.json"
  [ -f "$base" ] || { echo "table2-fixed.sh: $base is missing (bash scripts/table2.sh --models planar:0:$seed)" >&2; exit 1; }
  for K in ${Ks//,/ }; do
    for flow in ${flows//,/ }; do
      [ "$K" = 0 ] && [ "$flow" != planar ] && continue # one diagonal model per seed
      if [ -n "$rates" ] && [ "$flow" = planar ] && [ "$K" -gt 0 ]; then
        for rate in ${rates//,/ }; do runs+=("$flow $K $seed $rate $base -lr$rate"); done
        continue
      fi
      rate=1
      [ "$flow" = planar ] && [ "$K" -gt 10 ] && rate=$(node -p "10 / $K")
      runs+=("$flow $K $seed $rate $base")
    done
  done
done
echo "table2-fixed: ${#runs[@]} models, $jobs at a time, one thread each; logs in results/table2-fixed/*/run.log"
run_one() {
  read -r flow K seed rate base suffix <<< "$1"
  local out="results/table2-fixed/$flow-K$K-seed$seed${suffix:-}"
  mkdir -p "$out"
  if [ -f "$out/vae-$flow-L1.json" ]; then echo "$out: done before"; return 0; fi
  FLOWGRAD_THREADS=1 node dist/src/cli/main.js vae --flow "$flow" --K "$K" --seed "$seed" --flow-lr "$rate" \
    --start-from "$base" --fixed-decoder --epochs 2000 --patience 10 --samples 200 --out "$out" --resume \
    > "$out/run.log" 2>&1 \
    && echo "$out: $(grep -E '^K=' "$out/run.log" | tail -1)" || { echo "$out: failed, see $out/run.log"; return 1; }
}
export -f run_one
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
