"""DeepLocPro reference: parsing on inline fixtures, and the real sanity figures (PROTLOC_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from protloc import reference as R
from protloc.classes import CLASSES
from protloc.errors import UserError

HEADER = ",Cellwall,Extracellular,Cytoplasmic,CYtoplasmicMembrane,OuterMembrane,Periplasmic\n"


def write_fixture(root: Path) -> None:
    (root / "deeplocpro" / "deeplocpro_heldout").mkdir(parents=True)
    (root / "deeplocpro" / "benchmarking_dataset.fasta").write_text(
        ">P1|OuterMembrane|positive\nMKV\n>P2|Cytoplasmic|negative\nMAA\n")
    # P1 and P3 in fold 0, P2 in fold 1; 4 inner models per fold
    for t, rows in ((0, {"P1": [0.0, 0.1, 0.1, 0.1, 0.6, 0.1], "P3": [1, 0, 0, 0, 0, 0]}),
                    (1, {"P2": [0.0, 0.0, 0.5, 0.5, 0.0, 0.0]})):
        for i, v in enumerate(v for v in range(5) if v != t):
            text = HEADER + "".join(
                f"{acc}," + ",".join(str(x + (0.01 * i if j == 2 else 0.0)) for j, x in enumerate(p)) + "\n"
                for acc, p in rows.items())
            (root / "deeplocpro" / "deeplocpro_heldout" / f"model_{t}_{v}.csv").write_text(text)


def test_partitions_from_file_names(tmp_path):
    write_fixture(tmp_path)
    assert R.deeplocpro_partitions(tmp_path) == {"P1": 0, "P2": 1, "P3": 0}


def test_mean_of_inner_models_in_classes_order(tmp_path):
    write_fixture(tmp_path)
    probs = R.heldout_probabilities(tmp_path)
    assert list(probs.columns) == list(CLASSES)
    # P3 is all Cellwall; P2 Cytoplasmic gets +0.015 on average (0, .01, .02, .03)
    assert probs.loc["P3", "Cell wall & surface"] == pytest.approx(1.0)
    assert probs.loc["P2", "Cytoplasmic"] == pytest.approx(0.515)


def test_benchmark_reference_applies_group_rule(tmp_path):
    write_fixture(tmp_path)
    ref = R.benchmark_reference(tmp_path)
    assert list(ref["id"]) == ["P1", "P2"]
    p1 = ref.iloc[0]
    # Gram-positive: Outer membrane (0.6) and Periplasmic (0.1) move to Extracellular
    assert p1["Outer membrane"] == 0 and p1["Periplasmic"] == 0
    assert p1["Extracellular"] == pytest.approx(0.8) and p1["prediction"] == "Extracellular"
    assert p1["label"] == "Outer membrane" and p1["group"] == "positive" and p1["partition"] == 0
    assert ref.iloc[1]["prediction"] == "Cytoplasmic"
    m = R.reference_metrics(ref)
    assert m["n"] == 2 and m["accuracy"] == pytest.approx(0.5)


def test_missing_data_dir_is_user_error(monkeypatch, tmp_path):
    monkeypatch.delenv("PROTLOC_DATA", raising=False)
    with pytest.raises(UserError, match="PROTLOC_DATA"):
        R.resolve_data_dir(None)
    with pytest.raises(UserError, match="not found"):
        R.load_benchmark(tmp_path)


DATA = os.environ.get("PROTLOC_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="PROTLOC_DATA is unset: the real DeepLocPro files are needed")


@pytest.mark.data
@needs_data
def test_real_reference_sanity_figures():
    ref = R.benchmark_reference()
    m = R.reference_metrics(ref)
    assert m["n"] == 1131
    assert round(m["accuracy"], 3) == 0.777
    assert round(m["macro_f1"], 3) == 0.733
    assert round(m["mcc"], 3) == 0.716
    assert np.allclose(ref[list(CLASSES)].sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.data
@needs_data
def test_real_partitions_match_source_counts():
    parts = R.deeplocpro_partitions()
    assert len(parts) == 11906
    ref = R.benchmark_reference()
    assert ref["partition"].value_counts().sort_index().to_dict() == {0: 215, 1: 234, 2: 210, 3: 240, 4: 232}
