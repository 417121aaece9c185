"""A logistic-regression stacker over the default checkpoint set's members (protloc.stacking),
chosen on validation rows only, then applied once to the test folds.

    .venv/bin/python scripts/stacking_experiment.py data_build/dataset checkpoints/default \
        docs/results/stacking > docs/results/stacking/choices.md
    .venv/bin/python scripts/compare_models.py data_build/dataset checkpoints/default \
        docs/results/stacking/heldout_stacked.csv

Inputs: the set's fusion predictions (``validation.csv``: each fold model's validation fold;
``heldout_fusion.csv``: its test fold) and, in the results folder, its boosting trees'
predictions on the same rows (``boost_val.csv.gz``, ``boost_heldout.csv.gz``, written by
``protloc train`` into ``runs/fold_k/``) and each protein's top homology hit in the fold model's
training folds (``hits_val.csv.gz``, ``hits_test.csv.gz``: ``protloc.homology_mix.fold_hits``).
Choices (group interactions or not, the vote as a feature or mixed in afterwards with which
weight, the regularisation C, one temperature on the DeepLocPro validation proteins) are made on
cross-fitted validation rows; each test fold's stacker never sees a protein of that fold.
Writes ``heldout_stacked.csv`` into the results folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from protloc import stacking
from protloc.classes import CLASSES, apply_group_rule
from protloc.homology_mix import top_hits
from protloc.mixing import PROBS
from protloc.neighbours import vote

C_GRID = (0.01, 0.1, 1.0)
VOTE_WEIGHTS = (0.5, 1.0, 2.0)
CALIBRATE_ON = "deeplocpro_benchmark"


def read_hits(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id": str, "hit": str, "label": str, "source": str},
                       keep_default_na=False, na_values={"identity": "", "coverage": "",
                                                         "evalue": ""})


def with_group_rule(probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = probs.copy()
    for group in ("positive", "archaea"):
        pick = groups == group
        out[pick] = apply_group_rule(out[pick], group)
    return out


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    z = np.log(np.clip(probs, 1e-12, None)) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def load(dataset_dir: Path, ckpt: Path, results: Path):
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t",
                        usecols=["id", "source", "group", "partition"]).set_index("id")
    val = pd.read_csv(ckpt / "validation.csv")
    boost_val = pd.read_csv(results / "boost_val.csv.gz").set_index(["id", "model_fold"])
    boost_val = boost_val.loc[list(zip(val["id"], val["model_fold"]))]
    hits_val = top_hits(read_hits(results / "hits_val.csv.gz"), val["id"])  # one row a protein
    test = pd.read_csv(ckpt / "heldout_fusion.csv")
    boost_test = pd.read_csv(results / "boost_heldout.csv.gz").set_index("id").loc[test["id"]]
    hits_test = top_hits(read_hits(results / "hits_test.csv.gz"), test["id"])
    return table, val, boost_val, hits_val, test, boost_test, hits_test


def main(argv: list[str]) -> int:
    from sklearn.metrics import log_loss

    dataset_dir, ckpt, results = (Path(a) for a in argv[:3])
    table, val, boost_val, hits, test, boost_test, test_hits = load(dataset_dir, ckpt, results)
    y = np.array([CLASSES.index(c) for c in val["label"]])
    groups = table.loc[val["id"], "group"].to_numpy()
    model_fold = val["model_fold"].to_numpy()
    partition = table.loc[val["id"], "partition"].to_numpy()
    calib = (table.loc[val["id"], "source"] == CALIBRATE_ON).to_numpy()
    pf, pb = val[PROBS].to_numpy(), boost_val[PROBS].to_numpy()
    options = {}
    for by_group in (False, True):
        for c in C_GRID:
            x = stacking.features(pf, pb, groups, stacking.vote_matrix(hits), by_group)
            options[(by_group, "feature", c)] = stacking.cross_fitted(x, y, model_fold, c)
            plain = stacking.cross_fitted(stacking.features(pf, pb, groups, None, by_group),
                                          y, model_fold, c)
            for w in VOTE_WEIGHTS:
                options[(by_group, w, c)] = vote(plain, hits, w)
    best, scores = stacking.choose(options, y)
    grid = np.exp(np.linspace(np.log(0.3), np.log(3.0), 61))
    chosen = with_group_rule(options[best], groups)
    temperature = float(min(grid, key=lambda t: log_loss(
        y[calib], soften(chosen[calib], t), labels=range(len(CLASSES)))))
    print("| group interactions | homology vote | C | validation MCC (cross-fitted) |")
    print("|---|---|---|---|")
    for key, score in scores.items():
        mark = " **chosen**" if key == best else ""
        vote_text = "as features" if key[1] == "feature" else f"after, weight {key[1]}"
        print(f"| {'yes' if key[0] else 'no'} | {vote_text} | {key[2]} | {score:.4f}{mark} |")
    print(f"\nTemperature on the {calib.sum()} validation rows from {CALIBRATE_ON}: "
          f"{temperature:.3f}")
    by_group, how, c = best
    test_groups = table.loc[test["id"], "group"].to_numpy()
    out = np.zeros((len(test), len(CLASSES)))
    tf, tb = test[PROBS].to_numpy(), boost_test[PROBS].to_numpy()
    x_val = stacking.features(pf, pb, groups, stacking.vote_matrix(hits) if how == "feature"
                              else None, by_group)
    x_test = stacking.features(tf, tb, test_groups, stacking.vote_matrix(test_hits)
                               if how == "feature" else None, by_group)
    for k in range(5):
        pick = test["partition"].to_numpy() == k
        model = stacking.test_fold_stacker(x_val, y, partition, k, c)
        out[pick] = stacking.predict(model, x_test[pick])
    if how != "feature":
        out = vote(out, test_hits, how)
    out = soften(out, temperature)
    frame = test[["id", "partition", "label"]].copy()
    frame["prediction"] = [CLASSES[i] for i in out.argmax(axis=1)]
    for j, column in enumerate(PROBS):
        frame[column] = out[:, j]
    frame.to_csv(results / "heldout_stacked.csv", index=False, float_format="%.5f")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
