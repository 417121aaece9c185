"""The second-level stacker (protloc.stacking) and the experiment script that measures it: test
folds never reach a stacker that predicts them, validation scores are cross-fitted, the group
changes the answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from protloc import stacking
from protloc.classes import CLASSES
from protloc.mixing import PROBS
from protloc.neighbours import Neighbour



def _probs(rng, y, noise=1.0):
    logits = rng.normal(scale=noise, size=(len(y), len(CLASSES)))
    logits[np.arange(len(y)), y] += 2.0
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _synthetic(n=600, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    groups = np.array(["negative", "positive", "archaea"])[rng.integers(0, 3, n)]
    partition = rng.integers(0, 5, n)
    model_fold = (partition - 1) % 5  # a protein is validation for the fold model before it
    return rng, y, groups, partition, model_fold


def test_vote_matrix_puts_the_identity_in_the_label_column():
    hits = [Neighbour("a", "Periplasmic", "psortb", 0.4, 0.9, 1e-20), None]
    votes = stacking.vote_matrix(hits)
    assert votes[0, CLASSES.index("Periplasmic")] == 0.4 and votes[0].sum() == 0.4
    assert not votes[1].any()


def test_features_carry_the_group_and_unknown_is_all_zeros():
    rng, y, groups, _, _ = _synthetic(12)
    pf, pb = _probs(rng, y), _probs(rng, y)
    plain = stacking.features(pf, pb, groups, by_group=False)
    assert plain.shape == (12, 12)
    full = stacking.features(pf, pb, groups)
    assert full.shape == (12, 12 * 4 + 3)
    unknown = stacking.features(pf, pb, ["unknown"] * 12)
    assert not unknown[:, 12:].any()
    other = stacking.features(pf, pb, np.where(groups == "negative", "positive", "negative"))
    assert not np.array_equal(full, other)


def test_the_stacker_of_a_test_fold_never_sees_its_proteins(monkeypatch):
    rng, y, groups, partition, _ = _synthetic()
    x = stacking.features(_probs(rng, y), _probs(rng, y), groups)
    seen, weights = [], []
    real_fit = stacking._fit
    monkeypatch.setattr(stacking, "_fit", lambda xs, ys, c, w=None: seen.append(xs)
                        or weights.append(w) or real_fit(xs, ys, c, w))
    row_weight = np.where(np.arange(len(y)) % 2 == 0, 3.0, 1.0)
    for k in range(5):
        for w in (None, row_weight):
            stacking.test_fold_stacker(x, y, partition, k, 0.1, w)
            fitted = {tuple(row) for row in seen[-1]}
            assert not fitted & {tuple(row) for row in x[partition == k]}
            assert len(seen[-1]) == (partition != k).sum()
        np.testing.assert_array_equal(weights[-1], row_weight[partition != k])


def test_validation_scores_are_cross_fitted(monkeypatch):
    rng, y, groups, _, model_fold = _synthetic()
    x = stacking.features(_probs(rng, y), _probs(rng, y), groups)
    seen = []
    real_fit = stacking._fit
    monkeypatch.setattr(stacking, "_fit",
                        lambda xs, ys, c, *w: seen.append(len(xs)) or real_fit(xs, ys, c, *w))
    out = stacking.cross_fitted(x, y, model_fold, 0.1)
    assert sorted(seen) == sorted((model_fold != k).sum() for k in range(5))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)
    assert (out.argmax(axis=1) == y).mean() > 0.5  # it learns from informative members


def test_the_group_changes_the_stacked_probabilities():
    rng, y, groups, partition, _ = _synthetic(900, seed=1)
    pf, pb = _probs(rng, y, 2.0), _probs(rng, y, 2.0)
    # Gram-positive proteins: the boosting member is right, the fusion member is noise
    pos = groups == "positive"
    pf[pos] = _probs(rng, rng.integers(0, 6, pos.sum()), 2.0)
    model = stacking.test_fold_stacker(stacking.features(pf, pb, groups), y, partition, 0, 0.1)
    flipped = np.where(groups == "positive", "negative", "positive")
    a = stacking.apply(stacking.to_arrays(model), stacking.features(pf, pb, groups))
    b = stacking.apply(stacking.to_arrays(model), stacking.features(pf, pb, flipped))
    assert np.abs(a - b).max() > 0.05


def test_predict_gives_unseen_classes_zero():
    rng, y, groups, partition, _ = _synthetic()
    keep = y != CLASSES.index("Cell wall & surface")
    x = stacking.features(_probs(rng, y), _probs(rng, y), groups)
    model = stacking.test_fold_stacker(x[keep], y[keep], partition[keep], 0, 0.1)
    out = stacking.apply(stacking.to_arrays(model), x[:5])
    assert (out[:, CLASSES.index("Cell wall & surface")] == 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)


def test_choose_takes_the_best_validation_mcc():
    y = np.array([0, 1, 2, 3, 4, 5])
    good, bad = np.eye(6)[y], np.eye(6)[(y + 1) % 6]
    key, scores = stacking.choose({"bad": bad, "good": good}, y)
    assert key == "good" and scores["good"] == 1.0 and scores["bad"] < 0


def test_experiment_script_end_to_end(tmp_path):
    """The script on a small synthetic set laid out like the real inputs."""
    from scripts import stacking_experiment

    rng, y, groups, partition, model_fold = _synthetic(300, seed=2)
    ids = [f"p{i}" for i in range(len(y))]
    labels = [CLASSES[i] for i in y]
    sources = np.where(np.arange(len(y)) % 3 == 0, "deeplocpro_benchmark", "psortb")
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"id": ids, "source": sources, "group": groups, "partition": partition,
                  "label": labels}).to_csv(data / "dataset.tsv", sep="\t", index=False)
    ckpt, results = tmp_path / "ckpt", tmp_path / "results"
    ckpt.mkdir()
    results.mkdir()

    def table(probs, part, fold=None):
        frame = pd.DataFrame({"id": ids, "partition": part, "label": labels,
                              "prediction": [CLASSES[i] for i in probs.argmax(1)]})
        for j, column in enumerate(PROBS):
            frame[column] = probs[:, j]
        if fold is not None:
            frame["model_fold"] = fold
        return frame

    table(_probs(rng, y), (model_fold + 1) % 5, model_fold).to_csv(ckpt / "validation.csv",
                                                                   index=False)
    table(_probs(rng, y), partition).to_csv(ckpt / "heldout_fusion.csv", index=False)
    table(_probs(rng, y), (model_fold + 1) % 5, model_fold).to_csv(
        results / "boost_val.csv.gz", index=False)
    table(_probs(rng, y), partition, partition).to_csv(results / "boost_heldout.csv.gz",
                                                       index=False)
    for which, fold in (("val", model_fold), ("test", partition)):
        hit = rng.random(len(y)) < 0.3
        pd.DataFrame({"id": ids, "hit": np.where(hit, "h", ""),
                      "label": np.where(hit, labels, ""), "source": np.where(hit, "psortb", ""),
                      "identity": np.where(hit, 0.5, np.nan),
                      "coverage": np.where(hit, 0.9, np.nan),
                      "evalue": np.where(hit, 1e-30, np.nan), "model_fold": fold}).to_csv(
            results / f"hits_{which}.csv.gz", index=False)
    # the synthetic set ships no stackers, so the refitted ones cannot equal them: exit 1
    assert stacking_experiment.main([str(data), str(ckpt), str(results)]) == 1
    out = pd.read_csv(results / "heldout_stacked.csv").set_index("id").loc[ids].reset_index()
    assert list(out["id"]) == ids
    np.testing.assert_allclose(out[PROBS].sum(axis=1), 1.0, atol=1e-4)
    assert (out["prediction"] == out["label"]).mean() > 0.5


# --- as a member of a checkpoint set ---------------------------------------------------------

def _train(root: Path, data: Path, config: str) -> str:
    """``protloc train`` of the tiny config into ``root/ckpt``; returns its log."""
    import io

    from protloc.cli import main

    (root / "c.yaml").write_text(config)
    err = io.StringIO()
    code = main(["train", "--data", str(data), "--config", str(root / "c.yaml"),
                 "--out", str(root / "ckpt"), "--cache", str(root / "cache")],
                stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    return err.getvalue()


@pytest.fixture(scope="module")
def stacked_checkpoint(tmp_path_factory):
    import synthetic
    from test_mixing import CONFIG

    root = tmp_path_factory.mktemp("stack")
    data = synthetic.write_dataset(root / "data", per_class=5, seed=2)
    assert "stacking:" in _train(root, data, CONFIG + "stacking: {}\n")
    return root / "ckpt", data


def fold_alone(predictor, test_fold: int) -> None:
    """Keep only the fold model tested on ``test_fold`` (its row in heldout.csv is then what the
    predictor must give)."""
    k = [f.test_fold for f in predictor.manifest.folds].index(test_fold)
    for name in ("models", "boosters", "stackers", "temperatures", "seed_networks"):
        setattr(predictor, name, [getattr(predictor, name)[k]])
    predictor.manifest.folds = [predictor.manifest.folds[k]]


def test_training_writes_the_stacker_and_its_heldout_predictions(stacked_checkpoint):
    import json

    ckpt, _ = stacked_checkpoint
    setting = json.loads((ckpt / "manifest.json").read_text())["stacking"]
    assert setting["vote"] == "none"  # no homology stage: no hits to stack
    assert setting["temperature"] > 0 and setting["c"] in stacking.C_GRID
    assert sorted(setting["folds"]) == ["0", "1", "2", "3", "4"]
    assert len(setting["validation_mcc"]) == 2 * len(stacking.C_GRID)
    for name in setting["folds"].values():
        arrays = stacking.load(ckpt / name)
        assert arrays["coef"].shape[0] == len(arrays["classes"])
    before = pd.read_csv(ckpt / "heldout_before_stacking.csv")
    after = pd.read_csv(ckpt / "heldout.csv")
    assert list(before["id"]) == list(after["id"])
    np.testing.assert_allclose(after[PROBS].sum(axis=1), 1.0, atol=1e-4)
    assert not np.allclose(before[PROBS].to_numpy(), after[PROBS].to_numpy())


def test_the_predictor_stacks_when_the_group_is_known(stacked_checkpoint):
    import synthetic
    from protloc.predictor import EnsemblePredictor
    from protloc.sequences import parse_text

    ckpt, data = stacked_checkpoint
    predictor = EnsemblePredictor.from_dir(ckpt)
    assert all(s is not None for s in predictor.stackers)
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    row = table[(table["partition"] == 2) & (table["group"] == "negative")].iloc[0]
    records = parse_text(f">{row['id']}\n{row['sequence']}")
    # fold 2's model alone gives fold 2's held-out row (float32 here, float16 in training)
    fold_alone(predictor, 2)
    stacked = predictor.predict(records, group="negative")[0].probabilities
    expected = pd.read_csv(ckpt / "heldout.csv").set_index("id").loc[row["id"], PROBS]
    np.testing.assert_allclose(stacked, expected.to_numpy(float), atol=2e-2)
    unknown = predictor.predict(records, group="unknown")[0].probabilities
    assert not np.allclose(unknown, stacked)  # the group reaches the stacker
    predictor.stackers = [None]
    assert not np.allclose(predictor.predict(records, group="negative")[0].probabilities, stacked)
    assert not np.allclose(predictor.predict(records, group="unknown")[0].probabilities, unknown)
    sequence = synthetic.synthetic_protein("Periplasmic", np.random.default_rng(0))
    assert predictor.predict(parse_text(f">a\n{sequence}"), group="positive")[0] is not None


def test_a_damaged_stacker_file_is_refused_at_load(stacked_checkpoint, tmp_path):
    import shutil

    from protloc.errors import UserError
    from protloc.predictor import EnsemblePredictor

    ckpt, _ = stacked_checkpoint
    copy = tmp_path / "ckpt"
    shutil.copytree(ckpt, copy, ignore=shutil.ignore_patterns("runs"))
    arrays = stacking.load(copy / "stack_fold_0.safetensors")
    arrays["intercept"] = arrays["intercept"][:2]
    stacking.save(arrays, copy / "stack_fold_0.safetensors")
    with pytest.raises(UserError, match="damaged"):
        EnsemblePredictor.from_dir(copy)
    (copy / "stack_fold_0.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match="Cannot read the stacker file"):
        EnsemblePredictor.from_dir(copy)


@pytest.mark.parametrize("entry, words", [
    ({"temperature": 0, "vote": "none", "folds": {}}, "stacking.temperature"),
    ({"temperature": 1.0, "vote": "often", "folds": {}}, "stacking.vote"),
    ({"temperature": 1.0, "vote": "none", "folds": {"0": "../x.safetensors"}}, "stacking.folds"),
])
def test_bad_stacking_entries_are_clear_errors(stacked_checkpoint, entry, words):
    import json

    from protloc.errors import UserError
    from protloc.manifest_checks import validate_manifest_data

    ckpt, _ = stacked_checkpoint
    data = json.loads((ckpt / "manifest.json").read_text())
    data["stacking"] = entry
    with pytest.raises(UserError, match=words):
        validate_manifest_data(data)


def test_vote_after_or_as_features_and_no_search_reads_as_no_hit():
    rng, y, groups, _, _ = _synthetic(6)
    pf, pb = _probs(rng, y), _probs(rng, y)
    hits = [Neighbour("h", "Periplasmic", "psortb", 0.5, 1.0, 1e-30)] + [None] * 5
    peri = CLASSES.index("Periplasmic")
    after = stacking.finish(pf, hits, {"vote": 1.0, "temperature": 1.0})
    assert after[0, peri] > pf[0, peri] and np.allclose(after[1:], pf[1:])
    np.testing.assert_allclose(stacking.finish(pf, hits, {"vote": "none", "temperature": 1.0}), pf)
    softer = stacking.finish(pf, None, {"vote": "none", "temperature": 2.0})
    assert (softer.max(axis=1) < pf.max(axis=1)).all()
    setting = {"vote": "feature", "by_group": False}
    x = stacking.member_inputs(setting, pf, pb, groups, hits)
    assert x.shape == (6, 18) and x[0, 12 + peri] == 0.5
    assert not stacking.member_inputs(setting, pf, pb, groups, None)[:, 12:].any()


def test_compare_validation_reads_shared_rows_and_sees_a_worse_set(stacked_checkpoint, tmp_path,
                                                                    capsys):
    """Two sets on the validation rows they share: a set against itself differs by zero; a
    copy whose networks' validation probabilities are noise scores lower."""
    import shutil

    from scripts import compare_validation

    ckpt, data = stacked_checkpoint
    assert compare_validation.main([str(data), str(ckpt), str(ckpt)]) == 0
    same = capsys.readouterr().out
    assert "| shared validation rows |" in same and "+0.0000 [+0.0000, +0.0000]" in same
    noisy = tmp_path / "noisy"
    shutil.copytree(ckpt, noisy)
    rng = np.random.default_rng(0)
    for k in range(5):
        for name in ("val.csv", "boost_val.csv"):
            path = noisy / "runs" / f"fold_{k}" / name
            frame = pd.read_csv(path)
            frame[PROBS] = rng.dirichlet(np.ones(len(PROBS)), len(frame))
            frame.to_csv(path, index=False)
    assert compare_validation.main([str(data), str(ckpt), str(noisy)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("| shared validation rows |"))
    old, new = (float(cell) for cell in row.split("|")[3:5])
    assert new < old


@pytest.mark.parametrize("n_others", [1, 2])
def test_sets_joined_load_and_reproduce_their_heldout_rows(stacked_checkpoint, tmp_path, n_others):
    """scripts/combine_sets.py: every set's networks and trees per fold in the manifest, the
    predictor loads them all, and fold k alone gives fold k's joined held-out row."""
    import json
    import shutil

    from protloc.predictor import EnsemblePredictor
    from protloc.sequences import parse_text
    from scripts import combine_sets

    ckpt, data = stacked_checkpoint
    rng = np.random.default_rng(1)
    others = []
    for i in range(n_others):  # different "other" sets: their tables perturbed
        other = tmp_path / f"other_{i}"
        shutil.copytree(ckpt, other)
        for k in range(5):
            for name in ("val.csv", "boost_val.csv"):
                path = other / "runs" / f"fold_{k}" / name
                frame = pd.read_csv(path)
                probs = frame[PROBS].to_numpy() + rng.random((len(frame), len(PROBS))) * 0.2
                frame[PROBS] = probs / probs.sum(axis=1, keepdims=True)
                frame.to_csv(path, index=False)
        others.append(str(other))
    out = tmp_path / "joined"
    assert combine_sets.main([str(data), str(ckpt), *others, str(out), "joined-test"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["name"] == "joined-test"
    suffixes = "bc"[:n_others]
    assert all([m["weights"] for m in f["members"]] == [
        f["weights"].replace(".safetensors", f"_{s}.safetensors") for s in suffixes]
        for f in manifest["folds"])
    assert all(len(files) == n_others + 1 for files in manifest["boosting"]["folds"].values())
    val = pd.read_csv(out / "runs" / "fold_0" / "val.csv").set_index("id")
    parts = [pd.read_csv(Path(s) / "runs" / "fold_0" / "val.csv").set_index("id").loc[val.index]
             for s in [str(ckpt), *others]]
    np.testing.assert_allclose(val[PROBS].to_numpy(),
                               np.mean([p[PROBS].to_numpy() for p in parts], axis=0), atol=1e-5)
    predictor = EnsemblePredictor.from_dir(out)
    assert all(len(nets) == n_others for nets in predictor.seed_networks)
    assert all(len(b) == n_others + 1 for b in predictor.boosters)
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    row = table[table["partition"] == 1].iloc[0]
    group = row["group"] if isinstance(row["group"], str) else "unknown"
    fold_alone(predictor, 1)
    predictor.use_homology = False
    got = predictor.predict(parse_text(f">{row['id']}\n{row['sequence']}"), group=group)[0]
    expected = pd.read_csv(out / "heldout.csv").set_index("id").loc[row["id"], PROBS]
    np.testing.assert_allclose(got.probabilities, expected.to_numpy(float), atol=2e-2)


def test_joining_a_set_that_lacks_base_rows_says_so(stacked_checkpoint, tmp_path, capsys):
    """An OTHER set trained on fewer sources than BASE cannot be averaged on BASE's rows: a
    clear message and exit code 2, no traceback, no half-written output."""
    import shutil

    from scripts import combine_sets

    ckpt, data = stacked_checkpoint
    other = tmp_path / "other"
    shutil.copytree(ckpt, other)
    path = other / "runs" / "fold_2" / "val.csv"
    frame = pd.read_csv(path)
    frame.iloc[3:].to_csv(path, index=False)  # three of BASE's validation rows gone
    out = tmp_path / "joined"
    assert combine_sets.main([str(data), str(ckpt), str(other), str(out), "joined-test"]) == 2
    err = capsys.readouterr().err
    assert "3 of BASE's rows" in err and frame["id"].iloc[0] in err
    assert not out.exists()


def test_group_temperatures_follow_each_groups_confidence():
    """scripts/group_temperature.py: a group whose probabilities are too sharp gets a higher
    temperature than a well-calibrated one, and every row is scaled by a fit without its fold."""
    from scripts.group_temperature import cross_fitted

    from protloc.classes import apply_group_rules

    rng = np.random.default_rng(0)
    n = 1200
    groups = np.array(["negative", "archaea"] * (n // 2), dtype=object)
    logits = rng.normal(size=(n, len(CLASSES))) * 2
    true_p = apply_group_rules(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), groups)
    y = np.array([rng.choice(len(CLASSES), p=p) for p in true_p])
    logits = np.log(np.clip(true_p, 1e-9, None))
    sharp = np.where((groups == "archaea")[:, None], logits * 2.0, logits)  # archaea overconfident
    probs = np.exp(sharp) / np.exp(sharp).sum(axis=1, keepdims=True)
    model_fold = np.arange(n) % 5
    out, fitted = cross_fitted(probs, y, groups, model_fold, by_group=True)
    assert len(fitted) == 5 and np.allclose(out.sum(axis=1), 1)
    temps = {g: float(t) for part in fitted[0].split(": ", 1)[1].split(", ")
             for g, t in [part.split()]}
    assert 0.8 < temps["negative"] < 1.25 and 1.6 < temps["archaea"] < 2.5


def test_combine_sets_names_a_bad_folder(stacked_checkpoint, tmp_path, capsys):
    from scripts import combine_sets

    ckpt, data = stacked_checkpoint
    args = [str(data), str(ckpt), str(tmp_path / "nowhere"), str(tmp_path / "out"), "x"]
    assert combine_sets.main(args) == 2
    assert "nowhere is not a checkpoint set" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(tmp_path / "out"), "x"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert combine_sets.main([str(tmp_path), str(ckpt), str(ckpt), str(tmp_path / "o2"), "x"]) == 2
    assert "no dataset.tsv" in capsys.readouterr().err


def test_class_bias_recovers_a_shifted_prior():
    """scripts/stacker_variants.py: probabilities made under one class prior and scored on rows
    drawn under another; the cross-fitted bias moves the mean prediction toward the rows' own
    class shares and lowers the log-loss that a temperature alone leaves."""
    from sklearn.metrics import log_loss

    from scripts.group_temperature import cross_fitted
    from scripts.stacker_variants import bias_cross_fitted, with_bias

    rng = np.random.default_rng(1)
    n = 1500
    groups = np.array(["negative"] * n, dtype=object)
    logits = rng.normal(size=(n, len(CLASSES))) * 1.5
    shift = np.array([-1.5, 0.0, 0.5, 0.0, 1.0, 0.0])  # the rows' prior differs from the model's
    true_p = np.exp(logits + shift) / np.exp(logits + shift).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(len(CLASSES), p=p) for p in true_p])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    model_fold = np.arange(n) % 5
    temp_only, _ = cross_fitted(probs, y, groups, model_fold, by_group=False)
    biased = bias_cross_fitted(probs, y, groups, model_fold)
    labels = range(len(CLASSES))
    assert log_loss(y, biased, labels=labels) < log_loss(y, temp_only, labels=labels) - 0.02
    share = np.bincount(y, minlength=len(CLASSES)) / n
    assert np.abs(biased.mean(axis=0) - share).sum() < np.abs(temp_only.mean(axis=0) - share).sum()
    # no bias and temperature 1: the probabilities unchanged (the group rule allows all six)
    assert np.allclose(with_bias(probs, groups, np.zeros(len(CLASSES))), probs)
    # cross-fitted: fold model 0's rows get the parameters fitted on the other models' rows
    from scipy.optimize import minimize

    rows = model_fold == 0
    start = np.r_[np.log(1.4), np.zeros(len(CLASSES) - 1)]
    others = minimize(lambda w: log_loss(y[~rows], with_bias(probs[~rows], groups[~rows], w),
                                         labels=labels), start, method="Powell").x
    np.testing.assert_allclose(biased[rows], with_bias(probs[rows], groups[rows], others),
                               atol=1e-6)


def test_weighted_stacker_follows_the_weighted_rows():
    """scripts/stacker_variants.py: rows counted more pull the stacker toward their labels."""
    from scripts.stacker_variants import stacked

    rng = np.random.default_rng(2)
    n = 600
    x = rng.normal(size=(n, 3))
    special = np.arange(n) < 100  # these rows' classes map to the columns in another order
    y = np.where(special, x[:, [1, 2, 0]].argmax(axis=1), x.argmax(axis=1))
    model_fold = np.arange(n) % 5
    plain = stacked(x, y, model_fold, 1.0, None, "none")
    weighted = stacked(x, y, model_fold, 1.0, None, "none", np.where(special, 20.0, 1.0))
    assert plain.shape == (n, len(CLASSES)) and np.allclose(weighted.sum(axis=1), 1)
    right = lambda p: float((p[special].argmax(axis=1) == y[special]).mean())  # noqa: E731
    assert right(weighted) > right(plain) + 0.1


def test_pooled_state_trees_join_takes_networks_from_sets_and_trees_from_their_pairs(tmp_path):
    """scripts/pooled_state_trees.py join: per fold, each set's network tables with its paired
    trees' tables, averaged over the pairs; the first set's homology hits beside them."""
    from scripts import pooled_state_trees

    from protloc.mixing import PROBS

    rng = np.random.default_rng(0)

    def table(ids):
        p = rng.dirichlet(np.ones(len(CLASSES)), size=len(ids))
        frame = pd.DataFrame({"id": ids, "partition": 0, "label": CLASSES[0],
                              "prediction": CLASSES[0]})
        frame[PROBS] = p
        return frame

    ids = [f"P{i}" for i in range(6)]
    pairs = []
    for name in ("a", "b"):
        for kind in ("set", "trees"):
            for k in range(5):
                fold = tmp_path / f"{kind}_{name}" / "runs" / f"fold_{k}"
                fold.mkdir(parents=True)
                for t in ("val.csv", "heldout.csv", "boost_val.csv", "boost_heldout.csv"):
                    table(ids).to_csv(fold / t, index=False)
                (fold / "hits_val.csv").write_text(f"from {kind} {name}\n")
        pairs.append(f"{tmp_path / f'set_{name}'}:{tmp_path / f'trees_{name}'}")
    out = tmp_path / "join"
    assert pooled_state_trees.main(["join", str(tmp_path), str(out), *pairs]) == 0
    read = lambda p: pd.read_csv(p)[PROBS].to_numpy()  # noqa: E731
    for t, kind in (("val.csv", "set"), ("boost_heldout.csv", "trees")):
        expected = (read(tmp_path / f"{kind}_a" / "runs" / "fold_2" / t)
                    + read(tmp_path / f"{kind}_b" / "runs" / "fold_2" / t)) / 2
        np.testing.assert_allclose(read(out / "runs" / "fold_2" / t), expected, atol=1e-5)
    assert (out / "runs" / "fold_2" / "hits_val.csv").read_text() == "from set a\n"
    assert pooled_state_trees.main(["join", str(tmp_path), str(out), *pairs]) == 2  # exists


def test_a_top_label_map_rides_with_each_stacker_and_moves_no_call(stacked_checkpoint, tmp_path):
    """combine_sets --top-label: each stack file carries Platt's two numbers, the held-out calls
    before the group rule are those without the map, the predictor applies it as training did,
    and a set whose manifest promises maps it lacks is refused."""
    import json
    import shutil

    from protloc.errors import UserError
    from protloc.predictor import EnsemblePredictor
    from protloc.sequences import parse_text
    from scripts import combine_sets

    ckpt, data = stacked_checkpoint
    plain, mapped = tmp_path / "plain", tmp_path / "mapped"
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(plain), "plain"]) == 0
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(mapped), "mapped",
                              "--top-label"]) == 0
    setting = json.loads((mapped / "manifest.json").read_text())["stacking"]
    assert setting["top_label"] == "platt"
    maps = [stacking.load(mapped / name)["top_label"] for name in setting["folds"].values()]
    assert all(m.shape == (2,) for m in maps) and not np.allclose(maps[0], [1.0, 0.0])
    before = pd.read_csv(plain / "heldout.csv")
    after = pd.read_csv(mapped / "heldout.csv")
    assert (before["prediction"] == after["prediction"]).all()
    assert not np.allclose(before[PROBS].to_numpy(), after[PROBS].to_numpy())

    predictor = EnsemblePredictor.from_dir(mapped)
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    row = table[table["partition"] == 3].iloc[0]
    group = row["group"] if isinstance(row["group"], str) else "unknown"
    fold_alone(predictor, 3)
    got = predictor.predict(parse_text(f">{row['id']}\n{row['sequence']}"), group=group)[0]
    expected = after.set_index("id").loc[row["id"], PROBS]
    np.testing.assert_allclose(got.probabilities, expected.to_numpy(float), atol=2e-2)

    broken = tmp_path / "broken"
    shutil.copytree(mapped, broken, ignore=shutil.ignore_patterns("runs"))
    arrays = stacking.load(broken / "stack_fold_0.safetensors")
    del arrays["top_label"]
    stacking.save(arrays, broken / "stack_fold_0.safetensors")
    with pytest.raises(UserError, match="top-label map"):
        EnsemblePredictor.from_dir(broken)
    arrays["top_label"] = np.array([1.0, np.nan])
    stacking.save(arrays, broken / "stack_fold_0.safetensors")
    with pytest.raises(UserError, match="damaged"):
        EnsemblePredictor.from_dir(broken)


def test_training_config_asks_for_the_top_label_map(tmp_path):
    import json

    import synthetic
    from test_mixing import CONFIG

    data = synthetic.write_dataset(tmp_path / "data", per_class=5, seed=2)
    _train(tmp_path, data, CONFIG + "stacking: {top_label: true}\n")
    setting = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())["stacking"]
    assert setting["top_label"] == "platt"
    assert all("top_label" in stacking.load(tmp_path / "ckpt" / name)
               for name in setting["folds"].values())


def _calibration_case(n=900, seed=3):
    """Validation rows whose calibration subset maps the members' columns to classes in another
    order than the rest: only a stacker that counts those rows more learns their mapping."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    pick = rng.random(n) < 0.25
    fusion = _probs(rng, np.where(pick, (y + 1) % len(CLASSES), y), noise=0.8)
    boosting = _probs(rng, y, noise=3.0)
    groups = np.array(["negative", "positive", "archaea"])[rng.integers(0, 3, n)]
    model_fold = np.arange(n) % 5
    x = stacking.features(fusion, boosting, groups, by_group=False)
    base = stacking.cross_fitted(x, y, model_fold, 0.1)
    v = {"y": y, "groups": groups, "model_fold": model_fold, "hits": None,
         "options": {"best": base}, "best": "best"}
    return x, v, pick


def test_the_calibration_weight_is_chosen_on_the_calibration_rows():
    """The weight whose cross-fitted calibration rows have the best MCC is kept (here: not 1,
    since those rows follow their own mapping); its probabilities are what the temperature and
    the top-label map are then fitted on; one weight, or no distinct rows, skips the choice."""
    from sklearn.metrics import matthews_corrcoef

    x, v, pick = _calibration_case()
    setting = {"c": 0.1, "vote": "none"}
    weight, probs, scores = stacking._calibration_weight(x, v, setting, pick, (1, 4, 16))
    assert set(scores) == {1.0, 4.0, 16.0} and weight != 1.0
    assert scores[weight] == max(scores.values()) > scores[1.0] + 0.05
    y = v["y"]
    assert matthews_corrcoef(y[pick], probs[pick].argmax(1)) > matthews_corrcoef(
        y[pick], v["options"]["best"][pick].argmax(1))
    for grid, rows in (((1.0,), pick), ((1, 4), np.ones_like(pick)), ((1, 4), ~np.ones_like(pick))):
        same = stacking._calibration_weight(x, v, setting, rows, grid)
        assert same[0] == 1.0 and same[1] is v["options"]["best"] and same[2] == {}


def _with_calibration_rows(original: Path, data: Path, every: int) -> pd.DataFrame:
    """A copy of a synthetic dataset in which every ``every``-th protein is from DeepLocPro (the
    calibration rows) and in the benchmark; returns its table."""
    import shutil

    shutil.copytree(original, data)
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    table.loc[table.index % every == 0, ["source", "in_benchmark"]] = ["deeplocpro_benchmark", True]
    table.to_csv(data / "dataset.tsv", sep="\t", index=False)
    return table


def test_joined_sets_record_the_calibration_weight_they_chose(stacked_checkpoint, tmp_path):
    """combine_sets --calibration-weights: the manifest names the weight and every weight's MCC
    on the calibration rows, and the set still predicts its held-out rows."""
    import json

    from scripts import combine_sets

    ckpt, original = stacked_checkpoint
    data = tmp_path / "data"
    _with_calibration_rows(original, data, 3)
    out = tmp_path / "weighted"
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(out), "weighted",
                              "--calibration-weights", "1,2,4"]) == 0
    setting = json.loads((out / "manifest.json").read_text())["stacking"]
    assert sorted(setting["calibration_weight_mcc"]) == ["1", "2", "4"]
    best = max(setting["calibration_weight_mcc"].values())
    assert setting["calibration_weight_mcc"][f"{setting['calibration_weight']:g}"] == best
    heldout = pd.read_csv(out / "heldout.csv")
    np.testing.assert_allclose(heldout[PROBS].sum(axis=1), 1.0, atol=1e-4)
    bad = tmp_path / "bad"
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(bad), "bad",
                              "--calibration-weights", "1,x"]) == 2



def test_the_nested_weight_check_picks_per_fold_and_reads_both_heldout_files(
        stacked_checkpoint, tmp_path, capsys, monkeypatch):
    """scripts/calibration_weight_nested.py: one pick per test fold from rows outside it, then
    the benchmark figures of each weight and of the nested choice."""
    import json

    from scripts import calibration_weight_nested, combine_sets

    ckpt, original = stacked_checkpoint
    data = tmp_path / "data"
    _with_calibration_rows(original, data, 2)
    one, weighted = tmp_path / "one", tmp_path / "weighted"
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(one), "one"]) == 0
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(weighted), "weighted",
                              "--calibration-weights", "1,2,3,4"]) == 0
    chosen = json.loads((weighted / "manifest.json").read_text())["stacking"]
    capsys.readouterr()
    code = calibration_weight_nested.main([str(data), str(weighted), str(tmp_path),
                                           str(one / "heldout.csv")])
    out = capsys.readouterr().out
    folds = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(folds) == 5
    picks = {float(line.rstrip(" |").rsplit("| ", 1)[1]) for line in folds}
    if picks <= {1.0, float(chosen["calibration_weight"])}:
        assert code == 0 and "weight chosen per test fold (partially nested)" in out
    else:
        assert code == 1 and "without held-out predictions" in out
    # with weight 1 the only option, every fold picks it: the nested figures are weight 1's
    monkeypatch.setattr(calibration_weight_nested, "WEIGHTS", (1.0,))
    assert calibration_weight_nested.main([str(data), str(weighted), str(tmp_path),
                                           str(one / "heldout.csv")]) == 0
    rows = {line.split(" | ")[0]: line.split(" | ")[1:] for line in
            capsys.readouterr().out.splitlines() if line.startswith("| weight")}
    assert rows["| weight chosen per test fold (partially nested)"] == rows["| weight 1 everywhere"]


def test_training_config_asks_for_calibration_weights(tmp_path):
    """config ``stacking: {calibration_weights: [...]}`` reaches the stage: the manifest names
    the weight kept and each weight's MCC on the calibration rows (boosting's calibrate_on)."""
    import json

    import synthetic
    from test_mixing import CONFIG

    # two thirds from DeepLocPro: enough calibration proteins in every validation fold (20)
    data = synthetic.write_dataset(tmp_path / "data", per_class=35, seed=2)
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    table.loc[table.index % 3 != 0, "source"] = "deeplocpro_benchmark"
    table.to_csv(data / "dataset.tsv", sep="\t", index=False)
    config = CONFIG.replace("boosting: {max_iter: 8}",
                            "boosting: {max_iter: 8, calibrate_on: [deeplocpro_benchmark]}")
    _train(tmp_path, data, config + "stacking: {calibration_weights: [1, 2]}\n")
    setting = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())["stacking"]
    assert sorted(setting["calibration_weight_mcc"]) == ["1", "2"]
    assert setting["calibration_weight"] in (1.0, 2.0)


def test_the_nested_stacking_check_never_chooses_with_the_test_fold(stacked_checkpoint, tmp_path,
                                                                   capsys):
    """scripts/nested_stacking.py: test fold k's choices never read a validation row of a
    protein in partition k (those rows are made NaN: any fit that read them would fail), and
    every protein gets one held-out row."""
    from scripts import combine_sets, nested_stacking

    ckpt, original = stacked_checkpoint
    data = tmp_path / "data"
    table = _with_calibration_rows(original, data, 2)
    joined = tmp_path / "joined"
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(joined), "joined",
                              "--calibration-weights", "1,2"]) == 0
    v = stacking.validation_options(joined, table.astype({"partition": int}))
    pick = v["partition"] % 2 == 0
    for k in range(5):
        poisoned = {**v, "fusion": v["fusion"].copy()}
        poisoned["fusion"][v["partition"] == k] = np.nan
        fold = nested_stacking.choices_for(poisoned, k, pick, (1.0, 2.0))
        assert np.isfinite(fold["stacker"]["coef"]).all() and fold["setting"]["weight"] in (1, 2)
    with pytest.raises(ValueError):  # the poison is seen when the rows are read
        stacking.cross_fitted(stacking.features(poisoned["fusion"], v["boosting"], v["groups"]),
                              v["y"], v["model_fold"], 0.1)
    out = tmp_path / "nested.csv"
    assert nested_stacking.main([str(data), str(joined), str(tmp_path), str(out)]) == 0
    held = pd.read_csv(out)
    assert sorted(held["id"]) == sorted(table["id"])
    np.testing.assert_allclose(held[PROBS].sum(axis=1), 1.0, atol=1e-4)
    rows = [line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 5


def test_a_single_weight_is_used_and_reaches_every_test_fold_stacker(stacked_checkpoint,
                                                                    tmp_path, monkeypatch):
    """--calibration-weights 3: no choice, the calibration rows count 3 times in each test
    fold's stacker (and only those rows); bad weights are refused before anything is fitted."""
    import json

    from protloc.errors import UserError
    from scripts import combine_sets

    ckpt, original = stacked_checkpoint
    data = tmp_path / "data"
    table = _with_calibration_rows(original, data, 3)
    calibration = table.index % 3 == 0
    seen = []
    real = stacking.test_fold_stacker
    monkeypatch.setattr(stacking, "test_fold_stacker",
                        lambda x, y, part, k, c, w=None: seen.append(w) or real(x, y, part, k, c, w))
    out = tmp_path / "three"
    assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(out), "three",
                              "--calibration-weights", "3"]) == 0
    setting = json.loads((out / "manifest.json").read_text())["stacking"]
    assert setting["calibration_weight"] == 3.0 and list(setting["calibration_weight_mcc"]) == ["3"]
    assert "count 3 times in the stacker's fit" in json.loads(
        (out / "manifest.json").read_text())["description"]
    assert len(seen) == 5 and all(w is not None and set(np.unique(w)) == {1.0, 3.0} for w in seen)
    val = pd.read_csv(out / "validation.csv")
    expected = np.where(val["id"].isin(table.loc[calibration, "id"]), 3.0, 1.0)
    np.testing.assert_array_equal(seen[0], expected)

    for bad in ("0", "1,-2", "nan", "inf", "x", ""):
        assert combine_sets.main([str(data), str(ckpt), str(ckpt), str(tmp_path / "bad"), "bad",
                                  "--calibration-weights", bad]) == 2
    assert not (tmp_path / "bad").exists()
    assert stacking.check_weights([2, "1", 2.0]) == (1.0, 2.0)
    for bad in (3, "1,2", [], [1, 0], [float("nan")]):
        with pytest.raises(UserError, match="positive numbers"):
            stacking.check_weights(bad)


def test_a_bad_calibration_weight_in_a_config_is_named_when_it_is_read(tmp_path):
    from protloc.errors import UserError
    from protloc.experiment import load_config
    from test_mixing import CONFIG

    for section, words in (("stacking: {calibration_weights: 3}", "positive numbers"),
                           ("stacking: {calibration_weights: [1, -1]}", "positive numbers"),
                           ("stacking: [1, 2]", "must be a mapping")):
        path = tmp_path / "c.yaml"
        path.write_text(CONFIG + section + "\n")
        with pytest.raises(UserError, match=words):
            load_config(path)
    path.write_text(CONFIG + "stacking: {calibration_weights: [1, 2, 3, 4], top_label: true}\n")
    assert load_config(path)["stacking"]["calibration_weights"] == [1, 2, 3, 4]
