"""Top-label calibration after the stacker's temperature, judged on validation rows only.

The temperature is fitted by log-loss over all six classes; the calibration error the issue
asks about (ECE) is over the top label only. A map of the top label's probability alone
(Platt: a logistic regression on its logit; isotonic: scikit-learn's IsotonicRegression), with
the other classes scaled to fill the rest, recalibrates that figure without moving any call:
the top label stays the top label (its new probability is kept at or above the level where a
second class would overtake it).

Everything is cross-fitted by fold model on the DeepLocPro-labelled validation rows, as the
stacker's temperature is chosen: each fold model's rows get a temperature and a map fitted on
the other fold models' rows only. Printed: ECE, log-loss and MCC (which must not move) for the
temperature alone and with each map. Test folds and the benchmark are not read.

    .venv/bin/python scripts/top_label_calibration.py data_build/dataset checkpoints/default \
        docs/results/joined

``--heldout DATASET NEW OLD``: after the choice, the benchmark ECE of two sets' held-out
predictions and their difference with a paired bootstrap interval.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

from protloc import stacking, top_label
from protloc.classes import CLASSES, apply_group_rules
from protloc.metrics import calibration, mcc
from protloc.mixing import PROBS

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.group_temperature import calibration_rows
    from scripts.stacking_experiment import CALIBRATE_ON
except ModuleNotFoundError:
    from group_temperature import calibration_rows
    from stacking_experiment import CALIBRATE_ON


def _platt(seen, y, probs):
    return top_label.apply_platt(probs, top_label.fit_platt(seen, y))


def _isotonic(seen, y, probs):
    from sklearn.isotonic import IsotonicRegression

    correct = (seen.argmax(axis=1) == y).astype(float)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(seen.max(axis=1), correct)
    return top_label.with_top(probs, iso.predict(probs.max(axis=1)))


#: A top-label map fitted on ``seen`` probabilities and labels, applied to ``probs``.
MAPS = {"platt": _platt, "isotonic": _isotonic}


def cross_fitted(probs, y, groups, model_fold, kind: str | None, fit_on: str = "rule"):
    """Each fold model's rows: a temperature, then (``kind``) a top-label map, both fitted on
    the other fold models' rows, then DeepLocPro's group rule. The map is applied before the
    rule, where the set's temperature is (``protloc.stacking.finish``); it is fitted on the
    probabilities after the rule (``fit_on="rule"``, as the temperature is) or before it."""
    out = np.zeros_like(probs)
    for k in np.unique(model_fold):
        fit, rows = model_fold != k, model_fold == k
        t = stacking.fit_temperature(probs[fit], y[fit], groups[fit])
        setting = {"vote": "none", "temperature": t}
        out[rows] = stacking.finish(probs[rows], None, setting)
        if kind is not None:
            seen = stacking.finish(probs[fit], None, setting)
            if fit_on == "rule":
                seen = apply_group_rules(seen, groups[fit])
            out[rows] = MAPS[kind](seen, y[fit], out[rows])
        out[rows] = apply_group_rules(out[rows], groups[rows])
    return out


def heldout_ece(dataset_dir: Path, new: Path, old: Path, resamples: int = 1000) -> str:
    """Benchmark ECE of two held-out tables (``heldout.csv`` of a set, or a set's folder) and
    their difference with a paired bootstrap 95% interval (seed 0), the group rule applied."""
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").set_index("id")
    bench = table[table["source"] == CALIBRATE_ON]
    labels = np.array(bench["label"].tolist(), dtype=object)

    def probs(path: Path) -> np.ndarray:
        frame = pd.read_csv(path / "heldout.csv" if path.is_dir() else path).set_index("id")
        return apply_group_rules(frame.loc[bench.index, PROBS].to_numpy(),
                                 bench["group"].tolist())

    a, b = probs(old), probs(new)
    ece = lambda p, i: calibration(p[i], list(labels[i]))["ece"]  # noqa: E731
    rng, n = np.random.default_rng(0), len(labels)
    every = np.arange(n)
    diffs = []
    for _ in range(resamples):
        i = rng.integers(0, n, n)
        diffs.append(ece(b, i) - ece(a, i))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return (f"{n:,} benchmark proteins: ECE {ece(a, every):.4f} -> {ece(b, every):.4f}, "
            f"difference {ece(b, every) - ece(a, every):+.4f} [{lo:+.4f}, {hi:+.4f}]")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--heldout"]:
        print(heldout_ece(*(Path(a) for a in argv[1:4])))
        return 0
    probs, y, groups, model_fold = calibration_rows(*(Path(a) for a in argv[:3]))
    print("| calibration | ECE | log-loss | MCC | calls moved |\n|---|---|---|---|---|")
    base = None
    for name, kind, fit_on in (
            ("temperature", None, "rule"),
            ("+ top-label Platt, fitted after the rule", "platt", "rule"),
            ("+ top-label Platt, fitted before the rule", "platt", "none"),
            ("+ top-label isotonic, fitted after the rule", "isotonic", "rule"),
            ("+ top-label isotonic, fitted before the rule", "isotonic", "none")):
        p = cross_fitted(probs, y, groups, model_fold, kind, fit_on)
        calls = p.argmax(axis=1)
        base = calls if base is None else base
        ece = calibration(p, [CLASSES[i] for i in y])["ece"]
        loss = log_loss(y, np.clip(p, 1e-12, None), labels=range(len(CLASSES)))
        print(f"| {name} | {ece:.4f} | {loss:.4f} | {mcc(y, calls):.4f} | "
              f"{int((calls != base).sum())} |")
    print(f"\n{len(y):,} validation rows from {CALIBRATE_ON}, cross-fitted by fold model.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
