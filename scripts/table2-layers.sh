#!/usr/bin/env bash
# What each planar layer of every trained planar posterior of Table 2 and its follow-ups does to
# the encoder's draws (`flowgrad layers`: 500 test digits × 8 draws), one JSON per run in
# results/table2-layers/<folder>/<run>.json; runs already read are kept. Then `npm run docs`
# writes the summary tables (docs/results.md: table2-layers, and follow-up 6's table2-grow-layers
# for the continued and grown runs).
#
# usage: bash scripts/table2-layers.sh [--no-docs]
set -euo pipefail
cd "$(dirname "$0")/.."
docs=yes
[ "${1:-}" = "--no-docs" ] && docs=no
[ -f dist/src/cli/main.js ] || npm run build --silent
for folder in table2 table2-flowlr table2-rates table2-global table2-dynamic table2-grow table2-grow-lr0.5 \
  table2-anneal/steps1333 table2-anneal/steps10000 table2-clip; do
  for model in results/$folder/planar-K*-seed*/vae-planar-K*-L1.model.json; do
    [ -f "$model" ] || continue
    run=$(basename "$(dirname "$model")")
    [ "$run" = "${run#planar-K0-}" ] || continue # the diagonal model has no layers
    out=results/table2-layers/${folder//\//-}/$run.json # one level: table2-anneal/steps1333 reads as table2-anneal-steps1333
    [ -f "$out" ] && continue
    echo "$folder/$run"
    FLOWGRAD_THREADS=1 node dist/src/cli/main.js layers --model "$model" --out "$out" > /dev/null
  done
done
if [ "$docs" = yes ]; then npm run --silent docs; fi
