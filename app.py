"""protloc web app: `streamlit run app.py`. Only calls the protloc library."""

import streamlit as st

st.set_page_config(page_title="protloc", page_icon="🧫", layout="wide")

pages = [
    st.Page("pages/predict.py", title="Predict", icon="🔬", default=True),
    st.Page("pages/about.py", title="About / model card", icon="📄"),
]
st.navigation(pages).run()
