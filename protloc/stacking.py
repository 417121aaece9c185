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

Measured on the default checkpoint set in ``docs/results/stacking.md``
(``scripts/stacking_experiment.py``). Not yet part of a shipped checkpoint set.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .classes import CLASSES
from .neighbours import Neighbour

GROUPS = ("negative", "positive", "archaea")  # "unknown" is all zeros
FLOOR = 1e-6  # probabilities are clipped here before the log


def vote_matrix(hits: Sequence[Neighbour | None]) -> np.ndarray:
    """(n, 6): each protein's top hit's identity in its label's column, zeros without a hit."""
    out = np.zeros((len(hits), len(CLASSES)))
    for i, hit in enumerate(hits):
        if hit is not None:
            out[i, CLASSES.index(hit.label)] = hit.identity
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


def cross_fitted(x: np.ndarray, y: np.ndarray, model_fold: np.ndarray, c: float) -> np.ndarray:
    """Validation probabilities, each fold model's rows from a stacker fitted on the others'."""
    out = np.zeros((len(y), len(CLASSES)))
    for k in np.unique(model_fold):
        rows = model_fold == k
        out[rows] = predict(_fit(x[~rows], y[~rows], c), x[rows])
    return out


def test_fold_stacker(x_val: np.ndarray, y_val: np.ndarray, val_partition: np.ndarray,
                      test_fold: int, c: float):
    """The stacker for test fold ``test_fold``: validation rows of proteins outside it only."""
    keep = val_partition != test_fold
    return _fit(x_val[keep], y_val[keep], c)


def predict(stacker, x: np.ndarray) -> np.ndarray:
    """(n, 6) probabilities in CLASSES order (a class never seen in fitting gets 0)."""
    out = np.zeros((len(x), len(CLASSES)))
    out[:, stacker.classes_] = stacker.predict_proba(x)
    return out


def choose(options: dict[Any, np.ndarray], y: np.ndarray) -> tuple[Any, dict[Any, float]]:
    """The option whose cross-fitted validation probabilities have the best MCC."""
    from sklearn.metrics import matthews_corrcoef

    scores = {key: float(matthews_corrcoef(y, p.argmax(axis=1))) for key, p in options.items()}
    return max(scores, key=lambda key: round(scores[key], 4)), scores


def _fit(x: np.ndarray, y: np.ndarray, c: float):
    return new_model(c).fit(x, y)

