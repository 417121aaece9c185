#!/usr/bin/env bash
# Ablations of the default model (configs/ablations/*.yaml), each trained on test fold 0 only
# (validation fold 1) and compared on the same fold-0 proteins with fold 0 of the baseline set
# checkpoints/offline-v1 (configs/offline.yaml, of which every ablation changes one thing).
#   PROTLOC_DATA=../shared/data bash scripts/ablations.sh
# Needs the dataset (BUILD) and the baseline set (BASELINE). Two runs at a time, one thread
# each; resumable; a run whose results are already saved in docs/results/ablations/NAME is not
# trained again (FORCE=1 retrains). Writes runs/ablations/NAME, docs/results/ablations/NAME and
# docs/results/ablations.md, where fold 0 of checkpoints/default (EXTRA_RUNS) is a row too.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${PROTLOC_DATA:?set PROTLOC_DATA to a folder laid out like ../shared/data}"
BUILD="${BUILD:-data_build/dataset}"
RUNS="${RUNS:-runs/ablations}"
BASELINE="${BASELINE:-checkpoints/offline-v1}"
PROTLOC=".venv/bin/protloc"
SAVED=docs/results/ablations
mkdir -p "$RUNS"

train() {  # NAME: train one ablation on test fold 0, unless its results are saved already
    if [ -z "${FORCE:-}" ] && [ -f "$SAVED/$1/heldout.csv" ] && [ ! -d "$RUNS/$1" ]; then
        echo "$1: results saved in $SAVED/$1, not retrained (FORCE=1 retrains)" >&2
        return 0
    fi
    "$PROTLOC" train --data "$BUILD" --config "configs/ablations/$1.yaml" --out "$RUNS/$1" \
        --folds 0 --threads 1 > "$RUNS/$1.out" 2> "$RUNS/$1.log"
}
export -f train
export PROTLOC BUILD RUNS SAVED FORCE
# A queue of two workers: a slot is refilled as soon as a run ends (an odd count wastes nothing).
# ABLATIONS="motifs focal" runs only those (in that order); the table lists every finished run.
if [ -n "${ABLATIONS:-}" ]; then printf '%s\n' $ABLATIONS; else
    for config in configs/ablations/*.yaml; do basename "$config" .yaml; done; fi |
    xargs -P 2 -I{} bash -c 'train "$@"' _ {} ||
    echo "some ablations failed (see $RUNS/NAME.log); the table lists those that finished" >&2
# Keep what the table needs of every finished run (fold-0 held-out predictions, manifest, log:
# about 300 KB, no weights) under docs/results/ablations/NAME, so later sessions keep the rows
# of runs they did not retrain; unfinished runs are listed from RUNS.
shopt -s nullglob
runs=()
for run in "$RUNS"/*/; do
    name=$(basename "$run")
    if [ -f "$run/heldout.csv" ]; then
        mkdir -p "$SAVED/$name/runs/fold_0"
        cp "$run/heldout.csv" "$run/manifest.json" "$SAVED/$name/"
        cp "$run"/runs/fold_0/{done.json,log.tsv} "$SAVED/$name/runs/fold_0/"
    elif [ ! -f "$SAVED/$name/heldout.csv" ]; then
        runs+=("$run")
    fi
done
.venv/bin/python scripts/ablation_table.py --data "$BUILD" --data-dir "$DATA" \
    --baseline "$BASELINE" --out docs/results/ablations.md "$SAVED"/*/ "${runs[@]}" \
    ${EXTRA_RUNS-checkpoints/default/}
