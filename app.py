"""protloc web app: `streamlit run app.py`. Only calls the protloc library.

`streamlit run` puts this folder on the import path, so `pages.common` imports; pytest gets
the same from `pythonpath` in pyproject.toml.

Checkpoint sets are read from `checkpoints/` (or the folder named by $PROTLOC_CHECKPOINTS).
Navigation: Streamlit's own sidebar list is off (`client.showSidebarNavigation = false`, so the
`pages/` folder's file names, "common" among them, never flash up on a cold start); the page
links below are drawn before the heavy imports (torch), so they appear at once.
"""

from pathlib import Path

import streamlit as st

ICON = Path(__file__).resolve().parent / "assets" / "favicon.png"  # served locally

st.set_page_config(
    page_title="protloc · where does this protein live?",
    page_icon=str(ICON),
    layout="wide",
    menu_items={"About": "protloc predicts the subcellular localization of prokaryotic proteins."},
)

PAGES = [
    st.Page("pages/predict.py", title="Predict", icon=":material/biotech:", default=True),
    st.Page("pages/batch.py", title="Batch", icon=":material/view_list:"),
    st.Page("pages/explorer.py", title="Attention explorer", icon=":material/insights:"),
    st.Page("pages/structure.py", title="Structure", icon=":material/deployed_code:"),
    st.Page("pages/cv_results.py", title="CV results", icon=":material/bar_chart:"),
    st.Page("pages/about.py", title="About / model card", icon=":material/description:"),
]
navigation = st.navigation(PAGES, position="hidden")
with st.sidebar:
    for page in PAGES:
        st.page_link(page, label=page.title, icon=page.icon)

from pages.common import sidebar  # noqa: E402  (after the page list: imports torch)

sidebar()
navigation.run()
