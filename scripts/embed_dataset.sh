#!/usr/bin/env bash
# Fill the embedding cache for every protein of a built dataset, two embedders at a time, in
# one-thread processes (UniRep runs ~20x slower with two threads on a busy 2-core machine).
#   bash scripts/embed_dataset.sh DATASET_DIR EMBEDDER_ID [EMBEDDER_ID ...]
# Resumable: cached proteins are skipped. The dataset FASTA is cut into pieces under the
# per-input limits of `protloc embed` (10,000 records, 2,000,000 residues).
set -euo pipefail
cd "$(dirname "$0")/.."
DATASET="$1"; shift
PIECES="$DATASET/embed_pieces"
mkdir -p "$PIECES"
.venv/bin/python - "$DATASET/dataset.fasta" "$PIECES" <<'PY'
import sys
from Bio import SeqIO
pieces, total = [[]], 0
for record in SeqIO.parse(sys.argv[1], "fasta"):
    if total + len(record.seq) > 1_500_000 or len(pieces[-1]) >= 9_000:
        pieces.append([])
        total = 0
    pieces[-1].append(record)
    total += len(record.seq)
for i, piece in enumerate(pieces):
    SeqIO.write(piece, f"{sys.argv[2]}/piece_{i:02d}.fasta", "fasta")
PY
for embedder in "$@"; do
    (for piece in "$PIECES"/piece_*.fasta; do
        OMP_NUM_THREADS=1 .venv/bin/protloc embed -f "$piece" --embedder "$embedder" \
            --out "${PROTLOC_CACHE:-$HOME/.cache/protloc/embeddings}"
    done) &
done
wait
