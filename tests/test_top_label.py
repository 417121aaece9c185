"""protloc.top_label: a map of the top probability alone that keeps every protein's call."""

from __future__ import annotations

import numpy as np

from protloc import top_label
from protloc.classes import CLASSES
from protloc.metrics import calibration


def _overconfident(n=3000, seed=0):
    """Probabilities whose top class is right far less often than they say."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, len(CLASSES))) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = probs.argmax(axis=1).copy()
    wrong = rng.random(n) < 0.4  # 40% of calls are wrong, whatever the confidence
    truth[wrong] = (truth[wrong] + rng.integers(1, len(CLASSES), wrong.sum())) % len(CLASSES)
    return probs, truth


def test_the_new_top_keeps_the_order_and_the_rows_sum_to_one():
    probs = np.array([[0.5, 0.3, 0.1, 0.05, 0.05, 0.0],
                      [0.2, 0.19, 0.2, 0.41, 0.0, 0.0]])
    out = top_label.with_top(probs, np.array([0.8, 0.05]))  # the second asks for too little
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert out[0, 0] == 0.8
    np.testing.assert_allclose(out[0, 1:] / out[0, 1:].sum(), probs[0, 1:] / 0.5)  # in proportion
    order = np.argsort(probs, axis=1, kind="stable")
    assert (np.argsort(out, axis=1, kind="stable") == order).all()
    assert out[1].argmax() == 3 and out[1, 3] > out[1, [0, 2]].max()  # kept above the tie
    assert out[1, 4] == 0.0  # a class ruled out stays out
    sure = np.array([[1.0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(top_label.with_top(sure, np.array([0.6])), sure)


def test_platt_identity_changes_nothing():
    probs, _ = _overconfident(50)
    np.testing.assert_allclose(top_label.apply_platt(probs, np.array([1.0, 0.0])), probs,
                               atol=1e-9)


def test_a_fitted_map_repairs_overconfidence_on_new_rows_without_moving_calls():
    fit_p, fit_y = _overconfident(seed=1)
    probs, y = _overconfident(seed=2)
    params = top_label.fit_platt(fit_p, fit_y)
    out = top_label.apply_platt(probs, params)
    assert (out.argmax(axis=1) == probs.argmax(axis=1)).all()
    labels = [CLASSES[i] for i in y]
    before, after = calibration(probs, labels)["ece"], calibration(out, labels)["ece"]
    assert before > 0.15 and after < 0.05
    assert out.max(axis=1).mean() < probs.max(axis=1).mean()  # confidence brought down
