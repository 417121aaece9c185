"""The gradient-boosting member of a checkpoint set, and how much it weighs beside the fusion
models. Everything here is fitted on validation folds:

1. per test fold k, boosting trees are trained on the same training folds as fusion model k,
   their number chosen on validation fold k+1 (:func:`protloc.boosting.fit`);
2. the weight ``w`` of boosting in ``(1 - w) * fusion + w * boosting`` is the one, on a grid,
   with the best MCC over every fold model's validation predictions (``validation.csv``);
3. one temperature for the mix, ``p ∝ mix^(1/T)``, minimises the validation log-loss; or,
   when calibration proteins are named (``boosting: {calibrate_on: [source, ...]}`` in the
   config), one temperature per fold model, fitted on the named proteins of that model's own
   validation fold only (cross-fitted: no protein's label sets the temperature of the model
   that predicts it as a test protein).

Several boosting seeds per fold (``boosting: {seeds: N}``) are averaged, like the fusion seed
networks; ``boosting: {streams: [embedder id, ...]}`` restricts the trees to some streams. Both
are choices for validation folds to make. :func:`train_boosting` can also give the trees a
protein-level state per protein (``states``, e.g. UniRep-1900's mean hidden state), projected
on principal components of each fold's training proteins (:func:`protloc.boosting.fit_projection`;
``scripts/pooled_state_trees.py`` measures it; the predictor does not read such trees yet).

The test folds are predicted once, at the end, with what was chosen; they choose nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .boosting import (fit, fit_projection, pooled_matrix, predict_raw, tree_arrays,
                       with_projection)
from .classes import CLASSES, COLUMN_NAMES, GROUPS

WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
MIN_CALIBRATION = 20  # proteins per fold below which a per-fold temperature is noise
PROBS = [COLUMN_NAMES[c] for c in CLASSES]


def softmax(raw: np.ndarray) -> np.ndarray:
    z = np.exp(raw - raw.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def mix(fusion: np.ndarray, boosting: np.ndarray, weight: float, temperature: float = 1.0):
    """Weighted average of two probability tables, then sharpened or softened by 1/T."""
    p = (1.0 - weight) * fusion + weight * boosting
    logp = np.log(np.clip(p, 1e-12, None)) / temperature
    return softmax(logp)


def train_boosting(
    data, ids: Sequence[str], partitions: np.ndarray, out_dir: Path, folds: Sequence[int],
    trainable: np.ndarray | None, settings: dict[str, Any], group_dropout: float, seed: int,
    log: Callable[[str], None] = print, seeds: int = 1, streams: Sequence[int] | None = None,
    states: np.ndarray | None = None, components: int = 0, row_weight: np.ndarray | None = None,
) -> None:
    """Boosting trees per test fold into ``boost_fold_k.safetensors``, with validation and
    test predictions beside the fusion model's in ``runs/fold_k/``. With ``seeds`` > 1, more
    trees per fold (seeds seed+1, ...) in ``boost_fold_k_seed{s}.safetensors``, their tables
    in ``runs/fold_k/boost_seed_{s}/`` and the fold's tables their average; ``streams``: the
    indices of the streams the trees read (all when None); ``states``: (n, d) protein-level
    states the trees also read through ``components`` principal components of fold k's
    training rows (stored in the trees' file); ``row_weight``: (n,) weights of the proteins in
    the trees' fit (multiplied into the class balance; validation and test rows unweighted)."""
    from .training import _average_tables

    if states is not None and not (isinstance(components, int) and
                                   1 <= components <= states.shape[1]):
        raise ValueError(f"components must be from 1 to {states.shape[1]} (the states' width), "
                         f"not {components!r}")
    x = None
    for k in folds:
        fold_dir = out_dir / "runs" / f"fold_{k}"
        if (fold_dir / "boost_heldout.csv").exists():
            log(f"boosting fold {k}: already trained, skipping")
            continue
        for s in range(seeds):
            run_dir = fold_dir if seeds == 1 else fold_dir / f"boost_seed_{s}"
            if (run_dir / "boost_heldout.csv").exists():
                continue
            if x is None:
                x = pooled_matrix(_pick(data.streams, streams), data.groups)
            run_dir.mkdir(parents=True, exist_ok=True)
            name = boosting_file(k, s)
            rounds = _fit_fold(x, data.labels, ids, partitions, k, trainable, settings,
                               group_dropout, seed + s, out_dir / name, run_dir,
                               (states, components), row_weight)
            log(f"boosting fold {k}" + (f" seed {seed + s}" if seeds > 1 else "") +
                f": {rounds} rounds")
        if seeds > 1:
            for table in ("boost_val.csv", "boost_heldout.csv"):
                _average_tables([fold_dir / f"boost_seed_{s}" / table for s in range(seeds)],
                                fold_dir / table)


def boosting_file(fold: int, s: int) -> str:
    return f"boost_fold_{fold}.safetensors" if s == 0 else f"boost_fold_{fold}_seed{s}.safetensors"


def _pick(proteins, streams: Sequence[int] | None):
    return proteins if streams is None else [[p[i] for i in streams] for p in proteins]


def _fit_fold(x, labels, ids, partitions, k, trainable, settings, group_dropout, seed, path,
              run_dir, projected=(None, 0), row_weight=None) -> int:
    """One set of trees for test fold k, early-stopped on fold k+1, and its two tables;
    returns the number of boosting rounds kept."""
    from safetensors.numpy import save_file

    from .training import fold_split

    train, val, test = fold_split(partitions, k, trainable)
    states, components = projected
    projection = {} if states is None else fit_projection(states[train], components, seed)
    x = with_projection(x, states, projection)
    unknown = x.shape[1] - len(GROUPS)  # first group column: "unknown"
    x_train = x[train].copy()
    hide = np.random.default_rng([seed, k]).random(len(train)) < group_dropout
    x_train[hide, unknown:] = 0.0
    x_train[hide, unknown] = 1.0
    model = fit(x_train, labels[train], x[val], labels[val], len(CLASSES), seed=seed,
                row_weight=None if row_weight is None else row_weight[train], **settings)
    arrays = tree_arrays(model)
    save_file({**arrays, **projection}, str(path))
    for name, index, part in (("boost_val.csv", val, (k + 1) % 5), ("boost_heldout.csv", test, k)):
        probs = softmax(predict_raw(arrays, x[index]))
        _table([ids[i] for i in index], part, labels[index], probs, k).to_csv(
            run_dir / name, index=False, float_format="%.5f")
    return len(model._predictors)


def _table(ids, partition, labels, probs, model_fold) -> pd.DataFrame:
    table = pd.DataFrame({"id": ids, "partition": partition,
                          "label": [CLASSES[i] for i in labels],
                          "prediction": [CLASSES[i] for i in probs.argmax(axis=1)]})
    for j, column in enumerate(PROBS):
        table[column] = probs[:, j]
    table["model_fold"] = model_fold
    return table


def choose_mix(
    out_dir: Path, folds: Sequence[int], calibration_ids: set[str] | None = None,
    calibrated_on: str = "", min_proteins: int = MIN_CALIBRATION, seeds: int = 1,
) -> dict[str, Any]:
    """Weight and temperature on the validation predictions; writes the mixed heldout.csv
    (the fusion-only one is kept as heldout_fusion.csv) and returns the manifest entry.
    With ``calibration_ids``, each fold model gets its own temperature, fitted on those of its
    validation proteins (``calibrated_on`` says which, for the manifest)."""
    from sklearn.metrics import matthews_corrcoef

    runs = out_dir / "runs"
    fusion_val = pd.concat(pd.read_csv(runs / f"fold_{k}" / "val.csv").assign(model_fold=k)
                           for k in folds)
    boost_val = pd.concat(pd.read_csv(runs / f"fold_{k}" / "boost_val.csv") for k in folds)
    assert (fusion_val["id"].to_numpy() == boost_val["id"].to_numpy()).all()
    y = np.array([CLASSES.index(c) for c in fusion_val["label"]])
    pf, pb = fusion_val[PROBS].to_numpy(), boost_val[PROBS].to_numpy()
    scores = {w: matthews_corrcoef(y, mix(pf, pb, w).argmax(1)) for w in WEIGHTS}
    weight = max(WEIGHTS, key=lambda w: (round(scores[w], 4), -w))
    temperature = _temperature(y, pf, pb, weight)
    temperatures = {k: temperature for k in folds}
    if calibration_ids is not None:
        for k in folds:
            pick = ((fusion_val["model_fold"] == k) & fusion_val["id"].isin(calibration_ids)).to_numpy()
            if pick.sum() < min_proteins:
                raise ValueError(f"fold {k}: only {pick.sum()} calibration proteins in its "
                                 f"validation fold (at least {min_proteins} needed)")
            temperatures[k] = _temperature(y[pick], pf[pick], pb[pick], weight)
    for k in folds:  # each fold model's validation predictions as the ensemble mixes them
        pick = (fusion_val["model_fold"] == k).to_numpy()
        probs = mix(pf[pick], pb[pick], weight, temperatures[k])
        _table(fusion_val["id"][pick], (k + 1) % 5, y[pick], probs, k).to_csv(
            runs / f"fold_{k}" / "val_mixed.csv", index=False, float_format="%.5f")
    heldout = []
    for k in folds:
        fusion = pd.read_csv(runs / f"fold_{k}" / "heldout.csv")
        boost = pd.read_csv(runs / f"fold_{k}" / "boost_heldout.csv")
        probs = mix(fusion[PROBS].to_numpy(), boost[PROBS].to_numpy(), weight, temperatures[k])
        y_test = np.array([CLASSES.index(c) for c in fusion["label"]])
        heldout.append(_table(fusion["id"], k, y_test, probs, k).drop(columns="model_fold"))
    if (out_dir / "heldout.csv").exists():
        (out_dir / "heldout.csv").replace(out_dir / "heldout_fusion.csv")
    pd.concat(heldout).to_csv(out_dir / "heldout.csv", index=False, float_format="%.5f")
    entry = {"weight": weight, "temperature": round(temperature, 4),
             "folds": {str(k): _fold_files(k, seeds) for k in folds},
             "validation_mcc_by_weight": {str(w): round(s, 4) for w, s in scores.items()}}
    if calibration_ids is not None:
        entry["temperatures"] = {str(k): round(t, 4) for k, t in temperatures.items()}
        entry["calibrated_on"] = calibrated_on
    (runs / "mix.json").write_text(json.dumps(entry, indent=2))
    return entry


def _fold_files(fold: int, seeds: int) -> str | list[str]:
    """A fold's trees in the manifest: one file, or a list whose probabilities are averaged."""
    files = [boosting_file(fold, s) for s in range(seeds)]
    return files[0] if seeds == 1 else files


def _temperature(y: np.ndarray, fusion: np.ndarray, boosting: np.ndarray, weight: float) -> float:
    """The temperature on a log grid (0.3-3) with the least log-loss of the mix."""
    from sklearn.metrics import log_loss

    grid = np.exp(np.linspace(np.log(0.3), np.log(3.0), 61))
    return float(min(grid, key=lambda t: log_loss(y, mix(fusion, boosting, weight, t),
                                                  labels=range(len(CLASSES)))))


def fold_temperature(setting: dict[str, Any], test_fold: int) -> float:
    """The mix temperature of one fold model: its own when calibrated per fold."""
    return float(setting.get("temperatures", {}).get(str(test_fold), setting.get("temperature", 1.0)))
