#!/usr/bin/env bash
# How far Table 2's models generalise: each model of scripts/table2.sh's folders scored on the
# first COUNT digits it was fitted on (flowgrad compare --split train) and on the first COUNT test
# digits, with the same S, one JSON per model and split in results/table2-gaps/<folder>/. A model
# already scored is not scored again (run the script again after an interruption). Then
# `npm run docs` writes the table.
#
# usage: bash scripts/table2-gaps.sh [--count 500] [--samples 100] [--jobs 1] [FOLDER …]
#   FOLDER: results/table2 (default: it, results/table2-flowlr and results/table2-global)
set -euo pipefail
cd "$(dirname "$0")/.."
count=500
samples=100
jobs=1
folders=()
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --*) echo "table2-gaps.sh: unknown option $1" >&2; exit 1 ;;
    *) folders+=("$1"); shift ;;
  esac
done
[ ${#folders[@]} -gt 0 ] || folders=(results/table2 results/table2-flowlr results/table2-global)
[ -f dist/src/cli/main.js ] || npm run build --silent
jobs_list=()
for folder in "${folders[@]}"; do
  for model in "$folder"/*/vae-*-K*-L1.model.json; do
    [ -f "$model" ] || continue
    for split in train test; do jobs_list+=("$model $split"); done
  done
done
echo "table2-gaps: ${#jobs_list[@]} scorings (S = $samples, $count digits each), $jobs at a time"
export count samples
score() {
  read -r model split <<< "$1"
  local run folder out
  run=$(basename "$(dirname "$model")")
  folder=$(basename "$(dirname "$(dirname "$model")")")
  out="results/table2-gaps/$folder/$run.$split.json"
  if [ -f "$out" ]; then echo "$out: done before"; return 0; fi
  mkdir -p "$(dirname "$out")"
  FLOWGRAD_THREADS=1 node dist/src/cli/main.js compare --models "$model" --split "$split" --count "$count" \
    --samples "$samples" --out "$out" > /dev/null && echo "$out" || { echo "$out: failed" >&2; return 1; }
}
export -f score
printf '%s\n' "${jobs_list[@]}" | xargs -P "$jobs" -I{} bash -c 'score "$@"' _ {}
