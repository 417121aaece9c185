"""Predict page: paste a sequence or FASTA, get the class, its confidence and the attention."""

from __future__ import annotations

import streamlit as st

from pages.common import (
    SINGLE,
    Result,
    class_badge,
    downloads,
    load_predictor,
    no_model_message,
    plot,
    selected_model,
    store,
    stored,
)
from pages import examples
from protloc.regions import sequence_regions
from pages import settings
from protloc.classes import CLASSES, GROUP_NAMES, SHORT_NAMES
from protloc.errors import UserError
from protloc.figures import attention_figure, figures_html, probability_bars
from protloc.sequences import parse_text

INPUT_KEY = "sequence_input"
GROUP_KEY = "group"
GROUPS = list(GROUP_NAMES)  # negative, positive, archaea, unknown

st.title("Where does this protein live?")
st.markdown(
    "Paste a prokaryotic protein sequence (plain letters or FASTA). protloc predicts one of six "
    "compartments, **" + "**, **".join(CLASSES) + "**, and shows which residues the model "
    "attended to."
)

model = selected_model()
if model is None:
    no_model_message()
    st.stop()


def use_example(label: str) -> None:
    example = examples.EXAMPLES[label]
    st.session_state[INPUT_KEY] = example.fasta()
    st.session_state[GROUP_KEY] = example.group


st.markdown("**Try a well-known protein**, one per class:")
columns = st.columns(3)
for k, (label, example) in enumerate(examples.EXAMPLES.items()):
    columns[k % 3].button(
        f"{example.short} · {label}",
        key=f"example_{SHORT_NAMES[label]}",
        on_click=use_example,
        args=(label,),
        width="stretch",
        help=f"{example.name}, {example.organism} (UniProt {example.accession}, "
        f"{len(example.sequence)} aa); known localization: {label}. "
        f"Sequence source: {example.source}.",
    )

if GROUP_KEY not in st.session_state:
    st.session_state[GROUP_KEY] = "unknown"
left, right = st.columns([3, 1])
with left:
    st.text_area(
        "Protein sequence or FASTA",
        key=INPUT_KEY,
        height=170,
        placeholder=">my_protein optional description\nMKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQ…",
        help=f"Up to {settings.SINGLE_PAGE_LIMIT} sequences here (use the Batch page for more). "
        "Lower case, spaces, digits and a final * are cleaned up, with a note.",
    )
with right:
    st.selectbox(
        "Organism group",
        GROUPS,
        key=GROUP_KEY,
        format_func=GROUP_NAMES.get,
        help="Archaea and Gram-positive bacteria have no outer membrane or periplasm: for them "
        "the probability of those two classes is moved to Extracellular (DeepLocPro's rule).",
    )
    st.caption(f"Model: **{model.name}**")
    predict_clicked = st.button("Predict", type="primary", width="stretch", key="predict_button")


def run_prediction(text: str, group: str) -> None:
    try:
        records = parse_text(text)
    except UserError as exc:
        st.session_state.pop(SINGLE, None)
        st.error(str(exc), icon=":material/error:")
        return
    if len(records) > settings.SINGLE_PAGE_LIMIT:
        st.session_state.pop(SINGLE, None)
        st.error(
            f"The input holds {len(records):,} sequences; this page predicts up to "
            f"{settings.SINGLE_PAGE_LIMIT}. Use the **Batch** page (up to {settings.APP_BATCH_LIMIT:,}) "
            "for more.",
            icon=":material/error:",
        )
        return
    good = sum(r.ok for r in records)
    with st.status(
        f"Predicting {len(records)} sequence(s) with {model.name}…", expanded=True
    ) as status:
        try:
            st.write("Loading the model (only the first time)…")
            predictor = load_predictor(model)
            st.write(
                f"Computing features and running {len(predictor.models)} fold models "
                f"on {good} valid sequence(s)…"
            )
            predictions = predictor.predict(records, group=group, attention=True)
        except UserError as exc:
            status.update(label="Prediction failed", state="error", expanded=True)
            st.error(f"The prediction could not run: {exc}", icon=":material/error:")
            return
        except Exception as exc:  # never show a traceback to the user
            status.update(label="Prediction failed", state="error", expanded=True)
            st.error(
                f"The prediction failed unexpectedly ({type(exc).__name__}: {exc}). "
                "Please report this with the input that caused it.",
                icon=":material/error:",
            )
            return
        status.update(
            label=f"Done: {good} of {len(records)} sequence(s) predicted",
            state="complete",
            expanded=False,
        )
    store(SINGLE, Result(records, predictions, model.name, group, "pasted text"))


if predict_clicked:
    run_prediction(st.session_state.get(INPUT_KEY, ""), st.session_state[GROUP_KEY])

result = stored(SINGLE)
if result is None:
    st.stop()

st.divider()
if result.model != model.name or result.group != st.session_state[GROUP_KEY]:
    st.info(
        f"Showing results computed with model **{result.model}** for "
        f"**{GROUP_NAMES[result.group]}**. Press **Predict** to update them."
    )

records = result.records
index = 0
if len(records) > 1:
    labels = [
        f"{r.id}"
        + ("" if p is None else f" · {p.localization}")
        + (" · error" if p is None else "")
        for r, p in zip(records, result.predictions)
    ]
    index = st.selectbox(
        "Show protein", range(len(records)), format_func=labels.__getitem__, key="single_choice"
    )
record, pred = records[index], result.predictions[index]

if pred is None:
    st.error(
        f"**{record.id}** could not be predicted: " + " ".join(record.messages),
        icon=":material/error:",
    )
else:
    st.subheader(f"{record.id}" + (f" — {record.description}" if record.description else ""))
    st.markdown(class_badge(pred.localization, pred.confidence), unsafe_allow_html=True)
    st.write("")
    col_bars, col_info = st.columns([3, 2], gap="large")
    with col_bars:
        plot(result.memo(f"bars:{record.id}", lambda: probability_bars(pred)), key="bars")
    with col_info:
        votes = round(pred.fold_agreement * len(pred.fold_predictions))
        m1, m2, m3 = st.columns(3)
        m1.metric(
            "Confidence",
            f"{pred.confidence:.0%}",
            help="Mean over the fold models of "
            "the temperature-calibrated probability of the predicted class.",
        )
        m2.metric(
            "Folds agree",
            f"{votes} of {len(pred.fold_predictions)}",
            help="Fold models whose own top class is the predicted class.",
        )
        m3.metric("Length", f"{len(record.sequence):,} aa")
        st.caption(
            f"Fold spread of the predicted class: ±{pred.fold_spread:.2f} (SD). "
            f"Organism group: {GROUP_NAMES[result.group]}. Model: {result.model}."
        )
        if pred.warnings:
            st.markdown("**Check before trusting this call:**")
            for message in pred.warnings:
                st.warning(message, icon=":material/warning:")
        else:
            st.success(
                "All fold models agree and the input needed no changes.",
                icon=":material/check_circle:",
            )
        if any(record.sequence == e.sequence for e in examples.EXAMPLES.values()):
            st.caption(
                "This example protein (or close homologues) is in the training data of "
                "most localization predictors: it demonstrates the app, it does not test it."
            )

    regions = sequence_regions(record.sequence)
    st.markdown("#### Which residues did the model attend to?")
    plot(
        result.memo(
            f"attention:{record.id}",
            lambda: attention_figure(pred.attention, record.sequence, regions=regions),
        ),
        key="attention",
    )
    st.caption(
        "Top: attention of each pooling head over the residues and their mean (brighter = more "
        "weight). Middle: signal-peptide-like (green) and transmembrane-like (orange) segments; "
        "hover for details. Bottom: Kyte-Doolittle hydropathy (9-residue mean); a stretch above "
        "the dotted line over 19 residues suggests a transmembrane helix. Drag to zoom, "
        "double-click to reset. The **Attention explorer** page lists the top regions."
    )


def _figures() -> str:
    figs = []
    for rec, p in result.predicted():
        figs.append((f"{rec.id}: probabilities", probability_bars(p)))
        if p.attention is not None:
            figs.append(
                (
                    f"{rec.id}: attention and hydropathy",
                    attention_figure(
                        p.attention, rec.sequence, regions=sequence_regions(rec.sequence)
                    ),
                )
            )
    return figures_html(figs, f"protloc predictions ({result.model})")


st.markdown("#### Downloads")
downloads(result, _figures, "protloc_prediction", key="single")
with st.expander("Table of all sequences in this input"):
    st.dataframe(result.table(), hide_index=True)
