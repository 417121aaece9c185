"""Homology evidence in the probabilities, fitted on validation folds.

A query's top hit in a labelled reference set (:func:`protloc.neighbours.nearest`, E <= 1e-5)
adds probability mass to the hit's label in proportion to its identity
(:func:`protloc.neighbours.vote`). Whether and how much is decided in cross-validation:

1. per fold model k, its own training proteins (the folds it trained on) that come from sources
   shipped in ``reference.fasta.gz`` are the reference set, so that CV measures what ships;
   its validation fold and its test fold search only that set (never the test fold itself);
2. one weight, on a grid, with the best MCC over every fold model's validation predictions;
   0 means "evidence only" and the probabilities are left alone;
3. the test folds are mixed once, with that weight, into ``heldout.csv`` (the unmixed table is
   kept as ``heldout_before_homology.csv``).

Search results are kept per fold in ``runs/fold_k/hits_{val,test}.csv``, so an interrupted run
resumes. The partitions hold no cross-fold pair at >= 30 % identity, so every hit is a remote
homolog: the measurement is on the hard case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .classes import CLASSES
from .mixing import PROBS
from .neighbours import MAX_EVALUE, REDISTRIBUTABLE, Neighbour, ReferenceSet, nearest, vote

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
HIT_COLUMNS = ["id", "hit", "label", "source", "identity", "coverage", "evalue"]


def fold_hits(
    table: pd.DataFrame, k: int, which: str, threads: int = 1,
    sources: Sequence[str] = REDISTRIBUTABLE,
) -> pd.DataFrame:
    """Top hit of each protein of fold model k's validation (``which="val"``) or test fold in
    the model's training folds, restricted to ``sources``. One row per protein; no hit: blanks."""
    val = (k + 1) % 5
    train = table[(table["partition"] != k) & (table["partition"] != val)
                  & table["source"].isin(sources)]
    queries = table[table["partition"] == (val if which == "val" else k)]
    reference = ReferenceSet(train["id"].tolist(), train["label"].tolist(),
                             train["source"].tolist(), train["sequence"].tolist())
    found = nearest(queries["sequence"].tolist(), reference, n=1, threads=threads)
    rows = [[pid] + ([hits[0].id, hits[0].label, hits[0].source, hits[0].identity,
                      hits[0].coverage, hits[0].evalue] if hits else [""] + [None] * 5)
            for pid, hits in zip(queries["id"], found)]
    return pd.DataFrame(rows, columns=HIT_COLUMNS)


def top_hits(frame: pd.DataFrame, ids: Sequence[str]) -> list[Neighbour | None]:
    """Hit rows (as written by :func:`fold_hits`) as neighbours, in the order of ``ids``."""
    by_id = frame.set_index("id")
    out: list[Neighbour | None] = []
    for pid in ids:
        row = by_id.loc[pid]
        out.append(None if not isinstance(row["hit"], str) or not row["hit"] else Neighbour(
            row["hit"], row["label"], row["source"], float(row["identity"]),
            float(row["coverage"]), float(row["evalue"])))
    return out


def add_homology(
    out_dir: Path, table: pd.DataFrame, folds: Sequence[int] = range(5), threads: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Searches, weight choice and the mixed ``heldout.csv``; returns the manifest entry.
    Needs each fold's validation predictions as mixed into the ensemble (``val_mixed.csv``,
    written by :func:`protloc.mixing.choose_mix`)."""
    from sklearn.metrics import matthews_corrcoef

    runs = out_dir / "runs"
    table = table.astype({"partition": int})
    for k in folds:
        for which in ("val", "test"):
            path = runs / f"fold_{k}" / f"hits_{which}.csv"
            if not path.exists():
                fold_hits(table, k, which, threads).to_csv(path, index=False)
                log(f"homology: fold {k} {which} searched")
    val = pd.concat(pd.read_csv(runs / f"fold_{k}" / "val_mixed.csv") for k in folds)
    val_hits = pd.concat(read_hits(runs / f"fold_{k}" / "hits_val.csv") for k in folds)
    y = np.array([CLASSES.index(c) for c in val["label"]])
    probs = val[PROBS].to_numpy()
    # one protein is validation for one fold model only, so ids are unique here
    hits = top_hits(val_hits, val["id"])
    scores = {w: matthews_corrcoef(y, vote(probs, hits, w).argmax(1)) for w in WEIGHTS}
    weight = max(WEIGHTS, key=lambda w: (round(scores[w], 4), -w))
    before = out_dir / "heldout_before_homology.csv"
    (out_dir / "heldout.csv").replace(before)  # every assembling run rewrites heldout.csv first
    heldout = pd.read_csv(before)
    test_hits = pd.concat(read_hits(runs / f"fold_{k}" / "hits_test.csv") for k in folds)
    mixed = vote(heldout[PROBS].to_numpy(), top_hits(test_hits, heldout["id"]), weight)
    heldout[PROBS] = mixed
    heldout["prediction"] = [CLASSES[i] for i in mixed.argmax(1)]
    heldout.to_csv(out_dir / "heldout.csv", index=False, float_format="%.5f")
    log(f"homology: weight {weight} (validation MCC by weight {scores})")
    return {"weight": weight, "sources": list(REDISTRIBUTABLE), "max_evalue": MAX_EVALUE,
            "validation_mcc_by_weight": {str(w): round(s, 4) for w, s in scores.items()},
            "validation_share_with_hit": round(sum(h is not None for h in hits) / len(hits), 4)}


def read_hits(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id": str, "hit": str, "label": str, "source": str},
                       keep_default_na=False, na_values={"identity": "", "coverage": "",
                                                         "evalue": ""})
