"""protloc.figures: the Plotly figures of the app, built and checked without Streamlit."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from pages import examples
from protloc.regions import hydropathy, sequence_regions, top_attended_regions
from protloc.classes import CLASSES
from protloc.figures import (
    attention_figure,
    class_count_bars,
    comparison_bars,
    confusion_matrix_heatmap,
    figures_html,
    per_class_bars,
    probability_bars,
    reliability_diagram,
)
from protloc.predictor import Prediction

SEQ = examples.EXAMPLES["Outer membrane"].sequence


def _pred(attention: bool = True) -> Prediction:
    rng = np.random.default_rng(0)
    probs = np.array([0.05, 0.05, 0.1, 0.7, 0.05, 0.05])
    att = rng.random((3, len(SEQ))) if attention else None
    if att is not None:
        att /= att.sum(axis=1, keepdims=True)
    return Prediction("ompa", probs, np.full(6, 0.02), ["Outer membrane"] * 5, attention=att)


def test_probability_bars_show_every_class_with_spread_and_labels_past_the_error_bar():
    fig = probability_bars(_pred())
    bar, labels = fig.data[0], fig.data[1]
    assert len(bar.x) == 6 and bar.error_x.array is not None
    assert "Outer membrane" in fig.layout.title.text and "70%" in fig.layout.title.text
    assert list(labels.text)[3] == "70%"
    # each percentage starts right of its bar's error bar, so the bar never crosses it
    assert all(x > p + s for x, p, s in zip(labels.x, bar.x, bar.error_x.array))
    assert fig.layout.xaxis.range[1] >= max(labels.x) + 0.1


def test_attention_figure_aligns_heads_mean_features_and_hydropathy():
    pred = _pred()
    regions = sequence_regions(SEQ) + top_attended_regions(pred.attention.mean(0), SEQ)
    fig = attention_figure(pred.attention, SEQ, regions=regions)
    heat, hydro = fig.data[0], fig.data[1]
    assert list(heat.y) == ["head 1", "head 2", "head 3", "mean"]
    np.testing.assert_allclose(heat.z[-1], pred.attention.mean(axis=0))
    assert len(heat.x) == len(hydro.x) == len(SEQ)
    np.testing.assert_allclose(hydro.y, hydropathy(SEQ, 9))  # one value per residue, ends too
    assert len(fig.layout.shapes) >= len(regions)  # feature bars
    lanes = fig.layout.yaxis2.ticktext
    assert list(lanes) == ["SP-like", "TM-like", "top attention"]


def test_attention_colours_are_clipped_at_a_percentile_so_one_peak_does_not_wash_out():
    att = np.full((2, 1500), 0.001)
    att[:, 700] = 0.5  # one spike in a long protein
    seq = ("MKKTAIAIAV" * 150)[:1500]
    clipped = attention_figure(att, seq).data[0]
    assert clipped.zmax < 0.01 and "99th" in clipped.colorbar.title.text
    assert attention_figure(att, seq, clip=None).data[0].zmax is None


def test_evidence_lanes_name_the_signal_peptide_and_never_call_it_a_helix():
    from protloc.lanes import evidence_regions

    regions = evidence_regions(SEQ)  # OmpA: Sec signal peptide cleaved after residue 21
    kinds = [r.kind for r in regions]
    assert kinds[:2] == ["signal peptide", "cleavage site"] and "TM helix" not in kinds
    assert regions[0].end == 21 and "Sec" in regions[0].note
    fig = attention_figure(_pred().attention, SEQ, regions=regions)
    assert list(fig.layout.yaxis2.ticktext) == ["signal peptide", "cleavage site"]
    lacy = evidence_regions(examples.EXAMPLES["Cytoplasmic membrane"].sequence)
    assert sum(r.kind == "TM helix" for r in lacy) >= 10  # LacY: 12 helices, TMHMM finds 11


def test_attention_figure_draws_tmhmms_membrane_posterior_in_its_own_row():
    from protloc.lanes import evidence_view

    lacy = examples.EXAMPLES["Cytoplasmic membrane"].sequence
    view = evidence_view(lacy)
    att = np.ones((2, len(lacy)))
    plain = attention_figure(att, lacy, regions=view.regions)
    fig = attention_figure(att, lacy, regions=view.regions, membrane=view.membrane)
    trace = next(t for t in fig.data if t.name == "TMHMM P(membrane)")
    assert not any(t.name == "TMHMM P(membrane)" for t in plain.data)
    np.testing.assert_allclose(trace.y, view.membrane)
    assert trace.yaxis == "y3" and fig.layout.yaxis3.range == (0, 1.05)  # below the lanes
    assert fig.layout.height > plain.layout.height
    with pytest.raises(ValueError, match="membrane posterior"):
        attention_figure(att, lacy, membrane=view.membrane[:-1])
    # no lanes (GroEL has no helix, signal peptide or anchor): membrane row 2, hydropathy 3
    groel = examples.EXAMPLES["Cytoplasmic"].sequence
    bare = attention_figure(np.ones((2, len(groel))), groel,
                            membrane=evidence_view(groel).membrane)
    rows = {t.name: t.yaxis for t in bare.data if t.name}
    assert rows == {"TMHMM P(membrane)": "y2", "hydropathy": "y3"}
    assert bare.data[0].colorbar.len < 0.6  # the colour bar stays beside the attention rows


def test_attention_overview_marks_the_detail_window():
    from protloc.figures import attention_overview

    fig = attention_overview(_pred().attention, SEQ, window=(30, 90))
    assert len(fig.data[0].x) == len(SEQ)
    assert any(s.x0 == 29.5 and s.x1 == 90.5 for s in fig.layout.shapes)


def test_attention_figure_zoom_shows_letters():
    pred = _pred()
    fig = attention_figure(pred.attention, SEQ, start=1, end=30)
    axis = fig.layout.xaxis2
    assert tuple(axis.range) == (0.5, 30.5)
    assert axis.ticktext[0].startswith("M") and axis.ticktext[9] == "V<br>10"
    wide = attention_figure(pred.attention, SEQ)
    assert wide.layout.xaxis2.ticktext is None


def test_attention_figure_needs_one_value_per_residue():
    with pytest.raises(ValueError):
        attention_figure(np.ones((2, 5)), "MKKT")
    assert isinstance(attention_figure(_pred().attention, SEQ), go.Figure)


def test_class_counts_include_records_not_predicted():
    fig = class_count_bars(["Cytoplasmic", "Cytoplasmic", None, "Periplasmic"])
    bar = fig.data[0]
    assert list(bar.x) == [2, 0, 1, 0, 0, 0, 1]
    assert "not predicted" in bar.y[-1]


def test_cv_figures():
    cm = np.eye(6) * 10 + 1
    fig = confusion_matrix_heatmap(cm, CLASSES)
    assert np.allclose(np.asarray(fig.data[0].z).sum(axis=1), 1.0)
    assert fig.data[0].text[0][0] == "11<br>69%"
    raw = confusion_matrix_heatmap(np.zeros((6, 6)), CLASSES, normalise=False)
    assert np.asarray(raw.data[0].z).sum() == 0
    rows = [{"class": c, "precision": 0.5, "recall": 0.6, "f1": 0.55, "mcc": None} for c in CLASSES]
    assert [t.name for t in per_class_bars(rows).data] == ["precision", "recall", "F1"]
    bins = [
        {
            "lower": k / 10,
            "upper": (k + 1) / 10,
            "count": k,
            "mean_confidence": k / 10 or None,
            "accuracy": k / 11 or None,
        }
        for k in range(10)
    ]
    rel = reliability_diagram(bins, 0.04)
    assert "ECE 0.040" in rel.layout.title.text and len(rel.data[1].x) == 9
    comp = comparison_bars(
        [
            ("a", {"accuracy": 0.8, "macro_f1": 0.7, "mcc": None}, None),
            ("b", {"accuracy": 0.7, "macro_f1": 0.6, "mcc": 0.5}, {"accuracy": 0.01}),
        ]
    )
    assert [t.name for t in comp.data] == ["a", "b"] and comp.data[1].error_y.visible
    partial = comparison_bars([("PSORTb", {"accuracy": 0.9}, None, 0.75)])
    assert partial.data[0].text[0] == "0.900<br>75% answered"
    from protloc.figures import group_bars

    groups = group_bars({"archaea": {"n": 354, "accuracy": 0.9, "mcc": 0.8}})
    assert groups.data[0].x[0] == "archaea<br>(n = 354)" and groups.data[1].text[0] == "0.800"


def test_export_names_and_presentation_mode():
    from protloc.figures import for_projector, plot_config

    config = plot_config("attention", "sp|P0A910|OMPA_ECOLI", image_format="svg")
    assert config["toImageButtonOptions"] == {"format": "svg", "filename": "attention_sp_P0A910_OMPA_ECOLI"}
    big = for_projector(probability_bars(_pred()))
    assert big.layout.font.size >= 22 and big.layout.height >= 600


def test_figures_zip_shares_one_local_plotly():
    import io
    import zipfile

    from protloc.figures import figures_zip

    data = figures_zip([("one", probability_bars(_pred())), ("two", class_count_bars([]))], "T")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        pages = [archive.read(n).decode() for n in names if n.endswith(".html")]
    assert names[0] == "plotly.min.js" and len(pages) == 3  # index + one page per figure
    assert all("<script src='plotly.min.js'>" in p and len(p) < 100_000 for p in pages)
    assert len(data) < 2_000_000  # plotly.js once, compressed


def test_figures_html_is_self_contained():
    page = figures_html(
        [("one", probability_bars(_pred())), ("two", class_count_bars([]))],
        "Title <b>",
        notes=["Caveat & note"],
    )
    assert page.count("<h2>") == 2 and "Title &lt;b&gt;" in page and "Caveat &amp; note" in page
    assert "<script src=" not in page and page.count("<div id=") >= 2
    assert len(page) > 1_000_000  # plotly.js inlined once
