"""Gradient boosting on pooled per-residue streams: an optional ensemble member beside the fusion
models (a read-out of pooled features that alone beat the attention model on the benchmark).

* :func:`pooled_features` turns a protein's streams (the same per-residue arrays the fusion model
  reads) plus its organism group into one vector: per stream the mean over all residues, over
  the first and the last :data:`END` residues (where sorting signals sit), and the maximum; then
  log length and the group one-hot.
* :func:`fit` trains scikit-learn's ``HistGradientBoostingClassifier`` with early stopping on
  the validation fold (never the test fold).
* Trees are stored as plain arrays in safetensors (:func:`tree_arrays`) and evaluated by
  :func:`predict_raw` in numpy, so loading a checkpoint never unpickles anything.
* Optionally the trees also read a protein-level state (UniRep-1900's mean hidden state: its
  per-residue states would take 27 GB for the dataset) projected onto principal components
  fitted on the fold's training proteins only (:func:`fit_projection`); the projection is
  stored with the trees (``proj_mean``, ``proj_components``) and its columns go just before
  the group one-hot (:func:`with_projection`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .classes import GROUPS

END = 40
POOLS = ("mean", "first", "last", "max")
_NODE_FIELDS = ("feature_idx", "num_threshold", "missing_go_to_left", "left", "right",
                "is_leaf", "value")


def pooled_features(streams: Sequence[np.ndarray], group: int) -> np.ndarray:
    """One protein: ``streams`` are (L, d_i) arrays; ``group`` an index into GROUPS."""
    parts = []
    for x in streams:
        x = np.asarray(x, dtype=np.float32)
        parts += [x.mean(0), x[:END].mean(0), x[-END:].mean(0), x.max(0)]
    onehot = np.zeros(len(GROUPS), dtype=np.float32)
    onehot[group] = 1.0
    length = np.array([np.log(len(streams[0]))], dtype=np.float32)
    return np.concatenate(parts + [length, onehot])


def pooled_matrix(proteins: Sequence[Sequence[np.ndarray]], groups: Sequence[int]) -> np.ndarray:
    return np.stack([pooled_features(s, int(g)) for s, g in zip(proteins, groups)])


def fit(x_train, y_train, x_val, y_val, n_classes: int, seed: int = 0, select: str = "log_loss",
        row_weight: np.ndarray | None = None, **params: Any):
    """Boosting with class-balanced sample weights; the number of trees is chosen on the
    validation fold, so the test fold plays no part: the fewest trees with the least
    validation log-loss (``select="log_loss"``) or the best validation MCC (``"mcc"``: the
    log-loss optimum comes long before the classification one; the mix temperature, fitted
    afterwards on validation folds, corrects the confidence). ``row_weight``: a further weight
    per training row, multiplied into the class-balanced one."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import matthews_corrcoef
    from sklearn.utils.class_weight import compute_sample_weight

    if select not in ("log_loss", "mcc"):
        raise ValueError(f"select must be 'log_loss' or 'mcc', not {select!r}")
    settings = dict(learning_rate=0.08, max_iter=400, max_leaf_nodes=31, min_samples_leaf=20,
                    l2_regularization=1.0, max_features=0.3, random_state=seed)
    settings.update(params)
    model = HistGradientBoostingClassifier(early_stopping=False, **settings)
    weight = compute_sample_weight("balanced", y_train)
    model.fit(x_train, y_train, sample_weight=weight if row_weight is None else weight * row_weight)
    best, best_score = 0, -np.inf
    for i, proba in enumerate(model.staged_predict_proba(x_val)):
        if select == "mcc":
            score = matthews_corrcoef(y_val, proba.argmax(1))
        else:
            score = np.mean(np.log(np.clip(proba[np.arange(len(y_val)), y_val], 1e-12, None)))
        if score > best_score:
            best, best_score = i + 1, score
    model._predictors = model._predictors[:best]  # keep the validation-chosen number of trees
    if model.classes_.tolist() != list(range(n_classes)):
        raise ValueError("every class must be present in the training fold")
    return model


def tree_arrays(model) -> dict[str, np.ndarray]:
    """Every tree of a fitted HistGradientBoostingClassifier as flat arrays (node tables
    concatenated; ``roots`` gives each tree's first node; tree t of iteration i for class k is
    at ``t = i * n_classes + k``)."""
    nodes = [tree.nodes for trees in model._predictors for tree in trees]
    roots = np.cumsum([0] + [len(n) for n in nodes[:-1]]).astype(np.int64)
    out = {f: np.concatenate([n[f] for n in nodes]) for f in _NODE_FIELDS}
    for f in ("left", "right"):  # child indices are per tree: make them global
        out[f] = out[f].astype(np.int64) + np.repeat(roots, [len(n) for n in nodes])
    out = {f: np.ascontiguousarray(v.astype(np.float64 if f in ("num_threshold", "value")
                                            else np.int64)) for f, v in out.items()}
    out["roots"] = roots
    out["baseline"] = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()
    return out


def pooled_width(dims: Sequence[int]) -> int:
    """Length of :func:`pooled_features`' vector for streams of these widths."""
    return len(POOLS) * int(sum(dims)) + 1 + len(GROUPS)


def fit_projection(states: np.ndarray, components: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Principal components of the training proteins' states, as plain arrays."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=components, random_state=seed).fit(np.asarray(states, np.float64))
    # C order: safetensors stores the buffer as it lies (PCA's components may be Fortran-ordered)
    return {"proj_mean": np.ascontiguousarray(pca.mean_, dtype=np.float64),
            "proj_components": np.ascontiguousarray(pca.components_, dtype=np.float64)}


def with_projection(pooled: np.ndarray, states: np.ndarray | None,
                    arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The pooled matrix as trees with a projection read it: the projected states inserted
    before the group one-hot (unchanged for trees without one)."""
    if "proj_components" not in arrays:
        return pooled
    if states is None:
        raise ValueError("these trees read projected protein states, and none were given")
    z = (np.asarray(states, np.float64) - arrays["proj_mean"]) @ arrays["proj_components"].T
    cut = pooled.shape[1] - len(GROUPS)
    return np.hstack([pooled[:, :cut], z, pooled[:, cut:]])


def projected_width(arrays: dict[str, np.ndarray]) -> int:
    """Columns a stored projection adds (0 without one); ValueError when its arrays disagree."""
    if "proj_components" not in arrays and "proj_mean" not in arrays:
        return 0
    comps, mean = arrays.get("proj_components"), arrays.get("proj_mean")
    if comps is None or mean is None or comps.ndim != 2 or mean.shape != (comps.shape[1],):
        raise ValueError("its projection arrays (proj_mean, proj_components) do not agree")
    return int(comps.shape[0])


def check_trees(trees: dict[str, np.ndarray], n_features: int, n_classes: int) -> None:
    """ValueError unless ``trees`` (from a file) can be walked by :func:`predict_raw` on
    ``n_features``-wide input: every array present, one length for the node tables, children
    and roots inside them, features inside the input, one baseline score per class."""
    missing = [f for f in (*_NODE_FIELDS, "roots", "baseline") if f not in trees]
    if missing:
        raise ValueError(f"lacks the arrays {missing}")
    n = len(trees["feature_idx"])
    if n == 0 or any(trees[f].ndim != 1 or len(trees[f]) != n for f in _NODE_FIELDS):
        raise ValueError("its node arrays are empty or of different lengths")
    inner = trees["is_leaf"] == 0
    for f in ("left", "right"):
        if inner.any() and not ((trees[f][inner] >= 0) & (trees[f][inner] < n)).all():
            raise ValueError(f"a tree's {f} child lies outside the node table")
    n_features += projected_width(trees)
    roots, features = trees["roots"], trees["feature_idx"][inner]
    if len(roots) == 0 or len(roots) % n_classes or not ((roots >= 0) & (roots < n)).all():
        raise ValueError(f"its tree roots do not fit the node table or the {n_classes} classes")
    if len(features) and not ((features >= 0) & (features < n_features)).all():
        raise ValueError(f"its trees read feature {int(features.max())} but the checkpoint's "
                         f"streams give {n_features} pooled features (were they trained on "
                         "other streams?)")
    if trees["baseline"].shape != (n_classes,):
        raise ValueError(f"its baseline has {trees['baseline'].size} scores, not {n_classes}")


def predict_raw(trees: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Raw scores (N, n_classes) from :func:`tree_arrays` output; softmax gives probabilities.

    Every tree is walked at once, one level per step (a few dozen numpy operations whatever the
    number of trees), so one protein costs milliseconds, not one Python loop per tree."""
    x = np.asarray(x, dtype=np.float64)
    baseline = trees["baseline"]
    n_classes = len(baseline)
    node = np.tile(trees["roots"], (len(x), 1))  # (N, trees)
    rows = np.arange(len(x))[:, None]
    leaf = trees["is_leaf"].astype(bool)
    while True:
        inner = ~leaf[node]
        if not inner.any():
            break
        value = x[rows, trees["feature_idx"][node]]
        go_left = np.where(np.isnan(value), trees["missing_go_to_left"][node] == 1,
                           value <= trees["num_threshold"][node])
        child = np.where(go_left, trees["left"][node], trees["right"][node])
        node = np.where(inner, child, node)
    per_tree = trees["value"][node]  # (N, trees); tree t scores class t % n_classes
    raw = per_tree.reshape(len(x), -1, n_classes).sum(axis=1)
    return raw + baseline
