"""Predict page: paste a sequence or FASTA, get per-class probabilities."""

from pathlib import Path

import streamlit as st

from protloc.classes import GROUP_NAMES
from protloc.errors import UserError
from protloc.figures import attention_heatmap, probability_bars
from protloc.output import prediction_rows
from protloc.predictor import EnsemblePredictor, available_checkpoints
from protloc.sequences import parse_text

CHECKPOINT_ROOT = Path(__file__).resolve().parent.parent / "checkpoints"


@st.cache_resource(show_spinner="Loading model…")
def load_predictor(path: str) -> EnsemblePredictor:
    return EnsemblePredictor.from_dir(path)


st.title("Predict subcellular localization")
checkpoints = available_checkpoints(CHECKPOINT_ROOT)
if not checkpoints:
    st.warning("No trained model is installed in `checkpoints/`: predictions are unavailable.")
    st.stop()

col_model, col_group = st.columns(2)
model_dir = col_model.selectbox("Model", checkpoints, format_func=lambda p: Path(p).name)
group = col_group.selectbox(
    "Organism group", list(GROUP_NAMES), index=3, format_func=GROUP_NAMES.get
)
text = st.text_area("Protein sequence or FASTA", height=160, key="sequence_input")

if st.button("Predict", type="primary"):
    try:
        records = parse_text(text)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    predictor = load_predictor(str(model_dir))
    with st.status("Predicting…", expanded=False) as status:
        predictions = predictor.predict(records, group=group, attention=True)
        status.update(label="Done", state="complete")
    st.session_state["results"] = (records, predictions)

if "results" in st.session_state:
    records, predictions = st.session_state["results"]
    for record, pred in zip(records, predictions):
        if pred is None:
            st.error(f"**{record.id}**: " + " ".join(record.messages))
            continue
        st.subheader(f"{record.id}: {pred.localization}")
        st.metric("Predicted localization", pred.localization, f"confidence {pred.confidence:.0%}")
        for warning in pred.warnings:
            st.warning(warning)
        st.plotly_chart(probability_bars(pred), use_container_width=True)
        st.plotly_chart(attention_heatmap(pred, record.sequence), use_container_width=True)
    table = prediction_rows(records, predictions)
    st.dataframe(table, hide_index=True)
    st.download_button("Download CSV", table.to_csv(index=False), "protloc_results.csv", "text/csv")
