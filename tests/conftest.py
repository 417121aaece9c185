"""Shared test set-up."""

import os
import sys
from pathlib import Path

import pytest
import torch

# Tiny models run fastest on one thread; more threads only add synchronisation on 2 cores.
torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))  # for `import synthetic`


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
