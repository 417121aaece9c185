"""CV results: the selected model's cross-validation figures, peers, and the reference study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages.common import (
    figures_button,
    model_results,
    no_model_message,
    plain,
    plot,
    presenting,
    selected_model,
)
from protloc.evaluation import PEERS_RESULTS, RESULTS_FILE, Evaluation, Metrics, load_results
from protloc.figures import (
    comparison_bars,
    confusion_matrix_heatmap,
    figures_zip,
    group_bars,
    per_class_bars,
    reliability_diagram,
)

st.title("Cross-validation results")
st.markdown(
    "How well does the model do on proteins it never saw in training? Figures come from "
    "`results.json`, written into the checkpoint set by `protloc evaluate` from held-out "
    "predictions (each protein predicted by the fold model that did not train on it)."
)


#: Presentation mode shows one figure per screen here, right under the title.
slide_area = st.container()
METRICS = ("accuracy", "macro_f1", "mcc")
#: Presentation mode: figures are collected here and shown one per screen at the end.
SLIDES: list = []


def show(fig, key: str, name: str) -> None:
    if presenting():
        SLIDES.append((name, fig, key))
    else:
        plot(fig, key=key, name=(name,))


@st.cache_resource(show_spinner=False, max_entries=4)
def peers_results(stamp: float) -> Evaluation:
    return load_results(PEERS_RESULTS)


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def overall(m: Metrics) -> dict:
    return {k: getattr(m.overall, k) for k in METRICS}


def fold_sd(m: Metrics) -> dict | None:
    return {k: getattr(m.per_fold.sd, k) for k in METRICS} if m.per_fold else None


def overview(m: Metrics) -> None:
    cols = st.columns(4)
    sds = fold_sd(m) or {}
    for col, (key, label) in zip(cols, (("accuracy", "Accuracy"), ("macro_f1", "Macro-F1"), ("mcc", "MCC"))):
        sd = sds.get(key)
        col.metric(label, fmt(getattr(m.overall, key)), help=None if sd is None else f"± {sd:.3f} SD over folds")
        if sd is not None:
            col.caption(f"± {sd:.3f} over folds")
    cols[3].metric("Proteins", f"{m.n:,}")
    if m.coverage < 1:
        cols[3].caption(f"coverage {m.coverage:.1%}")


def fold_table(m: Metrics) -> pd.DataFrame:
    columns = ("n_total", "accuracy", "macro_f1", "mcc", "coverage")
    rows = [{"fold": f.partition, **{k: getattr(f, k) for k in columns}} for f in m.per_fold.folds]
    for name, values in (("mean", m.per_fold.mean), ("SD", m.per_fold.sd)):
        rows.append({"fold": name, **{k: getattr(values, k) for k in METRICS}})
    return pd.DataFrame(rows).astype({"fold": str})


VIEWS = ["Confusion matrix", "Per class", "Per fold", "Calibration (reliability)",
         "By organism group"]


def block_figures(m: Metrics, label: str) -> list:
    """Every figure of one evaluation block, for the export."""
    figs = []
    if m.confusion_matrix is not None:
        figs.append((f"{label}: confusion matrix", confusion_matrix_heatmap(
            np.asarray(m.confusion_matrix.matrix), m.confusion_matrix.labels,
            f"{label}: confusion matrix")))
    if m.per_class:
        rows = [{"class": c.name, **{k: getattr(c, k) for k in ("precision", "recall", "f1", "mcc")}}
                for c in m.per_class]
        figs.append((f"{label}: per class", per_class_bars(rows, title=f"{label}: per class")))
    if m.calibration:
        figs.append((f"{label}: reliability diagram", reliability_diagram(
            [vars(b) for b in m.calibration.bins], m.calibration.ece,
            f"{label}: reliability diagram")))
    if m.by_group:
        groups = {g: {k: getattr(v, k, None) for k in ("n", "accuracy", "macro_f1", "mcc")}
                  for g, v in m.by_group.items()}
        figs.append((f"{label}: by organism group",
                     group_bars(groups, title=f"{label}: by organism group")))
    return figs


def evaluation_tabs(
    m: Metrics, prefix: str, figs: list, label: str, source: str = "results.json"
) -> None:
    # One view at a time: only its chart is drawn (the page opens fast); presentation mode
    # collects every figure for its one-per-screen selector.
    view = st.radio("View", VIEWS, horizontal=True, key=f"{prefix}_view",
                    label_visibility="collapsed")
    if view == VIEWS[0] or presenting():
        if m.confusion_matrix is not None:
            names, matrix = m.confusion_matrix.labels, np.asarray(m.confusion_matrix.matrix)
            normalise = st.toggle(
                "Colour by share of the true class", True, key=f"{prefix}_normalise"
            )
            fig = confusion_matrix_heatmap(
                matrix, names, f"{label}: confusion matrix", normalise=normalise
            )
            figs.append((f"{label}: confusion matrix", fig))
            show(fig, f"{prefix}_cm", f"{label} confusion matrix")
            st.caption(
                "Rows: true class · columns: predicted · each cell: count and share of "
                "the true class (the diagonal is each class's recall)."
            )
        else:
            st.info(f"No confusion matrix in {source}.")
    if view == VIEWS[1] or presenting():
        if m.per_class:
            rows = [
                {"class": c.name, **{k: getattr(c, k) for k in ("support", "precision", "recall", "f1", "mcc")}}
                for c in m.per_class
            ]
            fig = per_class_bars(rows, title=f"{label}: per class")
            figs.append((f"{label}: per-class metrics", fig))
            show(fig, f"{prefix}_pc", f"{label} per-class metrics")
            st.dataframe(
                pd.DataFrame(rows),
                hide_index=True,
                column_config={
                    k: st.column_config.NumberColumn(format="%.3f")
                    for k in ("precision", "recall", "f1", "mcc")
                },
            )
            st.caption(
                "MCC per class is one-vs-rest. Small classes (e.g. Cell wall & surface) "
                "have wide uncertainty."
            )
        else:
            st.info(f"No per-class metrics in {source}.")
    if view == VIEWS[2] or presenting():
        if m.per_fold:
            st.dataframe(
                fold_table(m),
                hide_index=True,
                column_config={
                    k: st.column_config.NumberColumn(format="%.3f")
                    for k in ("accuracy", "macro_f1", "mcc", "coverage")
                },
            )
            st.caption("SD is the population standard deviation over folds.")
        else:
            st.info(f"No per-fold figures in {source}.")
    if view == VIEWS[3] or presenting():
        if m.calibration:
            bins = [vars(b) for b in m.calibration.bins]
            fig = reliability_diagram(bins, m.calibration.ece, f"{label}: reliability diagram")
            figs.append((f"{label}: reliability diagram", fig))
            show(fig, f"{prefix}_rel", f"{label} reliability diagram")
            st.caption(
                "A calibrated model lies on the diagonal: of the proteins predicted with "
                "80% confidence, 80% are right. ECE = expected calibration error."
            )
        else:
            st.info(f"No calibration figures in {source}.")
    if view == VIEWS[4] or presenting():
        if m.by_group:
            groups = {g: {k: getattr(v, k, None) for k in ("n", "accuracy", "macro_f1", "mcc")}
                      for g, v in m.by_group.items()}
            fig = group_bars(groups, title=f"{label}: by organism group")
            figs.append((f"{label}: by organism group", fig))
            show(fig, f"{prefix}_groups", f"{label} by organism group")
            st.caption(
                "Each protein counted in the group its source states; 'unknown': sources that "
                "give no group (the model was asked with the group unknown)."
            )
        else:
            st.info(f"No per-group figures in {source}.")


figures: list = []
notes: list[str] = []
model = selected_model()
results: Evaluation | None = None
results_path = None
if model is None:
    no_model_message()
else:
    results_path = model / RESULTS_FILE
    if not results_path.is_file():
        st.info(
            f"**No cross-validation results for this model yet** (`{model.name}` has no "
            f"`{RESULTS_FILE}`). Run `protloc evaluate {model}` to create them.",
            icon=":material/info:",
        )
    else:
        loaded = model_results(model)
        if isinstance(loaded, Evaluation):
            results = loaded
        else:
            st.error(f"The results of **{plain(model.name)}** cannot be read:",
                     icon=":material/error:")
            st.text(str(loaded))
peers = peers_results(PEERS_RESULTS.stat().st_mtime) if PEERS_RESULTS.is_file() else None

if results is not None:
    for note in results.notes + ([results.group_rule] if results.group_rule else []):
        st.caption(note)
    if results.all is not None:
        st.header(f"protloc ({plain(model.name)}): all held-out proteins")
        overview(results.all)
        evaluation_tabs(results.all, "main", figures, "protloc")

    bench = results.benchmark
    if bench is not None and bench.predictors:
        st.header("Side by side")
        where = f"on the same {bench.n:,} DeepLocPro benchmark proteins"
        st.markdown(f"Predictors compared {where}. A predictor that abstains on some proteins "
                    "shows the share it answered on its bars; its scores are over those only.")
        shown = dict(bench.predictors)
        fig = comparison_bars(
            [(name, overall(m), fold_sd(m), m.coverage) for name, m in shown.items()],
            title=f"Side by side ({bench.n:,} benchmark proteins)",
        )
        figures.append(("Side by side", fig))
        show(fig, "comparison", "side by side")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "predictor": name,
                        "n": m.n,
                        "coverage": m.coverage,
                        **overall(m),
                        "ECE": m.calibration.ece if m.calibration else None,
                    }
                    for name, m in shown.items()
                ]
            ),
            hide_index=True,
            column_config={
                k: st.column_config.NumberColumn(format="%.3f")
                for k in ("coverage", "accuracy", "macro_f1", "mcc", "ECE")
            },
        )
        for note in bench.notes:
            st.caption(note)
            notes.append(note)
    elif results.all is not None:
        st.info("No DeepLocPro / PSORTb comparison in results.json yet.")

st.header("The reference study (not comparable)")
reference = (results.reference_study if results is not None else None) or (
    peers.reference_study if peers is not None else None
)
if reference is None:
    st.info("The reference study's figures are not installed (docs/results/peers/results.json).")
else:
    st.warning(f"**Caveat.** {reference.caveat}", icon=":material/warning:")
    notes.append(reference.caveat)
    dlp = peers.benchmark.predictors.get("DeepLocPro") if peers and peers.benchmark else None
    context = (
        f" DeepLocPro's own held-out predictions on its {dlp.n:,} benchmark proteins, for "
        f"context: accuracy {dlp.overall.accuracy:.3f}, macro-F1 {dlp.overall.macro_f1:.3f}, "
        f"MCC {dlp.overall.mcc:.3f} (homology-partitioned, different proteins: not comparable "
        "either)."
        if dlp
        else ""
    )
    st.markdown(
        "The design protloc builds on reported these cross-validation figures, recomputed from "
        f"its published predictions (n = {reference.n:,} proteins).{context}"
    )
    overview(reference)
    evaluation_tabs(
        reference,
        "ref",
        figures,
        "Reference study (random folds)",
        source="the reference study's published results",
    )

def export_figures() -> list:
    figs = block_figures(results.all, "protloc") if results is not None and results.all else []
    figs += [f for f in figures if f[0] == "Side by side"]
    return figs + (block_figures(reference, "Reference study (random folds)") if reference else [])


if SLIDES:
    with slide_area:
        names = [name for name, _, _ in SLIDES]
        pick = st.selectbox("Figure (presentation mode: one per screen)", range(len(SLIDES)),
                            format_func=names.__getitem__, key="cv_slide")
        name, fig, key = SLIDES[pick]
        plot(fig, key=f"slide_{key}", name=(name,))
        st.divider()

st.divider()
if figures:
    stamp = results_path.stat().st_mtime if results is not None else None
    export_key = (str(model), stamp, tuple(name for name, _ in figures),
                  tuple(bool(st.session_state.get(k)) for k in ("main_normalise", "ref_normalise")))
    kept = st.session_state.setdefault("cv_export", {})
    if kept.get("view") != export_key:
        kept.clear()
        kept["view"] = export_key
    title = f"protloc cross-validation: {model.name if model else 'no model'}"
    figures_button(lambda: figures_zip(export_figures(), title, notes=notes),
                   "protloc_cv_figures.zip", "cv", kept)
    st.caption("Images: the camera icon above each chart saves it as PNG or SVG (sidebar), "
               "named for the chart.")
