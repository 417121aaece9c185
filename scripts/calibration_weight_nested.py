"""How stable the default's calibration weight is, partially nested: the same choice (how many
times the DeepLocPro validation rows count in the stacker's fit, 1-4, by their cross-fitted MCC
after the temperature and the group rule) made once per test fold, scored on the DeepLocPro
validation rows of proteins outside that fold only, instead of once on all of them; then the
benchmark figures of that choice, each test fold taken from the held-out predictions made with
the weight it picks (docs/results/calibration_weight.md). Only the scoring is nested: the
cross-fitted probabilities scored, and the stacker's form and C, come from all validation rows
(scripts/nested_stacking.py nests everything).

    .venv/bin/python scripts/calibration_weight_nested.py data_build/dataset checkpoints/default \
        docs/results/joined /tmp/unirep-v11/heldout.csv

The last argument: the same set's held-out predictions with weight 1 (unirep-v11's); the
checkpoint's own are those of the weight it chose.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, matthews_corrcoef

from protloc import stacking

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.compare_models import load
    from scripts.stacking_experiment import CALIBRATE_ON, run_dir
except ModuleNotFoundError:
    from compare_models import load
    from stacking_experiment import CALIBRATE_ON, run_dir

WEIGHTS = (1.0, 2.0, 3.0, 4.0)


def weighted_options(v: dict, pick: np.ndarray) -> dict[float, np.ndarray]:
    """Cross-fitted validation probabilities of the set's stacker form for every weight."""
    by_group, vote, c = v["best"]
    setting = {"by_group": by_group, "vote": vote, "c": c}
    x = stacking.member_inputs(setting, v["fusion"], v["boosting"], v["groups"], v["hits"])
    return {w: stacking.weighted(x, v, setting, pick, w) for w in WEIGHTS}


def main(argv: list[str]) -> int:
    dataset_dir, ckpt, results, heldout_w1 = (Path(a) for a in argv[:4])
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").astype({"partition": int})
    shipped = json.loads((ckpt / "manifest.json").read_text()).get("stacking") or {}
    chosen = float(shipped.get("calibration_weight", 1.0))
    with tempfile.TemporaryDirectory() as tmp:
        v = stacking.validation_options(run_dir(ckpt, results, Path(tmp)).parent, table)
    pick = np.isin(v["ids"], table.loc[table["source"] == CALIBRATE_ON, "id"])
    options = weighted_options(v, pick)
    print("| test fold | " + " | ".join(f"W {w:g}" for w in WEIGHTS) + " | picked |")
    print("|---|" + "---|" * (len(WEIGHTS) + 1))
    picked = {}
    for k in range(5):
        rows = pick & (v["partition"] != k)
        scores = {w: stacking.calibrated_mcc(p[rows], v["y"][rows], v["groups"][rows])
                  for w, p in options.items()}
        picked[k] = max(scores, key=lambda w: round(scores[w], 4))
        print(f"| {k} | " + " | ".join(f"{scores[w]:.4f}" for w in WEIGHTS) + f" | {picked[k]:g} |")
    calls = {1.0: load(heldout_w1, table)}
    if chosen != 1.0:  # a set that chose weight 1 is HELDOUT_W1's procedure itself
        calls[chosen] = load(ckpt, table)
    if not set(picked.values()) <= set(calls):
        print(f"\nA fold picked a weight without held-out predictions here: {picked}")
        return 1
    ids = calls[1.0].index
    nested = pd.concat([calls[picked[k]].loc[ids][lambda t, k=k: t["partition"] == k]
                        for k in range(5)]).loc[ids]
    print("\n| benchmark (1,131), group rule | MCC | macro-F1 |\n|---|---|---|")
    for name, frame in (("weight 1 everywhere", calls[1.0]),
                        (f"weight {chosen:g} everywhere (the set's)", calls[chosen]),
                        ("weight chosen per test fold (partially nested)", nested)):
        b = frame.loc[ids][lambda t: t["in_benchmark"]]
        print(f"| {name} | {matthews_corrcoef(b['label'], b['call']):.4f} "
              f"| {f1_score(b['label'], b['call'], average='macro'):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
