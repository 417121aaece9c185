"""About page: the model card, the installed models, and the libraries the app ships."""

from __future__ import annotations

import streamlit as st

from pages.common import ROOT, model_info, model_sets
from protloc import __version__
from pages import examples
from pages import settings

st.title("About protloc")

sets = model_sets()
with st.container(border=True):
    st.markdown(f"**protloc {__version__}** · checkpoint sets in `{settings.checkpoint_root()}`:")
    if sets:
        for path in sets:
            st.markdown(f"- `{path.name}`: {model_info(str(path))}")
    else:
        st.markdown("- none installed yet: the Predict and Batch pages say so and stay off.")

card = ROOT / "docs" / "model_card.md"
if card.is_file():
    st.markdown(card.read_text(encoding="utf-8"))
else:
    st.info("The model card (docs/model_card.md) has not been written yet.")

with st.expander("Example proteins on the Predict page"):
    st.dataframe(
        [
            {
                "class": e.label,
                "protein": e.name,
                "organism": e.organism,
                "UniProt": e.accession,
                "length": len(e.sequence),
                "sequence source": e.source,
            }
            for e in examples.EXAMPLES.values()
        ],
        hide_index=True,
    )
st.caption(
    "3D viewer: 3Dmol.js 2.5.5 (BSD-3-Clause), served from this app's assets/ folder; "
    "charts: Plotly. The app needs no internet connection."
)
