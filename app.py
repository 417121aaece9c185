"""protloc web app: `streamlit run app.py`. Only calls the protloc library.

`streamlit run` puts this folder on the import path, so `pages.common` imports; pytest gets
the same from `pythonpath` in pyproject.toml.

Checkpoint sets are read from `checkpoints/` (or the folder named by $PROTLOC_CHECKPOINTS).
"""

import streamlit as st

st.set_page_config(
    page_title="protloc · where does this protein live?",
    page_icon=":material/biotech:",
    layout="wide",
    menu_items={"About": "protloc predicts the subcellular localization of prokaryotic proteins."},
)

from pages.common import sidebar  # noqa: E402  (after set_page_config)

pages = [
    st.Page("pages/predict.py", title="Predict", icon=":material/biotech:", default=True),
    st.Page("pages/batch.py", title="Batch", icon=":material/view_list:"),
    st.Page("pages/explorer.py", title="Attention explorer", icon=":material/insights:"),
    st.Page("pages/structure.py", title="Structure", icon=":material/deployed_code:"),
    st.Page("pages/cv_results.py", title="CV results", icon=":material/bar_chart:"),
    st.Page("pages/about.py", title="About / model card", icon=":material/description:"),
]
navigation = st.navigation(pages)
sidebar()
navigation.run()
