"""Checkpoint sets side by side on the same held-out proteins, with paired bootstrap intervals.

    .venv/bin/python scripts/compare_models.py data_build/dataset BASELINE OTHER [OTHER ...] \
        > docs/results/comparison.md

For every checkpoint: its committed ``heldout.csv`` (each protein predicted by the fold model that
never saw it), DeepLocPro's organism-group rule applied, on the 1,131 DeepLocPro benchmark
proteins and on all proteins: accuracy, macro-F1, MCC, ECE, MCC per organism group; then
MCC(other) - MCC(baseline) with a paired bootstrap 95% interval (1,000 resamples, seed 0).
A checkpoint may also name a held-out file inside it (``DIR/heldout_fusion.csv``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from protloc.classes import CLASSES, COLUMN_NAMES, apply_group_rules
from protloc.metrics import calibration, mcc, paired_bootstrap

PROBS = [COLUMN_NAMES[c] for c in CLASSES]


def load(path: Path, dataset: pd.DataFrame) -> pd.DataFrame:
    """Held-out rows joined to the dataset's group and benchmark flag, group rule applied."""
    file = path if path.suffix == ".csv" else path / "heldout.csv"
    table = pd.read_csv(file).merge(dataset[["id", "group", "in_benchmark"]], on="id")
    probs = apply_group_rules(table[PROBS].to_numpy(dtype=float), table["group"])
    table[PROBS] = probs
    table["call"] = [CLASSES[i] for i in probs.argmax(axis=1)]
    return table.set_index("id")


def figures(table: pd.DataFrame) -> dict[str, float]:
    y, p = table["label"], table["call"]
    out = {"n": len(table), "acc": accuracy_score(y, p), "f1": f1_score(y, p, average="macro"),
           "mcc": mcc(y, p), "ece": calibration(table[PROBS].to_numpy(), list(y))["ece"]}
    for group in ("negative", "positive", "archaea"):
        part = table[table["group"] == group]
        out[group] = mcc(part["label"], part["call"]) if len(part) else float("nan")
    return out


def main(dataset_dir: Path, paths: list[Path]) -> None:
    dataset = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t", keep_default_na=False)
    dataset["in_benchmark"] = dataset["in_benchmark"].astype(str).str.lower() == "true"
    tables = [load(p, dataset) for p in paths]
    ids = tables[0].index
    for path, table in zip(paths, tables):
        if set(table.index) != set(ids):
            raise SystemExit(f"{path}: not the same proteins as {paths[0]}")
    for name, pick in (("DeepLocPro benchmark proteins", lambda t: t[t["in_benchmark"]]),
                       ("all held-out proteins", lambda t: t)):
        print(f"\n### {name}\n")
        print("| checkpoint | n | accuracy | macro-F1 | MCC | ECE | MCC Gram− | MCC Gram+ | "
              "MCC Archaea | ΔMCC vs first, 95% CI |\n|---|---|---|---|---|---|---|---|---|---|")
        base = pick(tables[0])
        for path, table in zip(paths, tables):
            part = pick(table).loc[base.index]
            f = figures(part)
            if part is base or path == paths[0]:
                delta = "–"
            else:
                lo, hi = paired_bootstrap(base["label"].to_numpy(), base["call"].to_numpy(),
                                          part["call"].to_numpy())
                delta = f"{f['mcc'] - figures(base)['mcc']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            print(f"| {path} | {f['n']:,} | {f['acc']:.3f} | {f['f1']:.3f} | {f['mcc']:.3f} | "
                  f"{f['ece']:.3f} | {f['negative']:.3f} | {f['positive']:.3f} | "
                  f"{f['archaea']:.3f} | {delta} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
