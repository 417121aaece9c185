"""Seed ensembles (``train.seeds``): several networks per fold, trained with consecutive seeds,
whose calibrated probabilities are averaged in training's tables and in the predictor alike."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from protloc.embedders.features import FeatureEmbedder
from protloc.model import FusionConfig
from protloc.predictor import EnsemblePredictor
from protloc.sequences import parse_text
from protloc.training import FoldData, TrainConfig, train_cv
from synthetic import synthetic_table

CLASSES = ["Cytoplasmic", "Cytoplasmic membrane", "Periplasmic", "Outer membrane",
           "Extracellular", "Cell wall & surface"]
PROTEIN = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    rows = synthetic_table(per_class=8, seed=5)
    arrays = FeatureEmbedder().embed([r["sequence"] for r in rows])
    data = FoldData([[a] for a in arrays], np.array([CLASSES.index(r["label"]) for r in rows]))
    parts = np.array([r["partition"] for r in rows])
    ids = [f"p{i}" for i in range(len(rows))]
    dim = FeatureEmbedder().dim
    model = FusionConfig(input_dims=[dim], hidden=16, cross_heads=2, lstm_hidden=8, pool_heads=2,
                         head_hidden=8, dropout=0.1)
    root = tmp_path_factory.mktemp("seeds")
    spec = [FeatureEmbedder().spec()]
    out = {}
    for seeds in (1, 2):
        cfg = TrainConfig(epochs=2, batch_size=8, seed=4, seeds=seeds)
        out[seeds] = root / f"seeds_{seeds}"
        train_cv(data, ids, parts, model, cfg, out[seeds], spec, folds=[0], log=lambda m: None)
    return out


def test_the_manifest_lists_the_second_seed_as_a_member(runs):
    fold = json.loads((runs[2] / "manifest.json").read_text())["folds"][0]
    assert fold["weights"] == "fold_0.safetensors"
    [member] = fold["members"]
    assert member["weights"] == "fold_0_seed1.safetensors" and member["seed"] == 5
    assert member["temperature"] > 0
    assert "members" not in json.loads((runs[1] / "manifest.json").read_text())["folds"][0]


def test_the_first_seed_is_the_single_network(runs):
    one = (runs[1] / "fold_0.safetensors").read_bytes()
    assert (runs[2] / "fold_0.safetensors").read_bytes() == one
    assert (runs[2] / "fold_0_seed1.safetensors").read_bytes() != one


@pytest.mark.parametrize("name", ["heldout.csv", "val.csv"])
def test_fold_tables_average_the_seed_networks(runs, name):
    fold = runs[2] / "runs" / "fold_0"
    seeds = [pd.read_csv(fold / f"seed_{s}" / name) for s in (0, 1)]
    mean = pd.read_csv(fold / name)
    probs = list(mean.columns[4:])
    assert len(probs) == 6 and mean["id"].tolist() == seeds[0]["id"].tolist()
    expected = (seeds[0][probs].to_numpy() + seeds[1][probs].to_numpy()) / 2
    np.testing.assert_allclose(mean[probs].to_numpy(), expected, atol=1e-5)
    assert not np.allclose(seeds[0][probs].to_numpy(), seeds[1][probs].to_numpy(), atol=1e-3)


def test_the_predictor_averages_a_folds_seed_networks(runs):
    predictor = EnsemblePredictor.from_dir(runs[2])
    [[(second, t2)]] = predictor.seed_networks
    pred = predictor.predict(parse_text(f">a\n{PROTEIN}"), attention=True)[0]
    seq = torch.from_numpy(predictor.embedders[0].embed([PROTEIN])[0])[None]
    length = torch.tensor([len(PROTEIN)])
    with torch.inference_mode():
        each = [torch.softmax(m([seq], length)[0] / t, -1)[0].numpy()
                for m, t in ((predictor.models[0], predictor.temperatures[0]), (second, t2))]
    np.testing.assert_allclose(pred.probabilities, np.mean(each, axis=0), atol=1e-5)
    assert not np.allclose(each[0], each[1], atol=1e-4)


def test_a_missing_seed_network_file_is_a_clear_error(runs, tmp_path):
    import shutil

    from protloc.errors import UserError

    copy = shutil.copytree(runs[2], tmp_path / "set")
    (copy / "fold_0_seed1.safetensors").unlink()
    with pytest.raises(UserError, match="fold_0_seed1.safetensors"):
        EnsemblePredictor.from_dir(copy)


def test_seeds_out_of_range_are_refused():
    with pytest.raises(ValueError, match="seeds"):
        TrainConfig(seeds=0)
