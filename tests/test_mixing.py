"""The boosting member end to end on tiny data: trained beside the fusion models, mixed with a
weight chosen on validation folds only, loaded without unpickling, used by the predictor."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import synthetic
from protloc.cli import main
from protloc.mixing import PROBS, choose_mix, mix
from protloc.predictor import EnsemblePredictor
from protloc.sequences import parse_text

CONFIG = """\
name: tiny-mix
embedders:
  - id: features-v1
  - id: evidence-v1
model: {fusion: concat, hidden: 16, lstm_hidden: 8, lstm_layers: 1, pool_heads: 2,
        head_hidden: 8, dropout: 0.0, n_groups: 4, mean_pool: true}
train: {epochs: 2, batch_size: 8, lr: 0.003, patience: 5, seed: 0}
boosting: {max_iter: 8}
"""


@pytest.fixture(scope="module")
def mixed_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    data = synthetic.write_dataset(root / "data", per_class=5, seed=2)
    (root / "c.yaml").write_text(CONFIG)
    err = io.StringIO()
    code = main(["train", "--data", str(data), "--config", str(root / "c.yaml"),
                 "--out", str(root / "ckpt"), "--cache", str(root / "cache")],
                stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    rounds = [int(n) for n in re.findall(r"boosting fold \d: (\d+) rounds", err.getvalue())]
    assert len(rounds) == 5 and all(1 <= n <= 8 for n in rounds)  # the trees kept, logged
    manifest = (root / "ckpt" / "manifest.json").read_text()
    # a re-run with every fold trained only reassembles the set (no embedding, same manifest)
    code = main(["train", "--data", str(data), "--config", str(root / "c.yaml"),
                 "--out", str(root / "ckpt"), "--cache", str(root / "missing-cache")],
                stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    assert not (root / "missing-cache").exists()
    assert (root / "ckpt" / "manifest.json").read_text() == manifest
    return root / "ckpt"


def test_mixed_heldout_is_the_validation_chosen_mix(mixed_checkpoint):
    manifest = json.loads((mixed_checkpoint / "manifest.json").read_text())
    setting = manifest["boosting"]
    assert 0 <= setting["weight"] <= 1 and setting["temperature"] > 0
    assert sorted(setting["folds"]) == ["0", "1", "2", "3", "4"]
    fusion = pd.read_csv(mixed_checkpoint / "heldout_fusion.csv")
    mixed = pd.read_csv(mixed_checkpoint / "heldout.csv")
    boost = pd.concat(pd.read_csv(mixed_checkpoint / "runs" / f"fold_{k}" / "boost_heldout.csv")
                      for k in range(5))
    expected = mix(fusion[PROBS].to_numpy(), boost[PROBS].to_numpy(), setting["weight"],
                   setting["temperature"])
    np.testing.assert_allclose(mixed[PROBS].to_numpy(), expected, atol=2e-5)


def test_test_folds_play_no_part_in_the_choice(mixed_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(mixed_checkpoint, copy)
    chosen = choose_mix(copy, range(5))
    for k in range(5):  # scramble every test-fold prediction: the choice must not move
        for name in ("heldout.csv", "boost_heldout.csv"):
            path = copy / "runs" / f"fold_{k}" / name
            table = pd.read_csv(path)
            table[PROBS] = np.random.default_rng(k).dirichlet(np.ones(6), len(table))
            table.to_csv(path, index=False)
    again = choose_mix(copy, range(5))
    assert (again["weight"], again["temperature"]) == (chosen["weight"], chosen["temperature"])


def test_predictor_uses_the_boosting_member(mixed_checkpoint):
    sequence = synthetic.synthetic_protein("Periplasmic", np.random.default_rng(0))
    records = parse_text(f">a\n{sequence}")
    predictor = EnsemblePredictor.from_dir(mixed_checkpoint)
    assert all(b is not None for b in predictor.boosters)
    with_boost = predictor.predict(records, group="negative")[0].probabilities
    predictor.boosters = [None] * len(predictor.boosters)
    fusion_only = predictor.predict(records, group="negative")[0].probabilities
    np.testing.assert_allclose(with_boost.sum(), 1.0, atol=1e-6)
    if predictor.manifest.boosting["weight"] > 0 or predictor.manifest.boosting["temperature"] != 1:
        assert not np.allclose(with_boost, fusion_only)


def test_per_fold_temperatures_come_from_each_models_own_validation_fold(mixed_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(mixed_checkpoint, copy)
    ids = set(pd.read_csv(copy / "heldout.csv")["id"])
    chosen = choose_mix(copy, range(5), calibration_ids=ids, calibrated_on="all", min_proteins=1)
    assert sorted(chosen["temperatures"]) == ["0", "1", "2", "3", "4"]
    assert chosen["calibrated_on"] == "all"
    # make fold 2's validation predictions overconfident and wrong: only fold 2's temperature moves
    path = copy / "runs" / "fold_2" / "val.csv"
    table = pd.read_csv(path)
    table[PROBS] = np.roll(np.eye(6)[np.argmax(table[PROBS].to_numpy(), 1)] * 0.98 + 0.02 / 6, 1, axis=1)
    table.to_csv(path, index=False)
    again = choose_mix(copy, range(5), calibration_ids=ids, calibrated_on="all", min_proteins=1)
    for k in ("0", "1", "3", "4"):
        if again["weight"] == chosen["weight"]:
            assert again["temperatures"][k] == chosen["temperatures"][k]
    assert again["temperatures"]["2"] != chosen["temperatures"]["2"]
    # the test predictions of each fold use that fold's temperature
    mixed = pd.read_csv(copy / "heldout.csv")
    fusion = pd.read_csv(copy / "runs" / "fold_0" / "heldout.csv")
    boost = pd.read_csv(copy / "runs" / "fold_0" / "boost_heldout.csv")
    expected = mix(fusion[PROBS].to_numpy(), boost[PROBS].to_numpy(), again["weight"],
                   again["temperatures"]["0"])
    np.testing.assert_allclose(mixed[mixed["partition"] == 0][PROBS].to_numpy(), expected, atol=2e-4)


def test_too_few_calibration_proteins_is_a_clear_error(mixed_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(mixed_checkpoint, copy)
    with pytest.raises(ValueError, match="calibration proteins"):
        choose_mix(copy, range(5), calibration_ids=set(), calibrated_on="none")


SEEDS_CONFIG = CONFIG.replace("name: tiny-mix", "name: tiny-mix-seeds").replace(
    "boosting: {max_iter: 8}", "boosting: {max_iter: 8, min_samples_leaf: 2, select: mcc, seeds: 2, streams: [features-v1]}")


@pytest.fixture(scope="module")
def seeded_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix-seeds")
    data = synthetic.write_dataset(root / "data", per_class=5, seed=2)
    (root / "c.yaml").write_text(SEEDS_CONFIG)
    err = io.StringIO()
    code = main(["train", "--data", str(data), "--config", str(root / "c.yaml"),
                 "--out", str(root / "ckpt"), "--cache", str(root / "cache")],
                stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    return root / "ckpt", data


def test_boosting_seeds_are_listed_per_fold_and_averaged(seeded_checkpoint):
    ckpt, _ = seeded_checkpoint
    setting = json.loads((ckpt / "manifest.json").read_text())["boosting"]
    assert setting["streams"] == ["features-v1"]
    assert setting["folds"]["3"] == ["boost_fold_3.safetensors", "boost_fold_3_seed1.safetensors"]
    run = ckpt / "runs" / "fold_3"
    seeds = [pd.read_csv(run / f"boost_seed_{s}" / "boost_val.csv")[PROBS].to_numpy() for s in (0, 1)]
    assert not np.allclose(seeds[0], seeds[1])  # a second seed is a different forest
    averaged = pd.read_csv(run / "boost_val.csv")[PROBS].to_numpy()
    np.testing.assert_allclose(averaged, np.mean(seeds, axis=0), atol=2e-5)


def test_the_predictor_reads_only_the_chosen_streams_and_matches_training(seeded_checkpoint):
    from protloc.embedders.features import FeatureEmbedder

    ckpt, data = seeded_checkpoint
    predictor = EnsemblePredictor.from_dir(ckpt)
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    row = table[table["partition"] == 3].iloc[0]
    # the arrays as training stored them (float16), so the pooled features are the same
    per_stream = [[e.embed([row["sequence"]])[0].astype(np.float16)] for e in predictor.embedders]
    pooled = predictor.boosting_features(per_stream, row["group"])
    assert pooled.shape[1] == 4 * FeatureEmbedder().dim + 1 + 4  # one stream, 4 pools, length, group
    k = [f.test_fold for f in predictor.manifest.folds].index(3)
    assert len(predictor.boosters[k]) == 2
    expected = pd.read_csv(ckpt / "runs" / "fold_3" / "boost_heldout.csv").set_index("id")
    np.testing.assert_allclose(predictor.boosting_probabilities(k, pooled)[0],
                               expected.loc[row["id"], PROBS].to_numpy(float), atol=2e-5)
    sequence = synthetic.synthetic_protein("Periplasmic", np.random.default_rng(0))
    probs = predictor.predict(parse_text(f">a\n{sequence}"), group="negative")[0].probabilities
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-6)


@pytest.mark.parametrize("boosting, message", [
    ("{seeds: 0}", "boosting.seeds must be a whole number from 1 to 10"),
    ("{seeds: 2.5}", "boosting.seeds must be a whole number"),
    ("{streams: [unirep-256]}", "boosting.streams names embedders the config does not have"),
    ("{streams: []}", "boosting.streams must be a non-empty list"),
])
def test_bad_boosting_options_are_clear_errors_before_any_training(tmp_path, boosting, message):
    data = synthetic.write_dataset(tmp_path / "data", per_class=2, seed=1)
    (tmp_path / "c.yaml").write_text(CONFIG.replace("boosting: {max_iter: 8}", f"boosting: {boosting}"))
    err = io.StringIO()
    code = main(["train", "--data", str(data), "--config", str(tmp_path / "c.yaml"),
                 "--out", str(tmp_path / "ckpt"), "--cache", str(tmp_path / "cache")],
                stdout=io.StringIO(), stderr=err)
    assert code != 0 and message in err.getvalue() and "Traceback" not in err.getvalue()
    assert not (tmp_path / "ckpt" / "runs").exists()


def test_train_threads_also_limit_the_boosting_openmp_pool(monkeypatch, tmp_path):
    import protloc.experiment
    from threadpoolctl import threadpool_info

    seen = {}

    def fake_train(*args, **kwargs):
        seen["pools"] = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]

    monkeypatch.setattr(protloc.experiment, "train_experiment", fake_train)
    code = main(["train", "--data", str(tmp_path), "--config", str(tmp_path / "c.yaml"),
                 "--out", str(tmp_path / "o"), "--threads", "1"],
                stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0 and seen["pools"] and set(seen["pools"]) == {1}


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.pop("roots"), "lacks the arrays ['roots']"),
    (lambda t: t.update(left=t["left"][:-1]), "different lengths"),
    (lambda t: t.update(left=t["left"] + 10**6), "left child lies outside"),
    (lambda t: t.update(feature_idx=t["feature_idx"] + 10**6), "were they trained on other streams"),
    (lambda t: t.update(baseline=t["baseline"][:3]), "baseline has 3 scores"),
    (lambda t: t.update(roots=t["roots"][:-1]), "tree roots do not fit"),
])
def test_damaged_boosting_trees_are_refused_at_load(seeded_checkpoint, tmp_path, edit, words):
    import shutil

    from safetensors.numpy import load_file, save_file

    copy = tmp_path / "ckpt"
    shutil.copytree(seeded_checkpoint[0], copy)
    path = copy / "boost_fold_0.safetensors"
    trees = load_file(str(path))
    if not (trees["is_leaf"] == 0).any():
        pytest.skip("fold 0 kept no split to damage")
    edit(trees)
    save_file(trees, str(path))
    from protloc.errors import UserError

    with pytest.raises(UserError, match="boost_fold_0.safetensors cannot be used") as info:
        EnsemblePredictor.from_dir(copy)
    assert words in str(info.value)


def test_trees_with_projected_states_store_their_projection(tmp_path):
    """train_boosting(states=...): each fold's file holds a projection fitted on that fold's
    training proteins, the stored trees read it before the group columns and recompute the
    fold's tables (the predictor refuses such trees: next test)."""
    from safetensors.numpy import load_file

    from protloc.boosting import pooled_matrix, predict_raw, with_projection
    from protloc.experiment import embed_table, load_dataset
    from protloc.mixing import softmax, train_boosting
    from protloc.training import fold_split

    data_dir = synthetic.write_dataset(tmp_path / "data", per_class=5, seed=2)
    table = load_dataset(data_dir)
    data = embed_table(table, [{"id": "features-v1", "kind": "features"}], None, lambda m: None)
    rng = np.random.default_rng(0)
    states = rng.normal(size=(len(table), 12))
    states[:, 0] += 5 * np.arange(len(table)) / len(table)  # one direction that dominates
    partitions = table["partition"].to_numpy()
    out = tmp_path / "trees"
    train_boosting(data, table["id"].tolist(), partitions, out, [0, 1], None, {"max_iter": 8},
                   0.0, 0, log=lambda m: None, states=states, components=3)
    x = pooled_matrix(data.streams, data.groups)
    for k in (0, 1):
        arrays = load_file(str(out / f"boost_fold_{k}.safetensors"))
        train, _, test = fold_split(partitions, k)
        assert arrays["proj_components"].shape == (3, 12)
        np.testing.assert_allclose(arrays["proj_mean"], states[train].mean(axis=0))  # train only
        wide = with_projection(x, states, arrays)
        assert wide.shape[1] == x.shape[1] + 3
        np.testing.assert_array_equal(wide[:, -4:], x[:, -4:])  # the group one-hot stays last
        expected = pd.read_csv(out / "runs" / f"fold_{k}" / "boost_heldout.csv")
        assert expected["id"].tolist() == table["id"].iloc[test].tolist()
        np.testing.assert_allclose(softmax(predict_raw(arrays, wide[test])),
                                   expected[PROBS].to_numpy(), atol=2e-5)
    with pytest.raises(ValueError, match="none were given"):
        with_projection(x, None, arrays)
    with pytest.raises(ValueError, match="components must be from 1 to 12"):
        train_boosting(data, table["id"].tolist(), partitions, tmp_path / "t0", [0], None, {},
                       0.0, 0, log=lambda m: None, states=states, components=0)


def test_group_dropout_hides_the_group_not_the_projected_states(tmp_path, monkeypatch):
    """With every training protein's group hidden, the trees still see the projected states;
    only the group columns read "unknown"."""
    import protloc.mixing
    from protloc.boosting import fit as real_fit
    from protloc.boosting import pooled_matrix
    from protloc.experiment import embed_table, load_dataset
    from protloc.training import fold_split

    data_dir = synthetic.write_dataset(tmp_path / "data", per_class=5, seed=2)
    table = load_dataset(data_dir)
    data = embed_table(table, [{"id": "features-v1", "kind": "features"}], None, lambda m: None)
    states = np.random.default_rng(0).normal(size=(len(table), 6))
    seen = {}

    def spy(x_train, *args, **kwargs):
        seen["x"] = x_train.copy()
        return real_fit(x_train, *args, **kwargs)

    monkeypatch.setattr(protloc.mixing, "fit", spy)
    partitions = table["partition"].to_numpy()
    protloc.mixing.train_boosting(data, table["id"].tolist(), partitions, tmp_path / "t", [0],
                                  None, {"max_iter": 2}, 1.0, 0, log=lambda m: None,
                                  states=states, components=2)
    x = pooled_matrix(data.streams, data.groups)
    train, _, _ = fold_split(partitions, 0)
    cut = x.shape[1] - 4
    np.testing.assert_array_equal(seen["x"][:, :cut], x[train, :cut])  # pooled streams intact
    from safetensors.numpy import load_file

    from protloc.boosting import with_projection

    stored = load_file(str(tmp_path / "t" / "boost_fold_0.safetensors"))
    expected = with_projection(x, states, stored)[train, cut:cut + 2]
    np.testing.assert_allclose(seen["x"][:, cut:cut + 2], expected)  # the projection, untouched
    np.testing.assert_array_equal(seen["x"][:, cut + 2:], np.tile([1.0, 0, 0, 0], (len(train), 1)))


def test_a_checkpoint_with_projected_trees_is_refused_clearly(seeded_checkpoint, tmp_path):
    import shutil

    from safetensors.numpy import load_file, save_file

    from protloc.errors import UserError

    copy = tmp_path / "ckpt"
    shutil.copytree(seeded_checkpoint[0], copy)
    path = copy / "boost_fold_0.safetensors"
    trees = load_file(str(path))
    save_file({**trees, "proj_mean": np.zeros(5), "proj_components": np.zeros((2, 5))}, str(path))
    with pytest.raises(UserError, match="reads projected protein states"):
        EnsemblePredictor.from_dir(copy)
    save_file({**trees, "proj_mean": np.zeros(4), "proj_components": np.zeros((2, 5))}, str(path))
    with pytest.raises(UserError, match="projection arrays .* do not agree"):
        EnsemblePredictor.from_dir(copy)
