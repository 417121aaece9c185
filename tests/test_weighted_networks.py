"""scripts/weighted_networks.py: one set's networks swapped inside a two-set average."""

import numpy as np
import pandas as pd
import pytest

from protloc.classes import CLASSES
from protloc.mixing import PROBS
from scripts.weighted_networks import swapped


def _table(probs: np.ndarray, ids) -> pd.DataFrame:
    table = pd.DataFrame(probs, columns=PROBS)
    table.insert(0, "id", ids)
    table["prediction"] = [CLASSES[i] for i in probs.argmax(axis=1)]
    return table


def test_the_new_networks_take_the_old_ones_share_of_the_average():
    rng = np.random.default_rng(0)
    a, b, c = (rng.dirichlet(np.ones(6), size=8) for _ in range(3))
    ids = [f"p{i}" for i in range(8)]
    joined = _table((a + b) / 2, ids)
    order = rng.permutation(8)  # the tables need not share a row order
    out = swapped(joined, _table(a[order], np.array(ids)[order]), _table(c, ids))
    np.testing.assert_allclose(out[PROBS].to_numpy(), (b + c) / 2, atol=1e-12)
    assert out["id"].tolist() == ids
    assert out["prediction"].tolist() == [CLASSES[i] for i in ((b + c) / 2).argmax(axis=1)]
    third = swapped(joined, _table(a, ids), _table(c, ids), add=True)
    np.testing.assert_allclose(third[PROBS].to_numpy(), (a + b + c) / 3, atol=1e-12)
    with pytest.raises(ValueError, match="not one half"):  # c was never in the average
        swapped(joined, _table(np.eye(6)[[0, 1, 2, 3, 4, 5, 0, 1]], ids), _table(c, ids))


def test_missing_inputs_and_a_wrong_old_set_are_refused(tmp_path, capsys):
    from scripts.weighted_networks import main

    nets, old, default = tmp_path / "nets", tmp_path / "old", tmp_path / "default"
    for k in range(5):
        (nets / "runs" / f"fold_{k}").mkdir(parents=True)
        for name in ("val.csv", "heldout.csv"):
            (nets / "runs" / f"fold_{k}" / name).write_text("id\n")
    argv = ["data", str(nets), str(old), str(tmp_path / "out"), "--default", str(default)]
    assert main(argv) == 2 and "validation.csv is missing" in capsys.readouterr().err
    old.mkdir()
    default.mkdir()
    for folder, content in ((old, b"v5"), (default, b"v4")):
        for name in ("validation.csv", "heldout_fusion.csv"):
            (folder / name).write_text("id\n")
        for k in range(5):
            (folder / f"fold_{k}.safetensors").write_bytes(content)
    assert main(argv) == 2 and "networks are not" in capsys.readouterr().err
