"""A second-level model over the ensemble's members, fitted on validation predictions only.

Inputs per protein: the fusion networks' and the boosting trees' log-probabilities, optionally the
homology vote vector (the top hit's identity in its label's column), and the organism group, as
one-hot columns and as group x member interactions, so that how much each member is trusted may
differ between Gram-negative, Gram-positive and archaeal proteins. A standardised multinomial
logistic regression maps them to the six classes.

Honest selection, as everywhere in protloc (one protein is the validation protein of one fold
model, ``model_fold``, and the test protein of another, ``partition``):

* choices (feature set, regularisation) are scored on validation rows, cross-fitted by fold
  model: rows of fold model k are predicted by a stacker fitted on the other models' rows;
* the stacker that predicts test fold k is fitted on validation rows whose protein is **not**
  in partition k, so no test protein's label ever reaches it.

Every set trained with ``stacking: {}`` in its config has one, fitted by :func:`fit_stage`; the
default (unirep-v12, two sets joined by ``scripts/combine_sets.py``) too, with its calibration
rows (DeepLocPro's proteins) counted 3 times in the fit (``calibration_weights``, the weight
chosen on those rows; ``docs/results/calibration_weight.md``).
``docs/results/stacking.md``, ``docs/results/joined.md`` and ``scripts/stacking_experiment.py``
measure and refit them.
An unknown group is all zeros in the one-hot and interaction columns: 9,686 of the dataset's
16,428 proteins (PSORTb's, mostly) have no group, so that case is fitted and measured too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .classes import CLASSES, apply_group_rules, class_index
from .neighbours import Neighbour

if TYPE_CHECKING:
    import pandas as pd

GROUPS = ("negative", "positive", "archaea")  # "unknown" is all zeros
FLOOR = 1e-6  # probabilities are clipped here before the log


def vote_matrix(hits: Sequence[Neighbour | None]) -> np.ndarray:
    """(n, 6): each protein's top hit's identity in its label's column, zeros without a hit."""
    out = np.zeros((len(hits), len(CLASSES)))
    for i, hit in enumerate(hits):
        if hit is not None:
            out[i, class_index(hit.label)] = hit.identity
    return out


def features(
    fusion: np.ndarray, boosting: np.ndarray, groups: Sequence[str],
    votes: np.ndarray | None = None, by_group: bool = True,
) -> np.ndarray:
    """The stacker's input matrix (see the module docstring)."""
    parts = [np.log(np.clip(fusion, FLOOR, None)), np.log(np.clip(boosting, FLOOR, None))]
    if votes is not None:
        parts.append(votes)
    x = np.hstack(parts)
    if not by_group:
        return x
    onehot = np.stack([np.asarray(groups) == g for g in GROUPS], axis=1).astype(float)
    return np.hstack([x] + [x * onehot[:, [i]] for i in range(len(GROUPS))] + [onehot])


def new_model(c: float, seed: int = 0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500, random_state=seed))


def cross_fitted(x: np.ndarray, y: np.ndarray, model_fold: np.ndarray, c: float,
                 sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Validation probabilities, each fold model's rows from a stacker fitted on the others'
    (``sample_weight``: how much each row counts in the regression; equal when None)."""
    out = np.zeros((len(y), len(CLASSES)))
    for k in np.unique(model_fold):
        rows = model_fold == k
        weight = None if sample_weight is None else sample_weight[~rows]
        out[rows] = apply(to_arrays(_fit(x[~rows], y[~rows], c, weight)), x[rows])
    return out


def test_fold_stacker(x_val: np.ndarray, y_val: np.ndarray, val_partition: np.ndarray,
                      test_fold: int, c: float, sample_weight: np.ndarray | None = None):
    """The stacker for test fold ``test_fold``: validation rows of proteins outside it only."""
    keep = val_partition != test_fold
    return _fit(x_val[keep], y_val[keep], c, None if sample_weight is None else sample_weight[keep])


def choose(options: dict[Any, np.ndarray], y: np.ndarray) -> tuple[Any, dict[Any, float]]:
    """The option whose cross-fitted validation probabilities have the best MCC."""
    from sklearn.metrics import matthews_corrcoef

    scores = {key: float(matthews_corrcoef(y, p.argmax(axis=1))) for key, p in options.items()}
    return max(scores, key=lambda key: round(scores[key], 4)), scores


def check_weights(weights) -> tuple[float, ...]:
    """Calibration weights as sorted distinct floats; a clear error unless they are a list of
    finite positive numbers (a config's ``calibration_weights``, combine_sets' option)."""
    from .errors import UserError

    try:
        values = None if isinstance(weights, (str, bytes)) else tuple(float(w) for w in weights)
    except (TypeError, ValueError):
        values = None
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise UserError("calibration weights must be a list of positive numbers, e.g. "
                        f"[1, 2, 3, 4], not {weights!r}")
    return tuple(sorted(set(values)))


def _fit(x: np.ndarray, y: np.ndarray, c: float, sample_weight: np.ndarray | None = None):
    return new_model(c).fit(x, y, logisticregression__sample_weight=sample_weight)


# --- as a member of a checkpoint set --------------------------------------------------------

STACK_FILE = "stack_fold_{}.safetensors"
C_GRID = (0.01, 0.1, 1.0)
VOTE_WEIGHTS = (0.5, 1.0, 2.0)
TEMPERATURES = np.exp(np.linspace(np.log(0.3), np.log(3.0), 61))


def to_arrays(model) -> dict[str, np.ndarray]:
    """A fitted stacker as plain arrays (scaler, coefficients, classes): no pickle on disk."""
    scaler, regression = model[0], model[-1]
    return {"mean": scaler.mean_, "scale": scaler.scale_, "coef": regression.coef_,
            "intercept": regression.intercept_, "classes": regression.classes_.astype(np.int64)}


def save(arrays: dict[str, np.ndarray], path) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))


def load(path) -> dict[str, np.ndarray]:
    """A stacker file, its shapes checked; a damaged one is a clear error."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from .errors import UserError

    try:
        arrays = load_file(str(path))
        d, k = arrays["coef"].shape[1], arrays["coef"].shape[0]
        top = arrays.get("top_label", np.zeros(2))  # optional: protloc.top_label's Platt map
        ok = (arrays["mean"].shape == (d,) and arrays["scale"].shape == (d,)
              and arrays["intercept"].shape == (k,) and arrays["classes"].shape == (k,)
              and set(arrays["classes"].tolist()) <= set(range(len(CLASSES))) and k >= 2
              and top.shape == (2,) and bool(np.isfinite(top).all()))
    except (OSError, SafetensorError, KeyError, IndexError, ValueError) as exc:
        raise UserError(f"Cannot read the stacker file {path}: {exc}") from None
    if not ok:
        raise UserError(f"The stacker file {path} is damaged: its arrays' shapes do not agree.")
    return arrays


def apply(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """(n, 6) probabilities in CLASSES order from a stacker's arrays (numpy only; a class
    never seen in fitting gets 0)."""
    logits = ((x - arrays["mean"]) / arrays["scale"]) @ arrays["coef"].T + arrays["intercept"]
    logits = np.exp(logits - logits.max(axis=1, keepdims=True))
    out = np.zeros((len(x), len(CLASSES)))
    out[:, arrays["classes"]] = logits / logits.sum(axis=1, keepdims=True)
    return out


def finish(probs: np.ndarray, hits, setting: dict[str, Any],
           top: np.ndarray | None = None) -> np.ndarray:
    """After the stacker: the homology vote when it is mixed in afterwards, the temperature,
    then the fold's top-label map when it has one (``top``: protloc.top_label's Platt
    parameters). The organism-group rule comes later, as for every member."""
    from .mixing import softmax
    from .neighbours import vote
    from .top_label import apply_platt

    if setting["vote"] not in ("feature", "none") and hits is not None:
        probs = vote(probs, hits, float(setting["vote"]))
    probs = softmax(np.log(np.clip(probs, 1e-12, None)) / float(setting["temperature"]))
    return probs if top is None else apply_platt(probs, top)


def member_inputs(setting: dict[str, Any], fusion, boosting, groups, hits) -> np.ndarray:
    """The stacker's input matrix as a checkpoint set's ``stacking`` entry defines it."""
    if setting["vote"] != "feature":
        votes = None
    else:  # no search (use_homology off): as if no protein had a hit
        votes = vote_matrix(hits if hits is not None else [None] * len(fusion))
    return features(fusion, boosting, groups, votes, bool(setting["by_group"]))


def calibrated(probs: np.ndarray, groups, t: float) -> np.ndarray:
    """The stacker's probabilities at temperature ``t``, DeepLocPro's group rule applied after
    (as the predictor does)."""
    return apply_group_rules(finish(probs, None, {"vote": "none", "temperature": t}), groups)


def calibrated_mcc(probs: np.ndarray, y: np.ndarray, groups) -> float:
    """MCC of these rows as test folds are scored: a temperature fitted on them, then the group
    rule."""
    from sklearn.metrics import matthews_corrcoef

    t = fit_temperature(probs, y, groups)
    return float(matthews_corrcoef(y, calibrated(probs, groups, t).argmax(axis=1)))


def fit_temperature(probs: np.ndarray, y: np.ndarray, groups) -> float:
    """The grid temperature with the lowest log-loss of :func:`calibrated` probabilities."""
    from sklearn.metrics import log_loss

    return float(min(TEMPERATURES, key=lambda t: log_loss(
        y, calibrated(probs, groups, t), labels=range(len(CLASSES)))))


def option_grid(fusion: np.ndarray, boosting: np.ndarray, groups, hits, y: np.ndarray,
                model_fold: np.ndarray) -> dict[tuple, np.ndarray]:
    """Every stacker option's cross-fitted probabilities on these validation rows, keyed
    (group interactions, vote, C); the vote options only when ``hits`` is given."""
    options: dict[tuple, np.ndarray] = {}
    for by_group in (False, True):
        for c in C_GRID:
            plain = cross_fitted(features(fusion, boosting, groups, None, by_group), y,
                                 model_fold, c)
            options[(by_group, "none", c)] = plain
            if hits is not None:
                x = features(fusion, boosting, groups, vote_matrix(hits), by_group)
                options[(by_group, "feature", c)] = cross_fitted(x, y, model_fold, c)
                for w in VOTE_WEIGHTS:
                    options[(by_group, w, c)] = finish(plain, hits, {"vote": w, "temperature": 1})
    return options


def validation_options(out_dir, table) -> dict[str, Any]:
    """The fold models' validation rows of a run directory and every stacker option's
    cross-fitted probabilities on them (the choice :func:`fit_stage` makes, reusable to compare
    two checkpoint sets on the rows they share)."""
    import pandas as pd

    from .homology_mix import read_hits, top_hits
    from .mixing import PROBS

    runs = out_dir / "runs"
    folds = range(5)
    val = pd.concat(pd.read_csv(runs / f"fold_{k}" / "val.csv").assign(model_fold=k) for k in folds)
    boost = pd.concat(pd.read_csv(runs / f"fold_{k}" / "boost_val.csv") for k in folds)
    if not (val["id"].to_numpy() == boost["id"].to_numpy()).all():
        raise ValueError("fusion and boosting validation rows differ")
    by_id = table.set_index("id")
    groups = by_id.loc[val["id"], "group"].to_numpy()
    model_fold = val["model_fold"].to_numpy()
    y = np.array([CLASSES.index(c) for c in val["label"]])
    with_hits = all((runs / f"fold_{k}" / "hits_val.csv").exists() for k in folds)
    hits = top_hits(pd.concat(read_hits(runs / f"fold_{k}" / "hits_val.csv") for k in folds),
                    val["id"]) if with_hits else None
    pf, pb = val[PROBS].to_numpy(), boost[PROBS].to_numpy()
    options = option_grid(pf, pb, groups, hits, y, model_fold)
    best, scores = choose(options, y)
    return {"ids": val["id"].to_numpy(), "y": y, "groups": groups, "hits": hits, "fusion": pf,
            "boosting": pb, "options": options, "best": best, "scores": scores,
            "partition": by_id.loc[val["id"], "partition"].astype(int).to_numpy(),
            "model_fold": model_fold}


def fit_stage(out_dir, table, calibration_ids: set[str] | None = None, calibrated_on: str = "",
              log=print, top_label: bool = False,
              calibration_weights: Sequence[float] = (1.0,)) -> dict[str, Any]:
    """The stacker of a trained checkpoint set, from its run directory: choices on cross-fitted
    validation rows, one stacker per test fold (``stack_fold_k.safetensors``), the test folds
    predicted once into ``heldout.csv`` (the previous one kept as
    ``heldout_before_stacking.csv``). Returns the manifest entry.

    ``top_label``: each test fold's stacker also gets a top-label map (protloc.top_label),
    fitted after the temperature and the group rule on the calibration rows of proteins outside
    that fold.

    ``calibration_weights``: how many times the calibration rows may count in the stacker's fit;
    the weight whose cross-fitted calibration rows have the best MCC (after the temperature and
    the group rule) is kept, the smallest on a tie; a single weight is used as given
    (:func:`_calibration_weight`)."""
    import pandas as pd

    runs = out_dir / "runs"
    folds = range(5)
    calibration_weights = check_weights(calibration_weights)
    v = validation_options(out_dir, table)
    y, groups, hits, best, scores = v["y"], v["groups"], v["hits"], v["best"], v["scores"]
    by_id = table.set_index("id")
    setting: dict[str, Any] = {"by_group": best[0], "vote": best[1], "c": best[2]}
    pick = (np.ones(len(y), bool) if calibration_ids is None
            else np.isin(v["ids"], list(calibration_ids)))

    x_val = member_inputs(setting, v["fusion"], v["boosting"], groups, hits)
    weight, chosen, weight_mcc = _calibration_weight(x_val, v, setting, pick, calibration_weights)
    setting["temperature"] = round(fit_temperature(chosen[pick], y[pick], groups[pick]), 4)
    row_weight = np.where(pick, weight, 1.0) if weight != 1.0 else None
    heldout = []
    for k in folds:
        stacker = to_arrays(test_fold_stacker(x_val, y, v["partition"], k, setting["c"],
                                              row_weight))
        if top_label:
            stacker["top_label"] = _top_label_map(chosen, v, setting,
                                                  pick & (v["partition"] != k))
        save(stacker, out_dir / STACK_FILE.format(k))
        heldout.append(predict_test_fold(runs / f"fold_{k}", stacker, setting, by_id))
    if (out_dir / "heldout.csv").exists():
        (out_dir / "heldout.csv").replace(out_dir / "heldout_before_stacking.csv")
    pd.concat(heldout).to_csv(out_dir / "heldout.csv", index=False, float_format="%.5f")
    setting["folds"] = {str(k): STACK_FILE.format(k) for k in folds}
    setting["validation_mcc"] = {f"{'group' if key[0] else 'plain'}, vote {key[1]}, C {key[2]}":
                                 round(s, 4) for key, s in scores.items()}
    if calibration_ids is not None:
        setting["calibrated_on"] = calibrated_on
    if top_label:
        setting["top_label"] = "platt"
    if weight_mcc:
        setting["calibration_weight"] = weight
        setting["calibration_weight_mcc"] = {f"{w:g}": round(m, 4) for w, m in weight_mcc.items()}
    log(f"stacking: {setting['validation_mcc']} -> group interactions {setting['by_group']}, "
        f"vote {setting['vote']}, C {setting['c']}, temperature {setting['temperature']}")
    return setting


def predict_test_fold(fold_dir, stacker: dict[str, np.ndarray], setting: dict[str, Any],
                      by_id) -> pd.DataFrame:
    """A run folder's test fold (``fold_k/heldout.csv``, its trees' and its homology hits'
    tables) through one stacker and the set's ``setting``, in ``heldout.csv``'s layout;
    ``by_id``: the dataset table indexed by id (for the organism groups)."""
    import pandas as pd

    from .homology_mix import read_hits, top_hits
    from .mixing import PROBS

    fusion = pd.read_csv(fold_dir / "heldout.csv")
    boost = pd.read_csv(fold_dir / "boost_heldout.csv")
    hits_file = fold_dir / "hits_test.csv"
    hits = top_hits(read_hits(hits_file), fusion["id"]) if hits_file.exists() else None
    x = member_inputs(setting, fusion[PROBS].to_numpy(), boost[PROBS].to_numpy(),
                      by_id.loc[fusion["id"], "group"].to_numpy(), hits)
    probs = finish(apply(stacker, x), hits, setting, stacker.get("top_label"))
    out = fusion[["id", "partition", "label"]].copy()
    out["prediction"] = [CLASSES[i] for i in probs.argmax(axis=1)]
    out[PROBS] = probs
    return out


def weighted(x_val: np.ndarray, v: dict[str, Any], setting: dict[str, Any], pick: np.ndarray,
             weight: float) -> np.ndarray:
    """Cross-fitted validation probabilities of the set's stacker form with the ``pick`` rows
    counted ``weight`` times (the unweighted option itself for weight 1)."""
    if weight == 1.0:
        return v["options"][v["best"]]
    return finish(cross_fitted(x_val, v["y"], v["model_fold"], setting["c"],
                               np.where(pick, weight, 1.0)),
                  v["hits"], {"vote": setting["vote"], "temperature": 1.0})


def _calibration_weight(x_val: np.ndarray, v: dict[str, Any], setting: dict[str, Any],
                        pick: np.ndarray, weights: Sequence[float]):
    """(weight, its cross-fitted validation probabilities, MCC of the calibration rows per
    weight). The calibration rows (DeepLocPro's experimentally annotated proteins) are the
    validation rows most like the benchmark; the other rows are 57% cytoplasmic. Each weight's
    rows are scored as the test folds will be: temperature fitted on the calibration rows, then
    the group rule. Weight 1 alone, or no distinct calibration rows, leaves the stacker as it
    is; another single weight is used (and scored) without a choice."""
    base = v["options"][v["best"]]
    if tuple(float(w) for w in weights) == (1.0,) or pick.all() or not pick.any():
        return 1.0, base, {}
    y, groups, scores, probs = v["y"][pick], v["groups"][pick], {}, {}
    for w in sorted(float(w) for w in weights):
        probs[w] = weighted(x_val, v, setting, pick, w)
        scores[w] = calibrated_mcc(probs[w][pick], y, groups)
    best = max(scores, key=lambda w: round(scores[w], 4))  # the first, smallest, on a tie
    return best, probs[best], scores


def _top_label_map(chosen: np.ndarray, v: dict[str, Any], setting: dict[str, Any],
                   rows: np.ndarray) -> np.ndarray:
    """Platt parameters of the top label, on ``rows`` of the chosen stacker's cross-fitted
    validation probabilities after the set's temperature and the group rule."""
    from .top_label import fit_platt

    probs = calibrated(chosen[rows], v["groups"][rows], setting["temperature"])
    return fit_platt(probs, v["y"][rows])
