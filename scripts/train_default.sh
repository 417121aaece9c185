#!/usr/bin/env bash
# Reproduce checkpoints/default and its cross-validation results from the real data.
#   PROTLOC_DATA=../shared/data bash scripts/train_default.sh [OUT_DIR]
# Builds the dataset, trains two checkpoint sets (configs/unirep_v4.yaml and
# configs/unirep_v5.yaml: the same model, v5 also trained on the DeepSecE effectors), each as 5
# fold models in two single-threaded processes (small LSTMs run faster on one thread each than
# on two threads together), joins them (scripts/combine_sets.py: both sets' networks and trees
# averaged per fold, one stacker over them with the DeepLocPro validation rows counted 3 times
# (docs/results/calibration_weight.md), a top-label calibration map after its temperature:
# docs/results/top_label.md), runs PSORTb on the benchmark proteins when it is
# installed (apt-get install psortb, databases formatted: see README), then evaluates.
# Resumable: rerun the same command after an interruption. About 5 hours on 2 cores from an
# empty cache (20 epochs a fold model at about a minute each, the homology searches once).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${PROTLOC_DATA:?set PROTLOC_DATA to a folder laid out like ../shared/data}"
OUT="${1:-checkpoints/default}"
BUILD="${BUILD:-data_build/dataset}"
RUNS="${RUNS:-data_build/runs}"
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
train_set() {  # config, output folder
    "$PROTLOC" train --data "$BUILD" --config "$1" --out "$2" --folds 0,2,4 --threads 1 \
        > "$LOGS/$(basename "$2")_a.out" 2> "$LOGS/$(basename "$2")_a.log" &
    "$PROTLOC" train --data "$BUILD" --config "$1" --out "$2" --folds 1,3 --threads 1 \
        > "$LOGS/$(basename "$2")_b.out" 2> "$LOGS/$(basename "$2")_b.log" &
    wait
    # Every fold is trained now: this pass assembles (homology, stacker) and writes the manifest.
    "$PROTLOC" train --data "$BUILD" --config "$1" --out "$2" 2>> "$LOGS/$(basename "$2")_a.log"
}
train_set configs/unirep_v4.yaml "$RUNS/unirep-v4"
# The homology searches depend on the partitions only: v5 reuses v4's.
for k in 0 1 2 3 4; do
    mkdir -p "$RUNS/unirep-v5/runs/fold_$k"
    cp -n "$RUNS/unirep-v4/runs/fold_$k/"hits_*.csv "$RUNS/unirep-v5/runs/fold_$k/"
done
train_set configs/unirep_v5.yaml "$RUNS/unirep-v5"
if [ ! -f "$OUT/manifest.json" ] || [ "$OUT/manifest.json" -ot "$RUNS/unirep-v5/manifest.json" ]; then
    rm -rf "$OUT.tmp"
    .venv/bin/python scripts/combine_sets.py "$BUILD" "$RUNS/unirep-v4" "$RUNS/unirep-v5" \
        "$OUT.tmp" protloc-unirep-v12 --top-label --calibration-weights 1,2,3,4
    rm -rf "$OUT.tmp/runs" && mkdir -p "$OUT" && cp "$OUT.tmp"/*.safetensors "$OUT.tmp"/*.csv \
        "$OUT.tmp"/manifest.json "$OUT.tmp"/reference.fasta.gz "$OUT/"
fi
"$PROTLOC" evaluate "$OUT" --data "$BUILD" --peers "$PEERS"
