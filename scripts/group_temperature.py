"""One temperature after the stacker, or one per organism group? Both fitted (log-loss, the
stage's grid) and measured cross-fitted by fold model on the DeepLocPro-labelled validation rows
of a checkpoint set: the temperatures of each fold's fit, then ECE and log-loss. Validation rows
only; the test folds and the benchmark are not read.

    .venv/bin/python scripts/group_temperature.py data_build/dataset checkpoints/default \
        docs/results/joined
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

from protloc import stacking
from protloc.classes import CLASSES
from protloc.metrics import calibration

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.stacking_experiment import CALIBRATE_ON, run_dir
except ModuleNotFoundError:
    from stacking_experiment import CALIBRATE_ON, run_dir


def cross_fitted(probs, y, groups, model_fold, by_group: bool) -> tuple[np.ndarray, list[str]]:
    """Each fold model's rows scaled by temperatures fitted on the other fold models' rows."""
    out, fitted = np.zeros_like(probs), []
    parts = [(g, groups == g) for g in stacking.GROUPS if (groups == g).any()] if by_group \
        else [("all", groups == groups)]
    for k in np.unique(model_fold):
        temps = []
        for name, rows in parts:
            train, test = rows & (model_fold != k), rows & (model_fold == k)
            t = stacking.fit_temperature(probs[train], y[train], groups[train])
            out[test] = stacking.calibrated(probs[test], groups[test], t)
            temps.append(f"{name} {t:.2f}")
        fitted.append(f"fold {k}: " + ", ".join(temps))
    return out, fitted


def calibration_rows(dataset_dir: Path, ckpt: Path, results: Path):
    """The set's chosen stacker's cross-fitted validation probabilities on the rows its
    temperature is fitted on (CALIBRATE_ON): probabilities, labels, groups, fold models."""
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").astype({"partition": int})
    with tempfile.TemporaryDirectory() as tmp:
        v = stacking.validation_options(run_dir(ckpt, results, Path(tmp)).parent, table)
    keep = np.isin(v["ids"], table.loc[table["source"] == CALIBRATE_ON, "id"])
    return (v["options"][v["best"]][keep], v["y"][keep],
            np.asarray(v["groups"], dtype=object)[keep], v["model_fold"][keep])


def main(argv: list[str]) -> int:
    probs, y, groups, model_fold = calibration_rows(*(Path(a) for a in argv[:3]))
    if not set(groups) <= set(stacking.GROUPS):
        print("group_temperature: every calibration row needs an organism group", file=sys.stderr)
        return 2
    print("| temperature | ECE | log-loss | per fold model |\n|---|---|---|---|")
    for by_group in (False, True):
        p, fitted = cross_fitted(probs, y, groups, model_fold, by_group)
        ece = calibration(p, [CLASSES[i] for i in y])["ece"]
        print(f"| {'one per group' if by_group else 'one'} | {ece:.4f} | "
              f"{log_loss(y, p, labels=range(len(CLASSES))):.4f} | {'; '.join(fitted)} |")
    print(f"\n{len(y)} validation rows from {CALIBRATE_ON}, cross-fitted by fold model.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
