"""Structure page: a PDB or mmCIF file, residues coloured by the model's attention (py3Dmol)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from pages.common import ROOT, protein_choices
from protloc import regions
from pages import settings
from protloc import structure as structures
from protloc.errors import UserError

VIEWER_HEIGHT = 540
STATE = "structure_view"

st.title("Structure coloured by attention")
st.markdown(
    "Upload a 3D structure of the protein (PDB or mmCIF, e.g. from the PDB or AlphaFold DB). "
    "Residue *n* of the chain is coloured by the attention on position *n* of the predicted "
    "sequence: pale = little attention, dark red = most. Everything runs in your browser, "
    "offline."
)


@st.cache_resource(show_spinner=False)
def js_library() -> str | None:
    path = ROOT / "assets" / "3Dmol-min.js"
    return path.read_text(encoding="utf-8") if path.is_file() else None


choices = protein_choices()
if not choices:
    st.info(
        "No prediction with attention yet: the structure will be shown in grey. Predict the "
        "protein on the **Predict** or **Batch** page to colour it.",
        icon=":material/info:",
    )
col_protein, col_style = st.columns([3, 1])
with col_protein:
    pick = (
        st.selectbox(
            "Protein",
            range(len(choices)),
            format_func=lambda i: choices[i][0],
            key="structure_protein",
            disabled=not choices,
        )
        if choices
        else None
    )
with col_style:
    style = st.selectbox("Style", ["cartoon", "stick", "sphere"], key="structure_style")

upload = st.file_uploader(
    "Structure file (PDB or mmCIF)",
    type=list(settings.STRUCTURE_UPLOAD_TYPES),
    key="structure_file",
)
with st.expander("…or paste PDB / mmCIF text"):
    pasted = st.text_area(
        "Structure text",
        key="structure_text",
        height=120,
        placeholder="ATOM      1  N   MET A   1 …",
    )

if upload is not None:
    data, name = upload.getvalue(), upload.name
elif pasted.strip():
    data, name = (
        pasted.encode("utf-8"),
        "pasted.cif" if pasted.lstrip().startswith("data_") else "pasted.pdb",
    )
else:
    st.stop()

try:
    if upload is not None:
        settings.check_upload_name(name, settings.STRUCTURE_UPLOAD_TYPES)
    structure = structures.read_structure(data, name)
except (structures.StructureError, UserError) as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

record = pred = None
if pick is not None:
    _, record, pred = choices[pick]

chain_ids = [c.id for c in structure.chains]
default = 0
if record is not None:  # the chain whose residues best match the sequence
    scores = [structures.map_residues(c, record.sequence).identical for c in structure.chains]
    default = max(range(len(scores)), key=scores.__getitem__)
chain_id = st.selectbox(
    "Chain to colour",
    chain_ids,
    index=default,
    key=f"structure_chain_{name}",
    format_func=lambda c: f"{c} ({len(structure.chains[chain_ids.index(c)].residues)} residues)",
)
chain = structure.chains[chain_ids.index(chain_id)]

colours: dict[int, str] = {}
if record is not None and pred is not None:
    mapping = structures.map_residues(chain, record.sequence)
    values = regions.mean_attention(pred.attention)
    palette = structures.attention_colours(values)
    colours = {number: palette[index] for number, index in mapping.positions.items()}
    st.markdown(
        f"**{record.id}** ({len(record.sequence)} aa) on chain **{chain.id}**: "
        f"{mapping.compared:,} residues matched by number, {mapping.identical:,} with "
        f"the same amino acid ({mapping.identity:.0%})."
    )
    for message in mapping.messages:
        st.warning(message, icon=":material/warning:")

library = js_library()
if library is None:
    st.error(
        "The 3D viewer library (assets/3Dmol-min.js) is missing from this installation; "
        "see assets/README.md.",
        icon=":material/error:",
    )
    st.stop()

key = (
    hashlib.sha1(data).hexdigest(),
    chain.id,
    style,
    record.id if record else None,
    pred.localization if pred else None,
)
cached = st.session_state.get(STATE)
if not cached or cached[0] != key:
    page = structures.structure_view_html(
        structure,
        chain.id if colours else None,
        colours,
        library,
        width="100%",
        height=VIEWER_HEIGHT - 20,
        style=style,
    )
    cached = (key, page)
    st.session_state[STATE] = cached
components.html(cached[1], height=VIEWER_HEIGHT, scrolling=False)

st.markdown(
    "<div style='display:flex;align-items:center;gap:0.6em;font-size:0.95rem'>"
    "<span>low attention</span><span style='display:inline-block;width:220px;height:14px;"
    "border-radius:4px;background:linear-gradient(90deg,#ffffcc,#feb24c,#fc4e2a,#800026)'>"
    "</span><span>high</span><span style='margin-left:1.5em;display:inline-block;width:14px;"
    "height:14px;background:#d9d9d9;border-radius:3px'></span><span>no sequence position / "
    "other chains (lighter)</span></div>",
    unsafe_allow_html=True,
)
st.caption(
    "Rotate: drag · zoom: scroll · move: ctrl/right-drag. The colour scale runs from this "
    "protein's lowest to its highest mean attention."
)
st.download_button(
    "This 3D view (HTML, works offline)",
    cached[1],
    f"protloc_structure_{Path(name).stem}.html",
    "text/html",
    key="structure_html",
    icon=":material/download:",
)
