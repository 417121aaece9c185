"""Would a prior-shift correction help on the benchmark? EM re-estimation of the class prior
(Saerens, Latinne & Decaestecker 2002) on the benchmark proteins' own held-out probabilities,
no labels used; the source prior is the mean held-out probability over all proteins.

    .venv/bin/python scripts/prior_shift.py data_build/dataset checkpoints/default

Prints benchmark accuracy / MCC / ECE before and after, with the estimated and the true prior
(the true one is shown, never used). DeepLocPro's group rule is applied after the correction.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from protloc.classes import CLASSES, COLUMN_NAMES, apply_group_rules
from protloc.metrics import calibration, mcc

PROBS = [COLUMN_NAMES[c] for c in CLASSES]


def em_prior(probs: np.ndarray, source: np.ndarray, steps: int = 500) -> tuple[np.ndarray, np.ndarray]:
    prior = source.copy()
    for _ in range(steps):
        adjusted = probs * (prior / source)
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        new = adjusted.mean(axis=0)
        if np.abs(new - prior).max() < 1e-8:
            break
        prior = new
    return adjusted, prior


def report(name: str, probs: np.ndarray, table: pd.DataFrame) -> None:
    probs = apply_group_rules(probs, table["group"])
    calls = [CLASSES[i] for i in probs.argmax(axis=1)]
    y = table["label"].tolist()
    print(f"| {name} | {np.mean(np.array(calls) == np.array(y)):.3f} | {mcc(y, calls):.3f} | "
          f"{calibration(probs, y)['ece']:.3f} |")


def main(dataset_dir: Path, checkpoint: Path) -> None:
    dataset = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t", keep_default_na=False)
    heldout = pd.read_csv(checkpoint / "heldout.csv").merge(
        dataset[["id", "group", "in_benchmark"]], on="id")
    source = heldout[PROBS].to_numpy().mean(axis=0)
    bench = heldout[heldout["in_benchmark"].astype(str).str.lower() == "true"]
    adjusted, prior = em_prior(bench[PROBS].to_numpy(), source)
    truth = bench["label"].value_counts(normalize=True).reindex(CLASSES).fillna(0).to_numpy()
    print("| class | source prior | EM estimate | true benchmark share |\n|---|---|---|---|")
    for c, a, b, t in zip(CLASSES, source, prior, truth):
        print(f"| {c} | {a:.3f} | {b:.3f} | {t:.3f} |")
    print("\n| benchmark (1,131) | accuracy | MCC | ECE |\n|---|---|---|---|")
    report("as shipped", bench[PROBS].to_numpy(), bench)
    report("EM prior shift", adjusted, bench)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
