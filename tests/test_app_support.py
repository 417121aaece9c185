"""results.json reading for the CV results page."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from protloc import app_support as S
from protloc.classes import CLASSES


def _write(folder: Path, doc) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return folder


def test_no_results_file_means_none(tmp_path):
    assert S.load_cv_results(tmp_path) is None


def test_protloc_evaluate_layout(tmp_path):
    from test_app import results_doc

    report = S.load_cv_results(_write(tmp_path, results_doc()), "default")
    main = report.main
    assert main.name == "default" and main.overall["accuracy"] == pytest.approx(0.83)
    assert main.confusion[0] == list(CLASSES) and main.confusion[1].shape == (6, 6)
    assert len(main.per_class) == 6 and main.per_class[0]["class"] == "Cytoplasmic"
    assert len(main.per_fold) == 5 and main.fold_sd["accuracy"] == pytest.approx(0.014)
    assert main.ece == pytest.approx(0.05) and len(main.reliability) == 15
    assert [e.name for e in report.comparison] == ["default", "DeepLocPro", "PSORTb 3.0.6"]
    assert report.comparison_n == 100 and report.comparison_notes
    assert report.reference is None  # the page falls back to the built-in figures
    assert "Made-up figures for a test." in report.notes


def test_bare_evaluation_and_peer_mapping_layouts(tmp_path):
    from test_app import evaluation_block

    bare = S.load_cv_results(_write(tmp_path / "a", evaluation_block()), "m")
    assert bare.main.overall["mcc"] == pytest.approx(0.79) and bare.comparison == []
    mapping = {
        "protloc": evaluation_block(),
        "deeplocpro": evaluation_block(0.9),
        "psortb": {"accuracy": 0.6, "mcc": 0.5},
    }
    report = S.load_cv_results(_write(tmp_path / "b", mapping), "m")
    assert report.main.overall["accuracy"] == pytest.approx(0.83)
    assert [e.name for e in report.comparison] == ["m", "deeplocpro", "psortb"]
    assert report.comparison[2].overall == {"accuracy": 0.6, "macro_f1": None, "mcc": 0.5}


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"all": None, "benchmark": None, "notes": []},
        {"all": {"overall": "oops"}},
        {
            "all": {
                "overall": {"accuracy": "x"},
                "confusion_matrix": [[1, 2], [3]],
                "per_class": "nope",
                "per_fold": {"folds": "bad"},
                "calibration": [1, 2],
            }
        },
        {"all": {"confusion_matrix": {"labels": ["a"], "matrix": [[1, 2]]}}},
        [1, 2, 3],
    ],
)
def test_odd_results_files_never_crash(tmp_path, doc):
    folder = _write(tmp_path, doc)
    if isinstance(doc, list):
        with pytest.raises(ValueError, match="JSON object"):
            S.load_cv_results(folder)
        return
    report = S.load_cv_results(folder)
    assert report is not None
    if report.main is not None:
        assert report.main.confusion is None or report.main.confusion[1].ndim == 2


def test_invalid_json_is_a_user_message(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        S.load_cv_results(_write(tmp_path, "{oops"))


def test_reference_study_figures():
    ref = S.reference_evaluation()
    cm = ref.confusion[1]
    assert cm.sum() == S.REFERENCE_STUDY["n"] == 11_531
    assert np.trace(cm) / cm.sum() == pytest.approx(
        S.REFERENCE_STUDY["mean"]["accuracy"], abs=0.001
    )
    assert "not on homology partitions" in S.REFERENCE_CAVEAT
    assert np.mean([f["mcc"] for f in ref.per_fold]) == pytest.approx(ref.overall["mcc"], abs=1e-3)


@pytest.mark.data
def test_reference_confusion_matrix_matches_the_published_predictions():
    data = os.environ.get("PROTLOC_DATA")
    folder = Path(data).parent / "reference" / "seed_results" if data else None
    if folder is None or not (folder / "fold_0_results.json").is_file():
        pytest.skip("reference study results not found next to PROTLOC_DATA")
    study_order = (
        "Cytoplasmic",
        "Cytoplasmic membrane",
        "Extracellular",
        "Periplasmic",
        "Outer membrane",
        "Cell wall & surface",
    )
    cm = np.zeros((6, 6), dtype=int)
    for k in range(5):
        fold = json.loads((folder / f"fold_{k}_results.json").read_text())
        for y, p in zip(fold["labels"], fold["predictions"]):
            cm[CLASSES.index(study_order[y]), CLASSES.index(study_order[p])] += 1
        assert fold["test_mcc"] == pytest.approx(S.REFERENCE_STUDY["per_fold"][k]["mcc"], abs=1e-4)
    np.testing.assert_array_equal(cm, S.REFERENCE_STUDY["confusion_matrix"])
