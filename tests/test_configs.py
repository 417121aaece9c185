from pathlib import Path

import pytest

from protloc.experiment import load_config
from protloc.embedders import make_embedder, spec_from_id
from protloc.model import FusionConfig, FusionModel, count_parameters
from protloc.training import TrainConfig

# Experiment configs (configs/cluster/ holds Dask cluster settings, not experiments)
CONFIGS = sorted(p for p in (Path(__file__).parent.parent / "configs").rglob("*.yaml")
                 if p.parent.name != "cluster")
DIMS = {"features": 57, "esm2": 1280, "prostt5": 1024}


def _dim(entry: dict) -> int:
    """Input dimension without building the backbone (ESM-2 / ProstT5 weights are not here)."""
    spec = {**spec_from_id(entry["id"]), **{k: v for k, v in entry.items() if k != "id"}}
    if spec["kind"] in ("features", "evidence", "unirep"):  # no download needed
        return make_embedder(entry).dim
    return DIMS[spec["kind"]]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem if p.parent.name == "configs" else f"{p.parent.name}/{p.stem}" for p in CONFIGS])
def test_experiment_configs_build(path):
    config = load_config(path)
    TrainConfig.from_dict(config["train"])
    dims = [_dim(e) for e in config["embedders"]]
    model = FusionModel(FusionConfig.from_dict({**config["model"], "input_dims": dims}))
    if path.stem == "paper":
        assert count_parameters(model) == 8_412_936


def test_there_are_configs():
    assert {"offline", "paper"} <= {p.stem for p in CONFIGS}


def test_ablation_configs_differ_from_the_default_in_one_respect():
    base = load_config(Path(__file__).parent.parent / "configs" / "offline.yaml")
    ablations = [p for p in CONFIGS if p.parent.name == "ablations"]
    assert len(ablations) >= 5
    for path in ablations:
        config = load_config(path)
        # max_batch_pairs only bounds memory (it splits batches of proteins > 1,000 residues)
        config["train"] = {k: v for k, v in config["train"].items() if k != "max_batch_pairs"}
        changed = {key for key in ("embedders", "model", "train", "sources", "train_sources")
                   if config.get(key) != base.get(key)}
        assert len(changed) == 1, (path.name, changed)


def test_a_config_extends_another_and_overrides_it_section_by_section(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "name: base\nembedders: [{id: features-v1}]\nmodel: {hidden: 16, dropout: 0.1}\n"
        "train: {epochs: 3, lr: 0.001}\nboosting: {select: mcc, calibrate_on: [a, b]}\n")
    (tmp_path / "variant.yaml").write_text(
        "extends: base.yaml\nname: variant\ntrain: {epochs: 5}\n"
        "boosting: {seeds: 2, calibrate_on: [c]}\n")
    config = load_config(tmp_path / "variant.yaml")
    assert config["name"] == "variant" and "extends" not in config
    assert config["train"] == {"epochs": 5, "lr": 0.001}  # mappings merge
    assert config["model"] == {"hidden": 16, "dropout": 0.1}
    assert config["boosting"] == {"select": "mcc", "calibrate_on": ["c"], "seeds": 2}  # lists replace


@pytest.mark.parametrize("text, words", [
    ("extends: loop.yaml\nname: x\n", "without cycles"),
    ("extends: missing.yaml\nname: x\n", "does not exist"),
    ("extends: [a.yaml]\nname: x\n", "extends must name one config file"),
    ("- a\n- b\n", "must hold a mapping"),
])
def test_bad_extends_are_clear_errors(tmp_path, text, words):
    from protloc.errors import UserError

    (tmp_path / "loop.yaml").write_text(text)
    with pytest.raises(UserError, match=words):
        load_config(tmp_path / "loop.yaml")
