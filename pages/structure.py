"""Structure page: a PDB or mmCIF file, residues coloured by the model's attention (py3Dmol)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from pages.common import ROOT, plain, protein_choices
from protloc import regions
from pages import settings
from protloc import structure as structures
from protloc.errors import UserError

VIEWER_HEIGHT = 540
STATE = "structure_view"
#: The structure in use (name, bytes), kept in the session when the user changes page.
CHOSEN = "structure_chosen"
SAMPLE = ROOT / "assets" / "1bxw_ompa.pdb"
SAMPLE_NAME = "1bxw_ompa.pdb"

st.title("Structure coloured by attention")
st.markdown(
    "Upload a 3D structure of the protein (PDB or mmCIF, e.g. from the PDB or AlphaFold DB). "
    "Residue *n* of the chain is coloured by the attention on position *n* of the predicted "
    "sequence (the page finds a numbering offset, e.g. a structure numbered from the mature "
    "protein): pale = little attention, dark red = most. Everything runs in your browser, "
    "offline. No file at hand? Use the sample: OmpA's β-barrel (PDB 1BXW)."
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

def use_sample() -> None:
    st.session_state[CHOSEN] = (SAMPLE_NAME, SAMPLE.read_bytes())


upload = st.file_uploader(
    "Structure file (PDB or mmCIF)",
    type=list(settings.STRUCTURE_UPLOAD_TYPES),
    key="structure_file",
)
sample_col, clear_col = st.columns(2)
sample_col.button(
    "Use the sample: OmpA β-barrel (PDB 1BXW)", key="structure_sample", on_click=use_sample,
    icon=":material/science:", disabled=not SAMPLE.is_file(),
    help="PDB entry 1BXW (Pautsch & Schulz 1998): the transmembrane domain of E. coli OmpA, "
    "public domain (CC0); see assets/README.md. Predict the OmpA example first to colour it.",
)
with st.expander("…or paste PDB / mmCIF text"):
    pasted = st.text_area(
        "Structure text",
        key="structure_text",
        height=120,
        placeholder="ATOM      1  N   MET A   1 …",
    )

if upload is not None:
    st.session_state[CHOSEN] = (upload.name, upload.getvalue())
elif pasted.strip():
    name = "pasted.cif" if pasted.lstrip().startswith("data_") else "pasted.pdb"
    st.session_state[CHOSEN] = (name, pasted.encode("utf-8"))
if CHOSEN not in st.session_state:
    st.stop()
name, data = st.session_state[CHOSEN]
clear_col.button("Forget this structure", key="structure_forget",
                 on_click=lambda: st.session_state.pop(CHOSEN, None))
st.caption(f"Structure: {plain(name)} ({len(data):,} bytes), kept while you use other pages.")

try:
    if upload is not None:
        settings.check_upload_name(name, settings.STRUCTURE_UPLOAD_TYPES)
    structure = structures.read_structure(data, name)
except (structures.StructureError, UserError) as exc:
    st.error(f"{plain(name)} cannot be shown:", icon=":material/error:")
    st.text(str(exc))
    st.stop()

record = pred = None
if pick is not None:
    _, record, pred = choices[pick]

chain_ids = [c.id for c in structure.chains]
default = 0
offsets = {}
if record is not None:  # the chain whose residues best match the sequence
    offsets = {c.id: structures.best_offset(c, record.sequence) for c in structure.chains}
    scores = [structures.map_residues(c, record.sequence, offsets[c.id]).identical
              for c in structure.chains]
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
    offset = st.number_input(
        "Numbering offset (structure residue n = sequence position n + offset)",
        -2000, 2000, offsets.get(chain.id, 0), key=f"structure_offset_{name}_{chain.id}_{record.id}",
        help="Found automatically: the offset under which most residues carry the sequence's "
        "amino acid (e.g. 21 when the structure is numbered after a 21-residue signal peptide).",
    )
    mapping = structures.map_residues(chain, record.sequence, int(offset))
    values = regions.mean_attention(pred.attention)
    palette = structures.attention_colours(values)
    colours = {number: palette[index] for number, index in mapping.positions.items()}
    st.markdown(
        f"**{plain(record.id)}** ({len(record.sequence)} aa) on chain **{plain(chain.id)}**, "
        f"offset {int(offset)}: {mapping.compared:,} residues matched by number, "
        f"{mapping.identical:,} with the same amino acid ({mapping.identity:.0%})."
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
    tuple(sorted(colours.items())),
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
