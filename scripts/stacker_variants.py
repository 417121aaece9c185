"""Variants of a checkpoint set's stacker, judged on validation rows only (cross-fitted by fold
model, as ``protloc.stacking.fit_stage`` chooses): the stacker's own form as the baseline, then

* ``bias``: a per-class bias after the temperature, both fitted by log-loss on the
  DeepLocPro-labelled validation rows (a prior shift learned from labels, not EM);
* ``weight W``: the stacker fitted with the DeepLocPro-labelled rows counted W times (in the
  regression; the standardisation is unweighted);
* ``+ logistic``, ``+ knn``: a third member beside the networks and the trees, fitted per fold
  model on its training folds (its setting chosen on its validation fold): a logistic regression
  on the trees' pooled features, or cosine nearest neighbours on the pooled UniRep mean state
  (its setting picked on the fold model's validation rows, the rows the stacker is then scored
  on: 2-3 values each, a small optimism).

Each variant's temperature is fitted, cross-fitted by fold model, on the DeepLocPro-labelled
validation rows, with DeepLocPro's group rule applied after. Printed: MCC on all validation rows
and on the DeepLocPro-labelled ones, the difference from the baseline there with a paired
bootstrap 95% interval, ECE and log-loss there. Test folds and the benchmark are not read.

    .venv/bin/python scripts/stacker_variants.py data_build/dataset checkpoints/default \
        docs/results/joined configs/unirep_v4.yaml /work/cache
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.metrics import log_loss

from protloc import stacking
from protloc.classes import CLASSES, apply_group_rules
from protloc.metrics import calibration, mcc, paired_bootstrap
from protloc.mixing import softmax

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.group_temperature import cross_fitted as temperature_cross_fitted
    from scripts.stacking_experiment import CALIBRATE_ON, run_dir
except ModuleNotFoundError:
    from group_temperature import cross_fitted as temperature_cross_fitted
    from stacking_experiment import CALIBRATE_ON, run_dir

WEIGHTS = (2.0, 3.0, 4.0)


def with_bias(probs: np.ndarray, groups, params: np.ndarray) -> np.ndarray:
    """log-probabilities / temperature + a bias per class (the first class's fixed at 0)."""
    z = np.log(np.clip(probs, 1e-12, None)) / np.exp(params[0]) + np.r_[0.0, params[1:]]
    return apply_group_rules(softmax(z), groups)


def bias_cross_fitted(probs, y, groups, model_fold) -> np.ndarray:
    """Each fold model's rows scaled and shifted by parameters fitted on the other models'."""
    out = np.zeros_like(probs)
    start = np.r_[np.log(1.4), np.zeros(len(CLASSES) - 1)]
    for k in np.unique(model_fold):
        fit, rows = model_fold != k, model_fold == k
        loss = lambda w: log_loss(y[fit], with_bias(probs[fit], groups[fit], w),  # noqa: E731
                                  labels=range(len(CLASSES)))
        params = minimize(loss, start, method="Powell").x
        out[rows] = with_bias(probs[rows], groups[rows], params)
    return out


def stacked(x, y, model_fold, c, hits, vote, sample_weight=None) -> np.ndarray:
    """Cross-fitted stacker probabilities (before the temperature), optionally weighted."""
    out = stacking.cross_fitted(x, y, model_fold, c, sample_weight)
    return stacking.finish(out, hits, {"vote": vote, "temperature": 1.0})


def extra_members(v, dataset_dir: Path, config: Path, cache: Path) -> dict[str, np.ndarray]:
    """Logistic-regression and nearest-neighbour members' validation probabilities on v's rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    from protloc.boosting import pooled_matrix
    from protloc.embedders import make_embedder
    from protloc.experiment import embed_table, load_config, load_dataset
    from protloc.training import fold_split

    cfg = load_config(config)
    table = load_dataset(dataset_dir, cfg.get("sources"))
    specs = [make_embedder(s).spec() for s in cfg["embedders"]]
    data = embed_table(table, specs, cache, lambda m: None)
    x, labels = pooled_matrix(data.streams, data.groups), np.asarray(data.labels)
    ids, partitions = table["id"].to_numpy(), table["partition"].to_numpy()
    trainable = table["id"].isin(v["ids"]).to_numpy()  # the set's training sources
    lm_dim = data.streams[0][0].shape[1]  # the first stream's mean state comes first
    makers = {"logistic": (lambda c: LogisticRegression(C=c, max_iter=300,
                                                        class_weight="balanced"),
                           (0.001, 0.01, 0.1), slice(None)),
              "knn": (lambda n: KNeighborsClassifier(n, weights="distance", metric="cosine"),
                      (10, 30), slice(0, lm_dim))}
    out = {}
    for name, (make, grid, columns) in makers.items():
        probs = pd.DataFrame(np.nan, index=ids, columns=range(len(CLASSES)))
        for k in range(5):
            train, val, _ = fold_split(partitions, k, trainable)
            xs = StandardScaler().fit(x[train]).transform(x)[:, columns]
            fitted = [make(s).fit(xs[train], labels[train]) for s in grid]
            best = max(fitted, key=lambda m: mcc(labels[val], m.predict(xs[val])))
            probs.iloc[val] = best.predict_proba(xs[val])
        out[name] = probs.loc[v["ids"]].to_numpy()
    return out


def main(argv: list[str]) -> int:
    dataset_dir, ckpt, results, config, cache = (Path(a) for a in argv[:5])
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").astype({"partition": int})
    with tempfile.TemporaryDirectory() as tmp:
        v = stacking.validation_options(run_dir(ckpt, results, Path(tmp)).parent, table)
    y, mf, hits = v["y"], v["model_fold"], v["hits"]
    groups = np.asarray(v["groups"], dtype=object)
    by_group, vote, c = v["best"]
    dlp = np.isin(v["ids"], table.loc[table["source"] == CALIBRATE_ON, "id"])
    raw = {"baseline (the set's stacker)": v["options"][v["best"]]}
    for w in WEIGHTS:
        x = stacking.member_inputs({"vote": vote, "by_group": by_group}, v["fusion"],
                                   v["boosting"], groups, hits)
        raw[f"weight {w:g}"] = stacked(x, y, mf, c, hits, vote, np.where(dlp, w, 1.0))
    for name, probs in extra_members(v, dataset_dir, config, cache).items():
        # the third member's log-probabilities beside the trees' (and their group interactions)
        x = stacking.member_inputs({"vote": vote, "by_group": by_group}, v["fusion"],
                                   np.hstack([v["boosting"], probs]), groups, hits)
        raw[f"+ {name}"] = stacked(x, y, mf, c, hits, vote)
    print("| variant | validation MCC, all rows (stage's score, before the group rule) "
          "| DeepLocPro rows: MCC | difference, 95% CI | ECE | log-loss |")
    print("|---|---|---|---|---|---|")
    base = None
    for name, probs in raw.items():
        calibrated, _ = temperature_cross_fitted(probs[dlp], y[dlp], groups[dlp], mf[dlp], False)
        _row(name, probs, calibrated, y, dlp, base)
        if base is None:
            base = calibrated.argmax(axis=1)
            biased = bias_cross_fitted(probs[dlp], y[dlp], groups[dlp], mf[dlp])
            _row("baseline + class bias", probs, biased, y, dlp, base, all_rows=False)
    print(f"\n{len(y):,} validation rows, {int(dlp.sum()):,} of them from {CALIBRATE_ON}; "
          f"the set's stacker form: group interactions {by_group}, vote {vote}, C {c}.")
    return 0


def _row(name, probs, calibrated, y, dlp, base, all_rows: bool = True) -> None:
    yd, call = y[dlp], calibrated.argmax(axis=1)
    whole = f"{mcc(y, probs.argmax(axis=1)):.4f}" if all_rows else "(as the baseline)"
    diff = "–"
    if base is not None:
        lo, hi = paired_bootstrap(yd, base, call)
        diff = f"{mcc(yd, call) - mcc(yd, base):+.4f} [{lo:+.4f}, {hi:+.4f}]"
    ece = calibration(calibrated, [CLASSES[i] for i in yd])["ece"]
    print(f"| {name} | {whole} | {mcc(yd, call):.4f} | {diff} | {ece:.4f} | "
          f"{log_loss(yd, calibrated, labels=range(len(CLASSES))):.4f} |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
