"""Shared test set-up."""

import os
from pathlib import Path

import pytest
import torch

# Tiny models run fastest on one thread; more threads only add synchronisation on 2 cores.
torch.set_num_threads(1)


def shared_data_dir() -> Path | None:
    value = os.environ.get("PROTLOC_DATA")
    return Path(value) if value and Path(value).is_dir() else None


@pytest.fixture
def protloc_data() -> Path:
    """The real data folder, or a skip that says why."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("PROTLOC_DATA is not set to a folder laid out like ../shared/data")
    return path


TINY_CONFIG = """\
name: tiny-synthetic
embedders:
  - id: features-v1
model:
  hidden: 16
  cross_heads: 2
  lstm_hidden: 8
  lstm_layers: 1
  pool_heads: 2
  head_hidden: 8
  dropout: 0.0
train:
  epochs: 2
  batch_size: 8
  lr: 0.003
  patience: 5
  seed: 0
"""


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A complete checkpoint set trained for a few steps on synthetic data via the CLI."""
    import io

    import synthetic
    from protloc.cli import main

    root = tmp_path_factory.mktemp("tiny")
    data = synthetic.write_dataset(root / "data", per_class=5, seed=1)
    config = root / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["train", "--data", str(data), "--config", str(config), "--out", str(root / "ckpt"),
         "--cache", str(root / "cache")],
        stdout=out, stderr=err,
    )
    assert code == 0, err.getvalue()
    return root / "ckpt"


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest runs app.py as ``__main__`` and can leave it there; Dask's worker
    processes (spawned) would then re-run app.py on start. Put the real ``__main__`` back."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
