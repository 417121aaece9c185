"""CV results: the selected model's cross-validation figures, peers, and the reference study."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.common import no_model_message, plot, selected_model
from protloc import app_support as S
from protloc.figures import (
    comparison_bars,
    confusion_matrix_heatmap,
    figures_html,
    per_class_bars,
    reliability_diagram,
)

st.title("Cross-validation results")
st.markdown(
    "How well does the model do on proteins it never saw in training? Figures come from "
    "`results.json`, written into the checkpoint set by `protloc evaluate` from held-out "
    "predictions (each protein predicted by the fold model that did not train on it)."
)


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def overview(ev: S.Evaluation) -> None:
    cols = st.columns(4)
    for col, (key, label) in zip(
        cols, (("accuracy", "Accuracy"), ("macro_f1", "Macro-F1"), ("mcc", "MCC"))
    ):
        sd = (ev.fold_sd or {}).get(key)
        col.metric(
            label,
            fmt(ev.overall.get(key)),
            help=None if sd is None else f"± {sd:.3f} SD over folds",
        )
        if sd is not None:
            col.caption(f"± {sd:.3f} over folds")
    cols[3].metric("Proteins", "–" if ev.n is None else f"{ev.n:,}")
    if ev.coverage is not None and ev.coverage < 1:
        cols[3].caption(f"coverage {ev.coverage:.1%}")


def fold_table(ev: S.Evaluation) -> pd.DataFrame:
    rows = [dict(r) for r in ev.per_fold or []]
    for name, values in (("mean", ev.fold_mean), ("SD", ev.fold_sd)):
        if values:
            rows.append(
                {"fold": name, **{k: values.get(k) for k in ("accuracy", "macro_f1", "mcc")}}
            )
    frame = pd.DataFrame(rows)
    return frame.astype({"fold": str}) if "fold" in frame else frame


def evaluation_tabs(
    ev: S.Evaluation, prefix: str, figs: list, label: str, source: str = "results.json"
) -> None:
    tabs = st.tabs(["Confusion matrix", "Per class", "Per fold", "Calibration"])
    with tabs[0]:
        if ev.confusion is not None:
            names, matrix = ev.confusion
            normalise = st.toggle(
                "Colour by share of the true class", True, key=f"{prefix}_normalise"
            )
            fig = confusion_matrix_heatmap(
                matrix, names, f"{label}: confusion matrix", normalise=normalise
            )
            figs.append((f"{label}: confusion matrix", fig))
            plot(fig, key=f"{prefix}_cm")
            st.caption(
                "Rows: true class · columns: predicted · each cell: count and share of "
                "the true class (the diagonal is each class's recall)."
            )
        else:
            st.info(f"No confusion matrix in {source}.")
    with tabs[1]:
        if ev.per_class:
            fig = per_class_bars(ev.per_class, title=f"{label}: per-class metrics")
            figs.append((f"{label}: per-class metrics", fig))
            plot(fig, key=f"{prefix}_pc")
            st.dataframe(
                pd.DataFrame(ev.per_class),
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
    with tabs[2]:
        if ev.per_fold:
            st.dataframe(
                fold_table(ev),
                hide_index=True,
                column_config={
                    k: st.column_config.NumberColumn(format="%.3f")
                    for k in ("accuracy", "macro_f1", "mcc", "coverage")
                },
            )
            st.caption("SD is the population standard deviation over folds.")
        else:
            st.info(f"No per-fold figures in {source}.")
    with tabs[3]:
        if ev.reliability:
            fig = reliability_diagram(ev.reliability, ev.ece, f"{label}: reliability diagram")
            figs.append((f"{label}: reliability diagram", fig))
            plot(fig, key=f"{prefix}_rel")
            st.caption(
                "A calibrated model lies on the diagonal: of the proteins predicted with "
                "80% confidence, 80% are right. ECE = expected calibration error."
            )
        else:
            st.info(f"No calibration figures in {source}.")


figures: list = []
notes: list[str] = []
model = selected_model()
report = None
if model is None:
    no_model_message()
else:
    try:
        report = S.load_cv_results(model, model.name)
    except ValueError as exc:
        st.error(f"The results of **{model.name}** cannot be read: {exc}", icon=":material/error:")
    if report is None:
        st.info(
            f"**No cross-validation results for this model yet** (`{model.name}` has no "
            f"`{S.RESULTS_FILE}`). Run `protloc evaluate {model}` to create them.",
            icon=":material/info:",
        )

if report is not None:
    for note in report.notes:
        st.caption(note)
    if report.main is not None:
        st.header(f"{model.name}: all held-out proteins")
        overview(report.main)
        evaluation_tabs(report.main, "main", figures, model.name)

    if report.comparison:
        st.header("Side by side")
        where = (
            f"on the same {report.comparison_n:,} DeepLocPro benchmark proteins"
            if report.comparison_n
            else "on the proteins given in results.json"
        )
        st.markdown(f"Predictors compared {where}.")
        fig = comparison_bars(
            [(ev.name, ev.overall, ev.fold_sd) for ev in report.comparison],
            title=f"Side by side {where}",
        )
        figures.append(("Side by side", fig))
        plot(fig, key="comparison")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "predictor": ev.name,
                        "n": ev.n,
                        "coverage": ev.coverage,
                        **{k: ev.overall.get(k) for k in ("accuracy", "macro_f1", "mcc")},
                        "ECE": ev.ece,
                    }
                    for ev in report.comparison
                ]
            ),
            hide_index=True,
            column_config={
                k: st.column_config.NumberColumn(format="%.3f")
                for k in ("coverage", "accuracy", "macro_f1", "mcc", "ECE")
            },
        )
        for note in report.comparison_notes:
            st.caption(note)
            notes.append(note)
    elif report.main is not None:
        st.info("No DeepLocPro / PSORTb comparison in results.json yet.")

st.header("The reference study (not comparable)")
reference = (
    report.reference if report is not None and report.reference else S.reference_evaluation()
)
caveat = report.reference_caveat if report is not None else S.REFERENCE_CAVEAT
st.warning(f"**Caveat.** {caveat}", icon=":material/warning:")
notes.append(caveat)
st.markdown(
    "The design protloc builds on reported these cross-validation figures "
    f"(n = {reference.n or S.REFERENCE_STUDY['n']:,} proteins). DeepLocPro's own held-out "
    f"predictions on its {S.DEEPLOCPRO_BENCHMARK['n']:,} benchmark proteins, for "
    f"context: accuracy {S.DEEPLOCPRO_BENCHMARK['accuracy']:.3f}, macro-F1 "
    f"{S.DEEPLOCPRO_BENCHMARK['macro_f1']:.3f}, MCC {S.DEEPLOCPRO_BENCHMARK['mcc']:.3f} "
    "(homology-partitioned, different proteins: not comparable either)."
)
overview(reference)
evaluation_tabs(
    reference,
    "ref",
    figures,
    "Reference study (random folds)",
    source="the reference study's published results",
)

st.divider()
if figures:
    # The export inlines plotly.js (about 4.6 MB): built once per results file and view.
    stamp = report.path.stat().st_mtime if report is not None else None
    export_key = (
        str(model),
        stamp,
        tuple(name for name, _ in figures),
        tuple(bool(st.session_state.get(k)) for k in ("main_normalise", "ref_normalise")),
    )
    cached = st.session_state.get("cv_export")
    if not cached or cached[0] != export_key:
        title = f"protloc cross-validation: {model.name if model else 'no model'}"
        cached = (export_key, figures_html(figures, title, notes=notes))
        st.session_state["cv_export"] = cached
    st.download_button(
        "All figures on this page (HTML for slides, works offline)",
        cached[1],
        "protloc_cv_figures.html",
        "text/html",
        key="cv_html",
        icon=":material/download:",
    )
    st.caption("PNG: the camera icon above each chart saves it at 3× resolution.")
