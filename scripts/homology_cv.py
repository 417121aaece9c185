"""Does homology evidence help? Nearest labelled proteins in cross-validation, each test fold
searching only its own training folds (the same 3 partitions its fold model trained on).

    .venv/bin/python scripts/homology_cv.py data_build/dataset checkpoints/default \
        > docs/results/homology_cv.md

For the test proteins that have a hit (E <= 1e-5), it compares the top hit's label with the
checkpoint's held-out prediction, and a simple mix (the hit's label gets probability mass
proportional to its identity) chosen nowhere: the figures only say whether mixing would be worth
fitting on validation folds. The partitions hold no pair at >= 30 % identity across folds, so
hits are remote homologs by construction.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from protloc.classes import CLASSES, COLUMN_NAMES
from protloc.metrics import mcc
from protloc.neighbours import ReferenceSet, nearest


def main(dataset_dir: Path, checkpoint: Path) -> None:
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t", keep_default_na=False)
    heldout = pd.read_csv(checkpoint / "heldout.csv").set_index("id")
    rows = []
    for k in range(5):
        val = (k + 1) % 5
        train = table[(table["partition"] != k) & (table["partition"] != val)]
        test = table[table["partition"] == k]
        reference = ReferenceSet(train["id"].tolist(), train["label"].tolist(),
                                 train["source"].tolist(), train["sequence"].tolist())
        hits = nearest(test["sequence"].tolist(), reference, n=1, threads=2)
        for (_, protein), found in zip(test.iterrows(), hits):
            if protein["id"] not in heldout.index:
                continue
            top = found[0] if found else None
            rows.append({"id": protein["id"], "label": protein["label"],
                         "in_benchmark": protein["in_benchmark"] in (True, "True", "true"),
                         "prediction": heldout.loc[protein["id"], "prediction"],
                         "hit_label": top.label if top else None,
                         "identity": top.identity if top else None,
                         "probs": heldout.loc[protein["id"], [COLUMN_NAMES[c] for c in CLASSES]]
                         .to_numpy(dtype=float)})
    frame = pd.DataFrame(rows)
    print("| proteins | with a hit (E <= 1e-5) | top-hit label right | model right | "
          "mix right | model MCC | mix MCC |\n|---|---|---|---|---|---|---|")
    for name, part in (("all", frame), ("benchmark", frame[frame["in_benchmark"]])):
        hit = part[part["hit_label"].notna()]
        mixed = [CLASSES[int(np.argmax(r.probs + r.identity * np.eye(6)[CLASSES.index(r.hit_label)]))]
                 for r in hit.itertuples()]
        print(f"| {name} ({len(part):,}) | {len(hit):,} ({len(hit) / max(len(part), 1):.1%}) | "
              f"{(hit['hit_label'] == hit['label']).mean():.3f} | "
              f"{(hit['prediction'] == hit['label']).mean():.3f} | "
              f"{np.mean(np.array(mixed) == hit['label'].to_numpy()):.3f} | "
              f"{mcc(hit['label'], hit['prediction']):.3f} | {mcc(hit['label'], mixed):.3f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
