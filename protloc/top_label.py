"""Top-label calibration: a map of the top class's probability alone, the others scaled to fill
the rest, so that "confidence 80%" means right about 8 times in 10 without reordering a
protein's classes. The temperature before it is fitted by log-loss over all six classes; the
calibration error users read (and ECE measures) is the top label's.

The map is Platt's: ``sigmoid(a * logit(top) + b)``, two numbers stored with the stacker.
"""

from __future__ import annotations

import numpy as np

#: How far the new top probability stays above the level where the second class would tie.
_MARGIN = 1e-6


def fit_platt(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[a, b]`` of a logistic regression of "the top class is ``y``" on the top
    probability's logit (practically unregularised)."""
    from sklearn.linear_model import LogisticRegression

    top, correct = probs.max(axis=1), (probs.argmax(axis=1) == y).astype(int)
    model = LogisticRegression(C=1e4).fit(logit(top)[:, None], correct)
    return np.array([model.coef_[0, 0], model.intercept_[0]])


def apply_platt(probs: np.ndarray, params: np.ndarray) -> np.ndarray:
    """``probs`` with each row's top probability mapped by :func:`fit_platt`'s ``params``."""
    a, b = float(params[0]), float(params[1])
    return with_top(probs, 1.0 / (1.0 + np.exp(-(a * logit(probs.max(axis=1)) + b))))


def with_top(probs: np.ndarray, new_top: np.ndarray) -> np.ndarray:
    """Each row's top probability replaced by ``new_top`` and the other classes scaled in
    proportion. The order of the classes is kept: the new top stays above the level where the
    second class would catch up. A row whose top is 1 (nothing to scale) is kept as it is."""
    order = np.sort(probs, axis=1)
    top, second = order[:, -1], order[:, -2]
    tie = second / np.clip(1.0 - top + second, 1e-12, None)
    sure = top >= 1.0 - 1e-9
    new = np.where(sure, top, np.clip(np.maximum(new_top, tie + _MARGIN), 0.0, 1.0))
    rest = np.where(sure, 1.0, (1.0 - new) / np.clip(1.0 - top, 1e-12, None))
    out = probs * rest[:, None]
    out[np.arange(len(probs)), probs.argmax(axis=1)] = new
    return out


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
