from pathlib import Path

import pytest

from protloc.commands.train import load_config
from protloc.embedders import spec_from_id
from protloc.model import FusionConfig, FusionModel, count_parameters
from protloc.training import TrainConfig

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
DIMS = {"features": 57, "esm2": 1280, "prostt5": 1024}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_experiment_configs_build(path):
    config = load_config(path)
    TrainConfig.from_dict(config["train"])
    dims = [DIMS[spec_from_id(e["id"])["kind"]] for e in config["embedders"]]
    model = FusionModel(FusionConfig.from_dict({**config["model"], "input_dims": dims}))
    if path.stem == "paper":
        assert count_parameters(model) == 8_412_936


def test_there_are_configs():
    assert {"offline", "paper"} <= {p.stem for p in CONFIGS}
