"""The Streamlit app, page by page, with streamlit.testing.v1.AppTest (no browser).

The app reads checkpoint sets from $PROTLOC_CHECKPOINTS; here that is a temporary folder holding
a copy of the `tiny_checkpoint` fixture named `default`.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from pages import examples
from pages import settings
from protloc.classes import CLASSES

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
OMPA = examples.EXAMPLES["Outer membrane"]
BATCH = f""">ompa {OMPA.name}
{OMPA.sequence}
>dna_by_mistake
ATGGCGTACGATCGATCGATCGATCGATGCATGCATGCTAGCTAGC
>male
{examples.EXAMPLES["Periplasmic"].sequence}
"""


# ------------------------------------------------------------------------------- helpers


def make_checkpoint_root(tiny_checkpoint: Path, folder: Path) -> Path:
    """A folder of checkpoint sets holding a copy of the tiny set named ``default``."""
    root = folder / "checkpoint_sets"
    if not (root / "default").is_dir():
        shutil.copytree(
            tiny_checkpoint, root / "default", ignore=shutil.ignore_patterns("runs", "results.json")
        )
    return root


def helix_pdb(sequence: str, chain: str = "A") -> str:
    """An ideal alpha-helix backbone (N, CA, C, O) for ``sequence``, numbered from 1."""
    three = {
        "A": "ALA",
        "R": "ARG",
        "N": "ASN",
        "D": "ASP",
        "C": "CYS",
        "Q": "GLN",
        "E": "GLU",
        "G": "GLY",
        "H": "HIS",
        "I": "ILE",
        "L": "LEU",
        "K": "LYS",
        "M": "MET",
        "F": "PHE",
        "P": "PRO",
        "S": "SER",
        "T": "THR",
        "W": "TRP",
        "Y": "TYR",
        "V": "VAL",
    }
    atoms = (
        ("N", 1.55, -28.0, -0.85),
        ("CA", 2.30, 0.0, 0.0),
        ("C", 1.65, 26.0, 0.75),
        ("O", 1.95, 40.0, 1.95),
    )
    lines = [
        f"HELIX    1   1 {three[sequence[0]]} {chain} {1:>4}  {three[sequence[-1]]} "
        f"{chain} {len(sequence):>4}  1{len(sequence):>36}"
    ]
    serial = 1
    for i, aa in enumerate(sequence):
        for name, radius, offset, dz in atoms:
            angle = math.radians(100.0 * i + offset)
            y, z, x = radius * math.cos(angle), radius * math.sin(angle), 1.5 * i + dz
            lines.append(
                f"ATOM  {serial:>5} {name:<4} {three.get(aa, 'UNK')} {chain}{i + 1:>4}    "
                f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           {name[0]}"
            )
            serial += 1
    return "\n".join(lines + ["TER", "END"]) + "\n"


def evaluation_block(correct: int = 83) -> dict:
    """One predictor's metrics (protloc.metrics on made-up predictions: ``correct`` of 100)."""
    from protloc.metrics import evaluate_predictions

    labels = [CLASSES[i % 6] for i in range(100)]
    probs = np.full((100, 6), 0.02)
    for i in range(100):
        probs[i, i % 6 if i < correct else (i + 1) % 6] = 0.9
    return evaluate_predictions(labels, probs, partitions=[i % 5 for i in range(100)])


def results_doc() -> dict:
    """A results.json as `protloc evaluate` writes it (an Evaluation), with made-up figures."""
    from protloc.evaluation import SCHEMA_VERSION, Benchmark, Evaluation, metrics_from_result

    peers = {"protloc": 80, "DeepLocPro": 90, "PSORTb 3.0.6": 60}
    return Evaluation(
        SCHEMA_VERSION,
        "checkpoints/default",
        "Group rule applied before the argmax.",
        metrics_from_result(evaluation_block()),
        Benchmark(
            100,
            {k: metrics_from_result(evaluation_block(v)) for k, v in peers.items()},
            ["PSORTb overlaps the benchmark."],
        ),
        None,
        ["Made-up figures for a test."],
    ).to_dict()


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def app_checkpoints(tiny_checkpoint, tmp_path_factory) -> Path:
    return make_checkpoint_root(tiny_checkpoint, tmp_path_factory.mktemp("app"))


@pytest.fixture
def app(app_checkpoints, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(settings.CHECKPOINTS_ENV, str(app_checkpoints))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def downloads(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


# --------------------------------------------------------------------------------- Predict


def test_predict_known_sequence_shows_class_confidence_and_downloads(app):
    app.button(key="example_OMEM").click().run()
    assert app.text_area(key="sequence_input").value.startswith(">P0A910")
    assert app.selectbox(key="group").value == "negative"
    app.button(key="predict_button").click().run()
    assert not app.exception and not app.error
    assert app.status[0].proto.label.startswith("Done: 1 of 1")
    labels = {m.label: m.value for m in app.metric}
    assert labels["Length"] == "346 aa" and labels["Confidence"].endswith("%")
    badge = texts(app.markdown)
    assert "calibrated confidence" in badge and any(c in badge for c in CLASSES)
    assert len(app.get("plotly_chart")) == 2  # probabilities, attention + hydropathy
    assert len(downloads(app)) == 3 and "Results (CSV)" in downloads(app)[0]
    # A rerun (any widget change) keeps the result without predicting again.
    before = app.session_state["single_result"].key
    app.selectbox(key="group").set_value("positive").run()
    assert app.session_state["single_result"].key == before
    assert "Press **Predict** to update" in texts(app.info)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "empty"),
        ("ATGGCGTACGATCGATCGATCGATCGATGCATGCATGCTAGCTAGC", "nucleotide"),
        ("MKK*LLIAVAALSAAQAADNTWQGK", "stop codon"),
    ],
)
def test_predict_bad_input_is_a_message_not_a_traceback(app, text, expected):
    app.text_area(key="sequence_input").set_value(text).run()
    app.button(key="predict_button").click().run()
    assert not app.exception
    assert expected in texts(app.error).lower()


def test_predict_too_many_sequences_points_to_batch(app):
    fasta = "".join(f">s{i}\nMKKTAIAIAVALAGFATVAQA\n" for i in range(settings.SINGLE_PAGE_LIMIT + 1))
    app.text_area(key="sequence_input").set_value(fasta).run()
    app.button(key="predict_button").click().run()
    assert not app.exception and "Batch" in texts(app.error)


def test_predict_altered_input_warns(app):
    app.text_area(key="sequence_input").set_value(
        ">x\n" + OMPA.sequence.lower()[:120] + "BZ*"
    ).run()
    app.button(key="predict_button").click().run()
    assert not app.exception
    assert "replaced by X" in texts(app.warning)


# ----------------------------------------------------------------------------------- Batch


def test_batch_of_three_with_one_bad_record(app):
    app.switch_page("pages/batch.py").run()
    app.text_area(key="batch_text").set_value(BATCH).run()
    assert "1 cannot be predicted" in texts(app.markdown)
    assert "DNA" in texts(app.error)  # validation message before predicting
    app.button(key="batch_predict").click().run()
    assert not app.exception
    result = app.session_state["batch_result"]
    assert [r.id for r in result.records] == ["ompa", "dna_by_mistake", "male"]
    assert result.predictions[1] is None and result.predictions[0] is not None
    table = app.dataframe[0].value
    assert table["ID"].tolist() == ["ompa", "dna_by_mistake", "male"]  # the bad one kept
    assert "DNA" in table.loc[1, "Error"]
    assert "dna_by_mistake" in texts(app.error)  # listed as not predicted
    assert len(downloads(app)) == 4
    assert len(app.get("plotly_chart")) == 1  # class counts

    # Filters: only flagged records, then a class filter.
    app.checkbox(key="batch_flagged").check().run()
    shown = app.dataframe[0].value["ID"].tolist()
    assert "dna_by_mistake" in shown
    app.checkbox(key="batch_flagged").uncheck().run()
    predicted = result.predictions[0].localization
    app.multiselect(key="batch_classes").set_value([predicted]).run()
    assert set(app.dataframe[0].value["Localization"]) == {predicted}
    app.selectbox(key="batch_sort").set_value("confidence (low first)").run()
    assert not app.exception


def test_batch_refuses_an_input_that_is_not_fasta(app):
    app.switch_page("pages/batch.py").run()
    app.text_area(key="batch_text").set_value("\n\n   \n").run()
    assert not app.exception
    app.text_area(key="batch_text").set_value(">only_header\n").run()
    assert "empty" in texts(app.error).lower()
    assert app.button(key="batch_predict").disabled


# ----------------------------------------------------------------------- Attention explorer


def test_explorer_lists_regions_of_a_predicted_protein(app):
    app.switch_page("pages/explorer.py").run()
    assert "No predictions yet" in texts(app.info)
    app.switch_page("pages/batch.py").run()
    app.text_area(key="batch_text").set_value(BATCH).run()
    app.button(key="batch_predict").click().run()
    app.switch_page("pages/explorer.py").run()
    assert not app.exception
    options = app.selectbox(key="explorer_protein").options
    assert len(options) == 2 and options[0].startswith("ompa")
    top, features = app.dataframe[0].value, app.table[0].value
    assert len(top) == 5 and {"positions", "residues"} <= set(top.columns)
    assert "signal-peptide-like" in features.index.tolist()
    app.slider(key="explorer_window_ompa").set_value((1, 60)).run()
    assert not app.exception and len(app.get("plotly_chart")) == 1
    assert downloads(app) == ["This view (HTML, works offline)"]


# --------------------------------------------------------------------------------- Structure


def test_structure_page_colours_a_pasted_structure_offline(app):
    app.button(key="example_OMEM").click().run()
    app.button(key="predict_button").click().run()
    app.switch_page("pages/structure.py").run()
    assert not app.exception
    app.text_area(key="structure_text").set_value(helix_pdb(OMPA.sequence[:60])).run()
    assert not app.exception and not app.error
    assert "346" in texts(app.warning)  # says the lengths differ
    html = app.session_state["structure_view"][1]
    assert "cdn.jsdelivr" not in html and "$3Dmol" in html and "#" in html
    assert downloads(app) == ["This 3D view (HTML, works offline)"]


def test_structure_page_rejects_garbage(app):
    app.switch_page("pages/structure.py").run()
    app.text_area(key="structure_text").set_value("this is not a structure file").run()
    assert not app.exception
    assert "no atoms" in texts(app.error)


# ------------------------------------------------------------------------------ CV results


def test_cv_results_absent_says_so_and_shows_the_reference_with_caveat(app):
    app.switch_page("pages/cv_results.py").run()
    assert not app.exception
    assert "No cross-validation results for this model yet" in texts(app.info)
    assert "not homology partitions" in texts(app.warning)
    assert len(app.get("plotly_chart")) >= 1
    assert downloads(app)


def test_cv_results_rendered_from_results_json(app, app_checkpoints):
    path = app_checkpoints / "default" / "results.json"
    path.write_text(json.dumps(results_doc()))
    try:
        app.switch_page("pages/cv_results.py").run()
        assert not app.exception and not app.error
        assert "0.830" in [m.value for m in app.metric]
        assert len(app.get("plotly_chart")) >= 5  # cm, per class, reliability, side by side, ref
        assert "DeepLocPro" in app.dataframe[2].value["predictor"].tolist() or any(
            "DeepLocPro" in str(d.value) for d in app.dataframe
        )
        path.write_text("{not json")
        app.run()
        assert not app.exception and "not valid JSON" in texts(app.error)
    finally:
        path.unlink()


# ----------------------------------------------------------------------------------- About


def test_about_renders_the_model_card(app):
    app.switch_page("pages/about.py").run()
    assert not app.exception
    assert "Model card" in texts(app.markdown)
    assert "default" in texts(app.markdown)


# ------------------------------------------------------------------------ no checkpoint set


@pytest.mark.parametrize(
    "page",
    [
        "pages/predict.py",
        "pages/batch.py",
        "pages/explorer.py",
        "pages/structure.py",
        "pages/cv_results.py",
        "pages/about.py",
    ],
)
def test_every_page_copes_without_a_model(tmp_path, monkeypatch, page):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(settings.CHECKPOINTS_ENV, str(tmp_path / "nothing_here"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(page).run()
    assert not at.exception
    if page in ("pages/predict.py", "pages/batch.py", "pages/cv_results.py"):
        assert "No trained model is installed" in texts(at.warning)
