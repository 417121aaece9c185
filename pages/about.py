"""About page: what the model is, what it was trained on, and its limits."""

from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
st.title("About protloc")
card = ROOT / "docs" / "model_card.md"
if card.is_file():
    st.markdown(card.read_text(encoding="utf-8"))
else:
    st.info("The model card has not been written yet.")
