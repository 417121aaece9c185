"""Attention explorer: zoom into one protein's attention, with its top regions and features."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from pages.common import figures_button, plot, protein_choices
from protloc.figures import attention_figure, attention_overview, figures_zip, file_stem
from protloc.lanes import evidence_view
from protloc.regions import TOP_WINDOW, mean_attention, top_attended_regions

st.title("Attention explorer")
st.markdown(
    "Where in the sequence did the model look? Pick a protein from your last prediction or "
    "batch, zoom into a stretch of residues, and compare the attention with sequence features "
    "a biologist would check: the model's evidence (signal peptide and its cleavage site, "
    "TMHMM membrane helices, lipobox, LPXTG anchor)."
)

choices = protein_choices()
if not choices:
    st.info(
        "No predictions yet. Predict a protein on the **Predict** page or a file on the "
        "**Batch** page; its attention then appears here.",
        icon=":material/info:",
    )
    st.page_link("pages/predict.py", label="Go to Predict", icon=":material/biotech:")
    st.stop()

labels = [label for label, _, _ in choices]
pick = st.selectbox(
    "Protein", range(len(choices)), format_func=labels.__getitem__, key="explorer_protein"
)
_, record, pred = choices[pick]
sequence = record.sequence
length = len(sequence)

view = evidence_view(sequence)
regions = view.regions
mean = mean_attention(pred.attention)

c1, c2, c3 = st.columns([2, 1, 1])
with c1:
    window = st.slider(
        "Residues shown (drag both ends to zoom; ≤120 residues shows letters)",
        1,
        length,
        (1, length),
        key=f"explorer_window_{record.id}",
    )
with c2:
    n_top = st.number_input("Top regions", 1, 15, 5, key="explorer_n_top")
    width = st.number_input(
        "Region width (residues)", 3, 31, TOP_WINDOW, step=2, key="explorer_width"
    )
with c3:
    show_features = st.checkbox("Mark evidence lanes", True, key="explorer_features",
                                help="Also draws TMHMM's membrane probability per residue.")
    show_top = st.checkbox("Mark top-attended regions", True, key="explorer_top")

top = top_attended_regions(mean, sequence, n=int(n_top), window=int(width))
marked = (regions if show_features else []) + (top if show_top else [])
overview = attention_overview(pred.attention, sequence, regions if show_features else [],
                              window=window, title=f"{html.escape(record.id)}: whole protein (overview)")
plot(overview, key="explorer_overview", name=("attention_overview", record.id))
figure = attention_figure(
    pred.attention,
    sequence,
    regions=marked,
    start=window[0],
    end=window[1],
    membrane=view.membrane if show_features else None,
    title=f"{html.escape(record.id)}: {pred.localization} ({pred.confidence:.0%}), residues "
    f"{window[0]}–{window[1]} (detail)",
)
plot(figure, key="explorer_figure", name=("attention_detail", record.id))


def coloured_sequence() -> str:
    """The sequence, 50 per line, residues tinted by feature / top attention."""
    tint = [""] * length
    for r in top:
        for i in range(r.start - 1, r.end):
            tint[i] = "background:#fdba74;"
    for r in regions:
        if r.kind == "cleavage site":
            continue
        colour = "#bbf7d0" if r.kind in ("signal peptide", "lipobox") else "#fde68a"
        for i in range(r.start - 1, r.end):
            tint[i] = tint[i] or f"background:{colour};"
            if tint[i] == "background:#fdba74;":
                tint[i] += "outline:1px solid #16a34a;" if r.kind == "signal peptide" else ""
    lines = []
    for start in range(0, length, 50):
        cells = "".join(
            f"<span style='{tint[i]}'>{html.escape(sequence[i])}</span>"
            if tint[i]
            else html.escape(sequence[i])
            for i in range(start, min(start + 50, length))
        )
        lines.append(f"<span style='color:#6b7280'>{start + 1:>6} </span>{cells}")
    return (
        "<div style='font-family:Menlo,Consolas,monospace;font-size:0.95rem;line-height:1.7;"
        "white-space:pre;overflow-x:auto'>" + "<br>".join(lines) + "</div>"
    )


left, right = st.columns([2, 3], gap="large")
with left:
    st.markdown("#### Top-attended regions")
    if top:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "rank": k + 1,
                        "positions": f"{r.start}–{r.end}",
                        "residues": r.residues,
                        "share": r.score,
                        "vs. even": r.note.replace(" an even share", ""),
                    }
                    for k, r in enumerate(top)
                ]
            ),
            hide_index=True,
            column_config={
                "share": st.column_config.NumberColumn("share of attention", format="percent")
            },
        )
    else:
        st.info("This prediction carries no attention values.")
    st.caption(
        f"Non-overlapping {int(width)}-residue windows holding the largest share of the "
        "mean attention over heads."
    )
with right:
    st.markdown("#### Sequence")
    st.markdown(coloured_sequence(), unsafe_allow_html=True)
    st.caption(
        "Orange: top-attended regions · green: signal peptide (lipobox) · yellow: TMHMM "
        "membrane helix or LPXTG anchor."
    )

st.markdown("#### Sequence features")
if regions:
    st.table(
        pd.DataFrame(
            [
                {
                    "feature": r.kind,
                    "positions": f"{r.start}–{r.end}",
                    "length": r.length,
                    "residues": r.residues if r.length <= 30 else r.residues[:27] + "…",
                    "note": r.note,
                }
                for r in regions
            ]
        ).set_index("feature")
    )
else:
    st.success("No signal peptide, membrane helix or sortase anchor found.")
st.caption(view.words)
st.caption(
    "Evidence: TMHMM 2.0 (Krogh et al. 2001) for membrane helices, textbook rules for the "
    "signal peptide's type (Sec, lipoprotein, Tat) and cleavage site (von Heijne's -3, -1 "
    "rule), and for LPXTG anchors; not SignalP. A helix that is a signal peptide's h-region is "
    "shown as the signal peptide, not as a membrane helix. The default model reads the same "
    "evidence with a stricter cleavage rule (alanine at -3 and -1), which misses more signal "
    "peptides."
)
st.info(
    "Attention shows where the model's pooling layer put its weight. It is a clue, not "
    "proof: high attention on a signal peptide is reassuring, but the model may also rely on "
    "residues it attends to weakly.",
    icon=":material/lightbulb:",
)
view_key = (record.id, pred.localization, window, int(n_top), int(width), show_features, show_top)
kept = st.session_state.setdefault("explorer_export", {})
if kept.get("view") != view_key:
    kept.clear()
    kept["view"] = view_key
figures_button(
    lambda: figures_zip([(f"{record.id} attention overview", overview),
                         (f"{record.id} attention detail", figure)],
                        f"protloc attention: {record.id}"),
    f"{file_stem('protloc_attention', record.id)}.zip",
    "explorer",
    kept,
)
