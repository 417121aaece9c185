#!/usr/bin/env bash
# Reproduce checkpoints/default and its cross-validation results from the real data.
#   PROTLOC_DATA=../shared/data bash scripts/train_default.sh [OUT_DIR]
# Builds the dataset, trains the 5 fold models in two single-threaded processes (small LSTMs
# run faster on one thread each than on two threads together), runs PSORTb on the benchmark
# proteins when it is installed (apt-get install psortb, databases formatted: see README), then
# evaluates. Resumable: rerun the same command after an interruption. About 3.5 hours on 2 cores
# from an empty cache (20 epochs a fold model at about a minute each, the homology searches).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${PROTLOC_DATA:?set PROTLOC_DATA to a folder laid out like ../shared/data}"
OUT="${1:-checkpoints/default}"
BUILD="${BUILD:-data_build/dataset}"
CONFIG="${CONFIG:-configs/unirep_v4.yaml}"
# Slow streams embedded up front, in parallel (the config's other embedders are computed by train)
EMBED="${EMBED-unirep-256 evidence-v1}"
LOGS="${LOGS:-data_build/logs}"
PEERS="${PEERS:-data_build/peers}"
mkdir -p "$LOGS"
PROTLOC=".venv/bin/protloc"

[ -f "$BUILD/dataset.tsv" ] || "$PROTLOC" data build --out "$BUILD" --data-dir "$DATA"
# shellcheck disable=SC2086
[ -z "$EMBED" ] || bash scripts/embed_dataset.sh "$BUILD" $EMBED 2> "$LOGS/embed.log"
if command -v psort > /dev/null; then  # cached per protein: instant once done
    "$PROTLOC" peers psortb "$DATA/deeplocpro/benchmarking_dataset.fasta" \
        --out "$PEERS/psortb_benchmark.tsv" 2> "$LOGS/psortb.log" &
fi
"$PROTLOC" train --data "$BUILD" --config "$CONFIG" --out "$OUT" --folds 0,2,4 --threads 1 \
    > "$LOGS/train_a.out" 2> "$LOGS/train_a.log" &
"$PROTLOC" train --data "$BUILD" --config "$CONFIG" --out "$OUT" --folds 1,3 --threads 1 \
    > "$LOGS/train_b.out" 2> "$LOGS/train_b.log" &
wait
# Every fold is trained now: this pass only assembles heldout.csv and the manifest.
"$PROTLOC" train --data "$BUILD" --config "$CONFIG" --out "$OUT" 2>> "$LOGS/train_a.log"
"$PROTLOC" evaluate "$OUT" --data "$BUILD" --peers "$PEERS"
