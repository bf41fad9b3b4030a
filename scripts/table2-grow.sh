#!/usr/bin/env bash
# Follow-up 6: grow the planar flow instead of training each K from scratch. For each seed, the
# diagonal model and planar K = 10 are trained as in Table 2 (flow lr × 1,
# results/table2-grow/planar-K<K>-seed<s>), the diagonal model continued once (the same control as
# below, for the comparison with K = 0); then, from the best model of each step, two runs until
# early stopping (patience 10) with a fresh Adam:
#   -continued: the same K, its flow kept (flowgrad vae --start-from … --keep-flow): what more
#               training alone does, the control;
#   -grown:     the next K of --Ks, its first layers the trained ones and the rest at the identity,
#               so it starts as exactly the trained q(z|x): what the extra layers add.
# The next step grows from this step's grown model. Each run is scored with S = 200 and resumes
# like scripts/table2.sh's; one seed per process, JOBS at a time, the steps of a seed in order.
#
# usage: bash scripts/table2-grow.sh [--jobs N] [--seeds 0,1] [--Ks 20,40] [--out results/table2-grow]
#                                    [--flow-lr R --from DIR] [-- VAE OPTIONS]
#   --flow-lr R trains the continued and grown runs at flow lr × R (the runs from scratch stay at
#   × 1, Table 2's); --from DIR takes the runs from scratch from DIR's folders instead of training
#   them into --out (a variant beside results/table2-grow: --from results/table2-grow --out …).
#   anything after -- goes to every vae run (a smoke test: --hidden 16 --train-count 300 --epochs 2)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(node -p "Math.min(18, require('os').availableParallelism())")
seeds=0,1
Ks=20,40
root=results/table2-grow
from=""
flow_lr=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --Ks) Ks=$2; shift 2 ;;
    --out) root=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --flow-lr) flow_lr=$2; shift 2 ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "table2-grow.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
[ -f dist/src/cli/main.js ] || npm run build --silent
from=${from:-$root}
echo "table2-grow: seeds $seeds, K = 10 grown to ${Ks//,/, }, $jobs seeds at a time, one thread each; logs in $root/*/run.log"
# One run: planar K into folder $2 (a Table 2 run when no start model $4 is given; $5…: vae options), skipped if done.
train() {
  local K=$1 out=$2 seed=$3 start=${4:-}
  mkdir -p "$out"
  if [ -f "$out/vae-planar-L1.json" ]; then echo "$out: done before"; return 0; fi
  FLOWGRAD_THREADS=1 node dist/src/cli/main.js vae --flow planar --K "$K" --seed "$seed" \
    --epochs 2000 --patience 10 --samples 200 --out "$out" --resume ${start:+--start-from "$start" --keep-flow} "${@:5}" \
    > "$out/run.log" 2>&1 \
    && echo "$out: $(grep -E '^K=' "$out/run.log" | tail -1)" || { echo "$out: failed, see $out/run.log"; return 1; }
}
# The runs from scratch: trained here, or (--from) taken from another folder, where they must be.
scratch() {
  local K=$1 seed=$2 out="$from/planar-K$1-seed$2"
  shift 2
  if [ "$from" = "$root" ]; then train "$K" "$out" "$seed" "" "$@"; return; fi
  [ -f "$out/vae-planar-K$K-L1.model.json" ] || { echo "$out: no model from scratch there (run bash scripts/table2-grow.sh --seeds $seed without --from)"; return 1; }
}
grow_seed() {
  local seed=$1 K=10 step="$from/planar-K10-seed$1" rate=()
  shift
  [ -z "$flow_lr" ] || rate=(--flow-lr "$flow_lr")
  scratch 0 "$seed" "$@" || return 1
  train 0 "$root/planar-K0-seed$seed-continued" "$seed" "$from/planar-K0-seed$seed/vae-planar-K0-L1.model.json" "${rate[@]}" "$@" || return 1
  scratch 10 "$seed" "$@" || return 1
  for next in ${Ks//,/ }; do
    local model="$step/vae-planar-K$K-L1.model.json"
    train "$K" "$root/planar-K$K-seed$seed-continued" "$seed" "$model" "${rate[@]}" "$@" || return 1
    train "$next" "$root/planar-K$next-seed$seed-grown" "$seed" "$model" "${rate[@]}" "$@" || return 1
    K=$next step="$root/planar-K$next-seed$seed-grown"
  done
}
export root from flow_lr Ks
export -f train scratch grow_seed
printf '%s\n' ${seeds//,/ } | xargs -P "$jobs" -I{} bash -c 'grow_seed "$@"' _ {} "${extra[@]}"
