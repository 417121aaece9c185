"""Predict page: paste a sequence or FASTA, get the class, how far to trust it, the attention."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages import examples, settings
from pages.common import (
    SINGLE,
    Result,
    class_badge,
    clear,
    downloads,
    load_predictor,
    no_model_message,
    plain,
    plot,
    reliability,
    selected_model,
    store,
    stored,
)
from protloc import neighbours
from protloc.classes import CLASSES, GROUP_NAMES, SHORT_NAMES
from protloc.errors import UserError
from protloc.figures import attention_figure, probability_bars
from protloc.lanes import evidence_view
from protloc.sequences import parse_text
from protloc.trust import class_reliability, heldout_call

INPUT_KEY = "sequence_input"
GROUP_KEY = "group"
GROUPS = list(GROUP_NAMES)  # negative, positive, archaea, unknown

st.title("Where does this protein live?")
st.markdown(
    "Paste a prokaryotic protein sequence (plain letters or FASTA). protloc predicts one of six "
    "compartments, **" + "**, **".join(CLASSES) + "**, says how often calls like it were "
    "right on proteins the models never saw, and shows which residues the model attended to."
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
        help="The model reads the group, and for archaea and Gram-positive bacteria the "
        "probability of Outer membrane and Periplasmic is moved to Extracellular (DeepLocPro's "
        "rule). The result says what the group changed.",
    )
    st.caption(f"Model: **{plain(model.name)}**")
    predict_clicked = st.button("Predict", type="primary", width="stretch", key="predict_button")


def describe_input(records) -> str:
    first = records[0].id if records else "nothing"
    more = f" and {len(records) - 1} more" if len(records) > 1 else ""
    return f"pasted text ({first}{more})"


def run_prediction(text: str, group: str) -> None:
    try:
        records = parse_text(text)
    except UserError as exc:
        st.error("The input cannot be read:", icon=":material/error:")
        st.text(str(exc))
        return
    if len(records) > settings.SINGLE_PAGE_LIMIT:
        st.error(
            f"The input holds {len(records):,} sequences; this page predicts up to "
            f"{settings.SINGLE_PAGE_LIMIT}. Use the **Batch** page (up to "
            f"{settings.APP_BATCH_LIMIT:,}) for more.",
            icon=":material/error:",
        )
        return
    good = sum(r.ok for r in records)
    with st.status(f"Predicting {len(records)} sequence(s) with {plain(model.name)}…",
                   expanded=True) as status:
        try:
            predictor = load_predictor(model)
            st.write(f"Running {len(predictor.models)} fold models on {good} valid sequence(s)…")
            predictions = predictor.predict(records, group=group, attention=True)
            baseline = [] if group == "unknown" else predictor.predict(records, group="unknown")
        except UserError as exc:
            status.update(label="Prediction failed", state="error", expanded=True)
            st.error("The model could not run:", icon=":material/error:")
            st.text(str(exc))
            return
        except Exception as exc:  # never show a traceback to the user
            status.update(label="Prediction failed", state="error", expanded=True)
            st.error("The prediction failed unexpectedly. Please report this with the input "
                     "that caused it:", icon=":material/error:")
            st.text(f"{type(exc).__name__}: {exc}")
            return
        failed = len(records) - good
        label = f"Done: {good} of {len(records)} sequence(s) predicted"
        if failed:
            label += f"; {failed} could not be predicted (see below)"
        status.update(label=label, state="error" if not good else "complete", expanded=False)
    store(SINGLE, Result(records, predictions, model.name, group, describe_input(records),
                         baseline=baseline, model_id=predictor.name))
    st.session_state["single_input"] = text


if predict_clicked:
    run_prediction(st.session_state.get(INPUT_KEY, ""), st.session_state[GROUP_KEY])

result = stored(SINGLE)
if result is None:
    st.stop()

st.divider()
caption_col, clear_col = st.columns([4, 1])
caption_col.caption("Results for: " + plain(result.label()))
clear_col.button("Clear results", key="clear_single", width="stretch", on_click=clear,
                 args=(SINGLE,))
changed_text = st.session_state.get("single_input") not in (None, st.session_state.get(INPUT_KEY))
if changed_text or result.model != model.name or result.group != st.session_state[GROUP_KEY]:
    st.info(
        f"These results belong to the input above them in time: {plain(result.source)}, "
        f"model **{plain(result.model)}**, {GROUP_NAMES[result.group]}. The text, model or group "
        "has changed since: press **Predict** to update them, or **Clear results**.",
        icon=":material/history:",
    )

records = result.records
index = 0
if len(records) > 1:
    labels = [
        f"{r.id} · " + ("could not be predicted" if p is None else p.localization)
        for r, p in zip(records, result.predictions)
    ]
    index = st.selectbox(
        "Show protein", range(len(records)), format_func=labels.__getitem__, key="single_choice"
    )
record, pred = records[index], result.predictions[index]


def example_for(sequence: str):
    return next((e for e in examples.EXAMPLES.values() if e.sequence == sequence), None)


def show_failure() -> None:
    st.error(f"**{plain(record.id)}** (record {record.index + 1}) could not be predicted. "
             "What failed and why:", icon=":material/error:")
    st.text("\n".join(record.messages) or "not predicted")


def show_trust() -> None:
    votes = round(pred.fold_agreement * len(pred.fold_predictions))
    folds = len(pred.fold_predictions)
    measured = reliability(model if result.model == model.name else None, pred.confidence)
    st.markdown(f"**Confidence {pred.confidence:.0%}**: " + (
        measured.words() + "." if measured else
        "this model has no measured reliability yet (no calibration figures in its "
        "results.json), so take the percentage as the model's own estimate."
    ))
    by_class = (class_reliability(model, pred.localization, pred.confidence)
                if result.model == model.name else None)
    if by_class is not None:
        st.markdown(f"**{pred.localization} calls** like this one: " + by_class.words() + ".")
    st.page_link("pages/cv_results.py", label="Reliability curve",
                 icon=":material/show_chart:")
    agree = (f"All {folds} fold models predict {pred.localization}" if votes == folds
             else f"{votes} of {folds} fold models predict {pred.localization}")
    st.markdown(
        f"{agree}. Fold models agreeing means they learnt the same thing from similar data; "
        "it does not show that the call is right."
    )


def show_group_effect() -> None:
    if not result.baseline or result.baseline[index] is None:
        st.caption(f"Organism group: {GROUP_NAMES[result.group]} (no group given: nothing moved).")
        return
    base = result.baseline[index]
    shift = pred.probabilities - base.probabilities
    biggest = int(np.argmax(np.abs(shift)))
    moved = f"{CLASSES[biggest]} {shift[biggest] * 100:+.0f} points"
    if base.localization != pred.localization:
        st.warning(
            f"The organism group changed the call: with **{GROUP_NAMES[result.group]}** it is "
            f"{pred.localization}; with the group unknown it would be {base.localization} "
            f"({base.confidence:.0%}). Largest move: {moved}.",
            icon=":material/swap_horiz:",
        )
    else:
        st.caption(f"Organism group {GROUP_NAMES[result.group]}: same call as with the group "
                   f"unknown; largest move {moved}.")


def show_example_truth(example) -> None:
    call = heldout_call(model, example.ids) if result.model == model.name else None
    lines = [f"Known localization of {example.short} ({example.accession}): **{example.label}**."]
    if call is None:
        lines.append(
            f"It is not among {plain(result.model)}'s held-out predictions (heldout.csv), so "
            "there is no prediction from a model that did not train on it."
        )
    else:
        verdict = "agrees with" if call.correct else "**disagrees** with"
        lines.append(
            f"Out-of-fold prediction (fold model {call.partition} never saw it in training): "
            f"**{call.prediction}** ({call.probability:.0%}), which {verdict} the known label."
        )
    now = "agrees with" if pred.localization == example.label else "**disagrees** with"
    lines.append(f"The prediction above (all fold models) {now} the known label.")
    box = st.success if call is not None and call.correct and now == "agrees with" else st.warning
    box(" ".join(lines), icon=":material/fact_check:")


def show_neighbours() -> None:
    path = model / neighbours.REFERENCE_FILE
    with st.expander("Evidence: nearest labelled proteins"):
        if not path.is_file():
            st.caption(f"Not available for {plain(model.name)}: this checkpoint set ships no "
                       f"reference set of labelled proteins ({neighbours.REFERENCE_FILE}).")
            return
        found = pred.neighbours  # the predictor's own search, when its vote ran
        if found is None:  # no vote: the same search, done by the same predictor
            found = result.memo(f"neighbours:{index}", lambda: load_predictor(model).neighbours(
                [record.sequence])[0])
        if not found:
            st.caption("No labelled protein in the reference set is similar enough "
                       f"(E-value under {neighbours.MAX_EVALUE:g}).")
            return
        st.dataframe(
            [{"protein": n.id, "label": n.label, "identity": n.identity, "coverage": n.coverage,
              "E-value": n.evalue, "source": n.source} for n in found],
            hide_index=True,
            column_config={k: st.column_config.NumberColumn(format="percent")
                           for k in ("identity", "coverage")},
        )
        manifest = load_predictor(model).manifest
        # a stacked set (protloc.stacking) applies its own vote: "none", "feature" or a weight
        vote = manifest.stacking.get("vote") if manifest.stacking else None
        if vote == "feature":
            st.caption("Local alignments (SWORD + Smith-Waterman). The top hit's identity, in "
                       "its label's column, is an input of the model's stacker (chosen on "
                       "validation folds in cross-validation).")
            return
        if vote is None:
            weight = manifest.homology.get("weight", 0)
        else:
            weight = 0 if vote == "none" else vote
        if weight:
            st.caption("Local alignments (SWORD + Smith-Waterman). The top hit votes in the "
                       f"probabilities above: its label gains {weight:g} × identity before "
                       "renormalising (a weight chosen on validation folds in cross-validation).")
        else:
            st.caption("Local alignments (SWORD + Smith-Waterman): evidence beside the "
                       "prediction, not mixed into its probabilities.")


if pred is None:
    show_failure()
else:
    st.subheader(plain(record.id))
    if record.description:
        st.text(record.description)
    st.markdown(class_badge(pred.localization, pred.confidence), unsafe_allow_html=True)
    st.write("")
    col_bars, col_info = st.columns([1, 1], gap="large")
    with col_bars:
        plot(result.memo(f"bars:{index}", lambda: probability_bars(pred)), key="bars",
             name=("probabilities", record.id))
    with col_info:
        show_trust()
        show_group_effect()
        example = example_for(record.sequence)
        if example is not None:
            show_example_truth(example)
        for message in pred.warnings:
            st.warning(plain(message), icon=":material/warning:")
        show_neighbours()

    st.markdown("#### Which residues did the model attend to?")
    view = result.memo(f"evidence:{index}", lambda: evidence_view(record.sequence))
    plot(result.memo(f"attention:{index}",
                     lambda: attention_figure(pred.attention, record.sequence,
                                              regions=view.regions, membrane=view.membrane)),
         key="attention", name=("attention", record.id))
    st.caption(
        "Top: attention of each pooling head and their mean (brighter = more weight; colours "
        "run up to the 99th percentile so one peak does not hide the rest). Middle: the "
        "evidence: signal peptide with its type and cleavage site, lipobox, TMHMM 2.0 membrane "
        "helices, LPXTG anchor; hover for details. Below: TMHMM's probability that each residue "
        "is in a membrane helix (a helix its most likely path leaves out still shows here), "
        "then Kyte-Doolittle hydropathy. Drag to zoom, double-click to reset; the **Attention "
        "explorer** has an overview and detail."
    )
    st.caption(view.words)


def _figures() -> list:
    figs = []
    for k, (rec, p) in enumerate(zip(result.records, result.predictions)):
        if p is None:
            continue
        figs.append((f"{rec.id} probabilities", probability_bars(p)))
        if p.attention is not None:
            view = evidence_view(rec.sequence)
            figs.append((f"{rec.id} attention",
                         attention_figure(p.attention, rec.sequence, regions=view.regions,
                                          membrane=view.membrane)))
    return figs


st.markdown("#### Downloads")
downloads(result, _figures, "protloc_prediction", key="single")
with st.expander("Table of all sequences in this input"):
    st.dataframe(result.table(), hide_index=True)
