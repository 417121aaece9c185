"""Gradient-boosting member: pooled features, validation-chosen size, trees as plain arrays."""

import numpy as np
import pytest

from protloc.boosting import fit, pooled_features, predict_raw, tree_arrays


def _data(n, rng):
    x = rng.normal(size=(n, 6))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    x[rng.random(x.shape) < 0.02] = np.nan  # missing values take the learned side
    return x, y


def test_exported_trees_predict_exactly_as_scikit_learn():
    rng = np.random.default_rng(0)
    x, y = _data(600, rng)
    xv, yv = _data(200, rng)
    model = fit(x, y, xv, yv, n_classes=3, max_iter=30)
    xt, _ = _data(100, rng)
    ours = predict_raw(tree_arrays(model), xt)
    np.testing.assert_allclose(ours, model._raw_predict(xt), rtol=1e-10, atol=1e-10)
    proba = np.exp(ours - ours.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    np.testing.assert_allclose(proba, model.predict_proba(xt), atol=1e-9)


def test_number_of_trees_is_chosen_on_the_validation_fold():
    rng = np.random.default_rng(1)
    x, y = _data(300, rng)
    noise_x, noise_y = rng.normal(size=(200, 6)), rng.integers(0, 3, 200)  # nothing to learn
    model = fit(x, y, noise_x, noise_y, n_classes=3, max_iter=60)
    assert model.n_iter_ < 60  # trees past the validation optimum are dropped
    assert len(tree_arrays(model)["roots"]) == 3 * model.n_iter_


def test_pooled_features_layout():
    a = np.arange(100 * 3, dtype=np.float32).reshape(100, 3)
    b = np.ones((100, 2), dtype=np.float32)
    v = pooled_features([a, b], group=2)
    assert v.shape == (4 * 3 + 4 * 2 + 1 + 4,)
    np.testing.assert_allclose(v[:3], a.mean(0))
    np.testing.assert_allclose(v[3:6], a[:40].mean(0))
    np.testing.assert_allclose(v[6:9], a[-40:].mean(0))
    np.testing.assert_allclose(v[9:12], a.max(0))
    assert v[-4:].tolist() == [0, 0, 1, 0]
    with pytest.raises(IndexError):
        pooled_features([a], group=7)


def test_trees_can_be_chosen_by_validation_mcc():
    rng = np.random.default_rng(2)
    x, y = _data(400, rng)
    xv, yv = _data(200, rng)
    from sklearn.metrics import matthews_corrcoef

    full = fit(x, y, xv, yv, n_classes=3, max_iter=40, select="mcc")
    # no shorter or longer prefix of the same trees does better on the validation fold
    chosen = matthews_corrcoef(yv, full.predict(xv))
    longer = fit(x, y, xv, yv, n_classes=3, max_iter=40, select="log_loss")
    for proba in longer.staged_predict_proba(xv):
        assert matthews_corrcoef(yv, proba.argmax(1)) <= chosen + 1e-12
    with pytest.raises(ValueError, match="select"):
        fit(x, y, xv, yv, n_classes=3, max_iter=5, select="auc")


def test_row_weights_pull_the_trees_toward_the_weighted_rows():
    """fit(row_weight=...): rows counted more decide where the classes meet (here a subset
    whose labels follow another feature than the rest); weights of 1 change nothing."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(900, 4))
    special = np.arange(900) < 150
    y = np.where(special, (x[:, 1] > 0).astype(int), (x[:, 0] > 0).astype(int)) + \
        (x[:, 2] > 1).astype(int)
    xv = rng.normal(size=(300, 4))  # the subset's rule; nothing marks its rows
    yv = (xv[:, 1] > 0).astype(int) + (xv[:, 2] > 1).astype(int)
    plain = fit(x, y, xv, yv, n_classes=3, max_iter=40, min_samples_leaf=40)
    weighted = fit(x, y, xv, yv, n_classes=3, max_iter=40, min_samples_leaf=40,
                   row_weight=np.where(special, 10.0, 1.0))
    right = lambda m: float((m.predict(xv) == yv).mean())  # noqa: E731
    assert right(weighted) > right(plain) + 0.05
    same = fit(x, y, xv, yv, n_classes=3, max_iter=40, min_samples_leaf=40,
               row_weight=np.ones(len(y)))
    np.testing.assert_allclose(same.predict_proba(xv), plain.predict_proba(xv))
