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
import pandas as pd
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
    groups = [("negative", "positive", "archaea", "unknown")[i % 4] for i in range(100)]
    return evaluate_predictions(labels, probs, partitions=[i % 5 for i in range(100)], groups=groups)


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
    result = app.session_state["single_result"]
    pred = result.predictions[0]
    page = texts(app.markdown)
    assert f"{pred.localization}</div>" in page and f"confidence <b>{pred.confidence:.0%}" in page
    # no results.json in this set: the confidence is not dressed up as measured
    assert "no measured reliability yet" in page
    # agreement is worded as agreement, not correctness
    assert "it does not show that the call is right" in page
    # the example's truth: its label, and (not in this set's heldout.csv) no out-of-fold call
    truth = texts(app.warning) + texts(app.success)
    assert "Known localization of OmpA (P0A910): **Outer membrane**" in truth
    assert "not among default's held-out predictions" in truth.replace("\\", "")
    # the group (Gram-negative) was compared with no group
    assert len(result.baseline) == 1 and "Gram-negative" in texts(app.caption) + truth
    assert len(app.get("plotly_chart")) == 2  # probabilities, attention + lanes + hydropathy
    assert "TMHMM P(membrane)" in app.get("plotly_chart")[1].proto.spec
    assert "TMHMM 2.0: no membrane helix on its most likely path" in texts(app.caption)
    assert downloads(app) == ["Results (CSV)", "Results with attention (JSON)"]
    assert "Results for: pasted text (P0A910)" in texts(app.caption).replace("\\", "")
    # A rerun (any widget change) keeps the result without predicting again.
    before = app.session_state["single_result"].key
    app.selectbox(key="group").set_value("positive").run()
    assert app.session_state["single_result"].key == before
    assert "press **Predict** to update them" in texts(app.info)
    app.button(key="clear_single").click().run()
    assert "single_result" not in app.session_state and not app.get("plotly_chart")


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
    assert expected in (texts(app.error) + texts(app.text)).lower()


def test_failures_say_what_failed_and_messages_are_not_garbled(app):
    app.text_area(key="sequence_input").set_value(">bad\nMKK*LLIAVAALS*AAQAADNTWQGK").run()
    app.button(key="predict_button").click().run()
    assert app.status[0].proto.label == (
        "Done: 0 of 1 sequence(s) predicted; 1 could not be predicted (see below)")
    assert "could not be predicted. What failed and why:" in texts(app.error)
    # the message is shown as plain text, both '*' intact (Markdown would make italics)
    assert "Found a stop codon '*' at position 4 inside the sequence (2 '*' in total)" in texts(app.text)


def test_fasta_headers_are_shown_as_text_never_as_markdown(app):
    header = "x1 ![img](http://198.51.100.7/p.png) [click](javascript:alert(1)) :red[big] $x^2$"
    app.text_area(key="sequence_input").set_value(f">{header}\n{OMPA.sequence[:80]}").run()
    app.button(key="predict_button").click().run()
    assert not app.exception
    assert header.split(" ", 1)[1] in texts(app.text)  # the description, verbatim, as text
    for element in (*app.markdown, *app.caption, *app.info, *app.warning, *app.error, *app.subheader):
        body = str(element.value)
        assert "](" not in body and ":red[" not in body and "$x" not in body, body


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


def test_batch_of_three_with_one_bad_record(app, app_checkpoints):
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
    assert "dna\\_by\\_mistake" in texts(app.error)  # listed as not predicted (escaped)
    assert "DNA" in texts(app.text)  # and why, as text
    assert table["Group"].tolist() == ["unknown"] * 3 and set(table["Model"]) == {result.model_id} == {"tiny-synthetic"}
    assert downloads(app) == ["Results (CSV)", "Results with attention (JSON)", "Filtered table (CSV)"]
    assert len(app.get("plotly_chart")) == 1  # class counts
    from protloc.trust import class_reliability

    pred = result.predictions[0]
    measured = class_reliability(
        app_checkpoints / result.model, pred.localization, pred.confidence)
    assert table.loc[0, "HeldoutRight"] == pytest.approx(measured.accuracy)
    assert pd.isna(table.loc[1, "HeldoutRight"])  # the bad record has no call

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


def test_batch_takes_the_group_per_record_from_headers_and_tables(app):
    male = examples.EXAMPLES["Periplasmic"].sequence
    app.switch_page("pages/batch.py").run()
    app.selectbox(key="batch_group").set_value("archaea").run()
    app.text_area(key="batch_text").set_value(
        f">a group=gram-positive\n{OMPA.sequence}\n>b\n{male}\n>c group=plants\n{male}\n"
    ).run()
    assert "Unknown organism group 'plants'" in texts(app.warning)
    app.button(key="batch_predict").click().run()
    result = app.session_state["batch_result"]
    assert result.groups == ["positive", "archaea", "archaea"]
    assert app.dataframe[0].value["Group"].tolist() == ["positive", "archaea", "archaea"]
    doc = json.loads(result.json())
    assert [r["Group"] for r in doc["results"]] == ["positive", "archaea", "archaea"]
    assert doc["organism_group"] == "per record" and "scale" in doc["results"][0]["Attention"]
    # the same as a CSV table
    app.text_area(key="batch_text").set_value(
        f"id,sequence,group\nt1,{OMPA.sequence},negative\nt2,{male},\n").run()
    assert "Gram-negative 1, Archaea 1" in texts(app.caption)


def test_batch_says_when_there_is_nothing_to_predict(app):
    app.switch_page("pages/batch.py").run()
    app.text_area(key="batch_text").set_value("   \n\n").run()
    assert "only spaces or blank lines" in texts(app.error)


def test_batch_refuses_an_input_that_is_not_fasta(app):
    app.switch_page("pages/batch.py").run()
    app.text_area(key="batch_text").set_value("\n\n   \n").run()
    assert not app.exception
    app.text_area(key="batch_text").set_value(">only_header\n").run()
    assert "empty" in (texts(app.error) + texts(app.text)).lower()
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
    assert features.index.tolist() == ["signal peptide", "cleavage site"]  # not "TM-like"
    assert "Sec signal peptide, cleaved after residue 21" in features["note"].tolist()
    assert "TMHMM 2.0: no membrane helix" in texts(app.caption)
    app.slider(key="explorer_window_ompa").set_value((1, 60)).run()
    assert not app.exception and len(app.get("plotly_chart")) == 2  # overview + detail
    app.button(key="explorer_prepare").click().run()
    assert downloads(app) == ["Figures for slides (ZIP, works offline)"]


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
    assert "cannot be shown" in texts(app.error) and "no atoms" in texts(app.text)


def test_structure_sample_is_coloured_by_ompa_attention_and_kept_across_pages(app):
    app.button(key="example_OMEM").click().run()
    app.button(key="predict_button").click().run()
    app.switch_page("pages/structure.py").run()
    app.button(key="structure_sample").click().run()
    assert not app.exception and not app.error
    # the sample is numbered from mature OmpA: the page finds the 21-residue offset itself
    assert "offset 21: 172 residues matched by number, 168 with the same amino acid (98%)" in \
        texts(app.markdown).replace("\\", "")
    colours = app.session_state["structure_view"][0][2]
    assert len(colours) == 172  # every barrel residue coloured
    app.switch_page("pages/cv_results.py").run()
    app.switch_page("pages/structure.py").run()
    assert "1bxw_ompa.pdb" in texts(app.caption).replace("\\", "")  # not forgotten


# ------------------------------------------------------------------------------ CV results


def test_cv_results_absent_says_so_and_shows_the_reference_with_caveat(app):
    app.switch_page("pages/cv_results.py").run()
    assert not app.exception
    assert "No cross-validation results for this model yet" in texts(app.info)
    assert "not homology partitions" in texts(app.warning)
    assert len(app.get("plotly_chart")) >= 1
    assert not downloads(app)  # the ZIP (with plotly.js) is built only when asked
    app.button(key="cv_prepare").click().run()
    assert downloads(app) == ["Figures for slides (ZIP, works offline)"]


def test_cv_results_rendered_from_results_json(app, app_checkpoints):
    path = app_checkpoints / "default" / "results.json"
    path.write_text(json.dumps(results_doc()))
    try:
        app.switch_page("pages/cv_results.py").run()
        assert not app.exception and not app.error
        assert "0.830" in [m.value for m in app.metric]
        charts = app.get("plotly_chart")
        assert len(charts) == 3  # one view per block drawn: main cm, side by side, reference cm
        side = json.loads(next(c.proto.spec for c in charts if "Side by side" in c.proto.spec))
        names = [trace["name"] for trace in side["data"]]
        assert names == ["protloc", "DeepLocPro", "PSORTb 3.0.6"]  # the legend says protloc
        table = next(d.value for d in app.dataframe if "predictor" in d.value.columns)
        assert table["predictor"].tolist() == names
        app.radio(key="main_view").set_value("By organism group").run()
        groups = [c for c in app.get("plotly_chart") if "by organism group" in c.proto.spec]
        assert len(groups) == 1
        assert "archaea<br>(n = 25)" in json.loads(groups[0].proto.spec)["data"][0]["x"]
        app.button(key="cv_prepare").click().run()
        assert "Figures for slides (ZIP, works offline)" in downloads(app)
        import io
        import zipfile

        names = zipfile.ZipFile(io.BytesIO(app.session_state["cv_export"]["protloc_cv_figures.zip"])).namelist()
        # every figure of the page, not only the views shown, and one plotly.js
        assert "plotly.min.js" in names and any("protloc_by_organism_group" in n for n in names)
        assert any("Side_by_side" in n for n in names) and len(names) >= 2 + 5
        app.sidebar.toggle(key="presentation").set_value(True).run()
        assert not app.exception
        assert app.selectbox(key="cv_slide").options[0].endswith("confusion matrix")
        assert len(app.get("plotly_chart")) == 1  # one figure per screen
        path.write_text("{not json")
        path.touch()
        app.run()
        assert not app.exception and "not valid JSON" in texts(app.text)
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


# ------------------------------------------------------------------------- truth and trust


@pytest.fixture
def measured_app(tiny_checkpoint, tmp_path, monkeypatch):
    """The app over a copy of the tiny set whose heldout.csv holds OmpA (label Outer membrane,
    out-of-fold call Periplasmic) and whose results.json has calibration bins."""
    from streamlit.testing.v1 import AppTest

    from protloc.classes import COLUMN_NAMES

    root = make_checkpoint_root(tiny_checkpoint, tmp_path)
    heldout = root / "default" / "heldout.csv"
    row = {"id": "psortb_gi129135", "partition": 4, "label": "Outer membrane",
           **{COLUMN_NAMES[c]: p for c, p in zip(CLASSES, [0.01, 0.02, 0.79, 0.1, 0.06, 0.02])}}
    import pandas as pd

    table = pd.read_csv(heldout)
    pd.concat([table, pd.DataFrame([row])]).to_csv(heldout, index=False)
    doc = results_doc()
    doc["all"]["calibration"]["bins"] = [  # every confidence falls in a measured bin
        {"lower": k / 10, "upper": (k + 1) / 10, "count": 50 + k, "mean_confidence": k / 10 + 0.05,
         "accuracy": k / 12} for k in range(10)
    ]
    (root / "default" / "results.json").write_text(json.dumps(doc))
    monkeypatch.setenv(settings.CHECKPOINTS_ENV, str(root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    return at, root / "default"


def test_example_shows_its_label_the_out_of_fold_call_and_says_they_disagree(measured_app):
    from protloc.evaluation import load_results
    from protloc.trust import reliability_at

    app, folder = measured_app
    app.button(key="example_OMEM").click().run()
    app.button(key="predict_button").click().run()
    assert not app.exception
    truth = texts(app.warning) + texts(app.success)
    assert "Known localization of OmpA (P0A910): **Outer membrane**" in truth
    assert ("Out-of-fold prediction (fold model 4 never saw it in training): **Periplasmic** "
            "(79%), which **disagrees** with the known label.") in truth
    pred = app.session_state["single_result"].predictions[0]
    words = reliability_at(load_results(folder / "results.json"), pred.confidence).words()
    assert f"**Confidence {pred.confidence:.0%}**: {words}." in texts(app.markdown)


def test_the_call_gets_its_class_figure_from_heldout_csv(measured_app):
    from protloc.trust import class_reliability

    app, folder = measured_app
    app.button(key="example_OMEM").click().run()
    app.button(key="predict_button").click().run()
    pred = app.session_state["single_result"].predictions[0]
    by_class = class_reliability(folder, pred.localization, pred.confidence)
    assert by_class is not None  # the tiny set's heldout.csv calls every class
    words = f"**{pred.localization} calls** like this one: {by_class.words()}."
    assert words in texts(app.markdown)
