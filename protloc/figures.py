"""Plotly figures shared by the app and the CLI (no Streamlit here).

Figures use a white template and large fonts so they read well on a projector and export
cleanly (:func:`figures_html` writes a self-contained HTML file for slides, plotly.js inlined).

Over 500 lines on purpose: one independent function per figure, sharing one palette, layout and
export; splitting it by page would scatter those shared settings.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .classes import CLASSES, COLOURS, SHORT_NAMES
from .predictor import Prediction

FONT = dict(family="Inter, 'Source Sans Pro', Arial, sans-serif", size=15, color="#1f2937")
TEMPLATE = "plotly_white"
#: Colours for predictors compared side by side (Okabe-Ito, not the class colours).
PREDICTOR_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
REGION_COLOURS = {
    "signal-peptide-like": "rgba(0, 158, 115, 0.22)",
    "transmembrane-like": "rgba(230, 159, 0, 0.25)",
    "attention": "rgba(213, 94, 0, 0.18)",
    "signal peptide": "rgba(0, 158, 115, 0.22)",
    "TM helix": "rgba(230, 159, 0, 0.25)",
}
#: Feature lanes of the attention figure, top to bottom, with their names and colours: the
#: model's evidence (protloc.lanes: TMHMM 2.0 helices, signal-peptide type and cleavage site,
#: lipobox, sortase anchor), the older hydropathy heuristics, and the top-attended windows.
LANES = (
    "signal peptide", "cleavage site", "lipobox", "TM helix", "LPXTG anchor",
    "signal-peptide-like", "transmembrane-like", "attention",
)
LANE_NAMES = {
    "signal peptide": "signal peptide",
    "cleavage site": "cleavage site",
    "lipobox": "lipobox",
    "TM helix": "TM helix (TMHMM)",
    "LPXTG anchor": "LPXTG anchor",
    "signal-peptide-like": "SP-like",
    "transmembrane-like": "TM-like",
    "attention": "top attention",
}
LANE_COLOURS = {
    "signal peptide": "#009E73",
    "cleavage site": "#000000",
    "lipobox": "#56B4E9",
    "TM helix": "#E69F00",
    "LPXTG anchor": "#CC79A7",
    "signal-peptide-like": "#009E73",
    "transmembrane-like": "#E69F00",
    "attention": "#D55E00",
}
#: Attention colours run up to this percentile of the values (the peak would wash out long
#: proteins); hover still shows every value.
CLIP_PERCENTILE = 99.0
#: Sequence windows at most this long get one tick per residue (its letter).
LETTER_TICKS_MAX = 120
#: Plotly configuration for the app: the camera button saves a 3x PNG, in the browser.
PLOT_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 3},
}
#: Font size and height of figures in presentation mode (a projector at the back of a room).
PRESENTATION_FONT = 24
PRESENTATION_HEIGHT = 680


def file_stem(*parts: str) -> str:
    """A file name from a figure's name and a protein's id: letters, digits, - and _ only."""
    text = "_".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:120] or "protloc_figure"


def plot_config(*name: str, image_format: str = "png") -> dict[str, Any]:
    """:data:`PLOT_CONFIG` whose camera button saves ``<figure>_<protein>.png`` (or .svg)."""
    options = {"format": image_format, "filename": file_stem(*name)}
    if image_format == "png":
        options["scale"] = 3
    return {**PLOT_CONFIG, "toImageButtonOptions": options}


def for_projector(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` with large fonts and height, for presentation mode."""
    big = go.Figure(fig)
    height = max(big.layout.height or 0, PRESENTATION_HEIGHT)
    big.update_layout(font_size=PRESENTATION_FONT, height=height,
                      title_font_size=PRESENTATION_FONT + 4)
    return big


def _wrap(name: str) -> str:
    return name.replace(" membrane", "<br>membrane").replace(" & surface", " &<br>surface")


def _layout(fig: go.Figure, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE, font=FONT, paper_bgcolor="white", plot_bgcolor="white", **kwargs
    )
    return fig


# ------------------------------------------------------------------------------ prediction


def probability_bars(pred: Prediction, title: str | None = None) -> go.Figure:
    """Horizontal bars of the six class probabilities, with fold spread (SD) as error bars."""
    probs = np.asarray(pred.probabilities, dtype=float)
    spread = np.asarray(pred.spread, dtype=float)
    best = int(np.argmax(probs))
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=[_wrap(c) for c in CLASSES],
            orientation="h",
            marker=dict(
                color=[COLOURS[c] for c in CLASSES],
                line=dict(
                    color=["#111827" if i == best else "rgba(0,0,0,0)" for i in range(6)], width=2.5
                ),
            ),
            error_x=dict(type="data", array=spread, visible=True, color="#374151", thickness=1.5),
            customdata=np.stack([spread], axis=-1),
            hovertemplate="%{y}: %{x:.3f} ± %{customdata[0]:.3f} (SD over fold models)"
            "<extra></extra>",
        )
    )
    # Percentages sit right of the error bar's end, so the bar never strikes through them.
    fig.add_trace(
        go.Scatter(
            x=probs + spread + 0.015,
            y=[_wrap(c) for c in CLASSES],
            mode="text",
            text=[f"{p:.0%}" if p >= 0.005 else "<1%" for p in probs],
            textposition="middle right",
            cliponaxis=False,
            hoverinfo="skip",
        )
    )
    _layout(
        fig,
        xaxis=dict(
            range=[0, 1.22],
            tickformat=".0%",
            title="probability (mean of fold models ± SD)",
            gridcolor="#e5e7eb",
        ),
        yaxis=dict(autorange="reversed"),
        height=360,
        margin=dict(l=10, r=20, t=50, b=10),
        title=dict(
            text=title
            or f"{html.escape(pred.id)}: <b>{pred.localization}</b> ({pred.confidence:.0%})",
            x=0.01,
        ),
        showlegend=False,
    )
    return fig


def attention_figure(
    attention: np.ndarray,
    sequence: str,
    regions: Sequence[Any] = (),
    start: int | None = None,
    end: int | None = None,
    title: str | None = None,
    hydro_window: int = 9,
    clip: float | None = CLIP_PERCENTILE,
    membrane: np.ndarray | None = None,
) -> go.Figure:
    """Attention of every pooling head over the residues, the mean over heads, and below it
    the Kyte-Doolittle hydropathy (``hydro_window``-residue mean) on the same x axis.
    ``membrane``: TMHMM's per-residue membrane posterior, drawn in its own row when given.

    ``regions``: objects with ``kind``, ``start``, ``end`` (1-based, inclusive), drawn as
    shaded bands. ``start``/``end`` (1-based, inclusive) zoom to a window; windows of at most
    :data:`LETTER_TICKS_MAX` residues are labelled with their amino-acid letters. Colours run
    up to the ``clip`` percentile of the values (None: up to the peak).
    """
    from .regions import TM_THRESHOLD, hydropathy

    att = np.asarray(attention, dtype=float)
    if att.ndim == 1:
        att = att[None, :]
    length = att.shape[1]
    if length != len(sequence):
        raise ValueError(f"attention covers {length} residues but the sequence has {len(sequence)}")
    lo = max(1, int(start or 1))
    hi = min(length, int(end or length))
    if hi < lo:
        lo, hi = 1, length
    rows = np.vstack([att, att.mean(axis=0, keepdims=True)])
    labels = [f"head {i + 1}" for i in range(att.shape[0])] + ["mean"]
    positions = np.arange(1, length + 1)
    residues = list(sequence.upper())
    names = [f"{aa}{pos}" for aa, pos in zip(residues, positions)]  # "M1", "K2", ...
    hover = [names for _ in labels]
    hydro = hydropathy(sequence, hydro_window)
    if membrane is not None and len(membrane) != length:
        raise ValueError(f"membrane posterior covers {len(membrane)} residues, not {length}")

    lanes = [k for k in LANES if any(getattr(r, "kind", "") == k for r in regions)]
    heights = {"attention": 0.6, "lanes": 0.06 + 0.05 * len(lanes), "membrane": 0.18,
               "hydropathy": 0.34} if lanes else {"attention": 0.64, "membrane": 0.18,
                                                  "hydropathy": 0.36}
    panels = [k for k in heights if k != "membrane" or membrane is not None]
    row = {name: i + 1 for i, name in enumerate(panels)}
    hydro_row = row["hydropathy"]
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        row_heights=[heights[k] for k in panels])
    fig.add_trace(
        go.Heatmap(
            z=rows,
            x=positions,
            y=labels,
            text=hover,
            colorscale="Viridis",
            zmin=0,
            zmax=_colour_top(rows, clip),
            colorbar=dict(
                title=dict(
                    text="attention" if clip is None else f"attention<br>(to {clip:g}th pct)",
                    side="right",
                ),
                len=0.9 * heights["attention"] / sum(heights[k] for k in panels),
                y=1.0,
                yanchor="top",
                thickness=14,
            ),
            hovertemplate="%{y} · %{text}: %{z:.4f}<extra></extra>",
            xgap=0 if hi - lo > 200 else 0.5,
            ygap=1,
        ),
        row=1,
        col=1,
    )
    fig.update_yaxes(autorange="reversed", row=1, col=1)  # head 1 on top, mean last
    fig.add_trace(
        go.Scatter(
            x=positions,
            y=hydro,
            mode="lines",
            line=dict(color="#374151", width=1.8),
            fill="tozeroy",
            fillcolor="rgba(55,65,81,0.12)",
            name="hydropathy",
            text=names,
            hovertemplate=f"%{{text}}: Kyte-Doolittle {hydro_window}-residue mean %{{y:.2f}}"
            "<extra></extra>",
            connectgaps=False,
        ),
        row=hydro_row,
        col=1,
    )
    fig.add_hline(
        y=TM_THRESHOLD,
        line=dict(color="#E69F00", dash="dot", width=1.5),
        row=hydro_row,
        col=1,
        annotation_text=f"TM-like above {TM_THRESHOLD} (19-residue mean)",
        annotation_position="top right",
        annotation_font_size=12,
    )
    fig.add_hline(y=0, line=dict(color="#9ca3af", width=1), row=hydro_row, col=1)
    if membrane is not None:
        _membrane_trace(fig, np.asarray(membrane, dtype=float), names, row["membrane"])

    if lanes:
        for region in regions:
            kind = getattr(region, "kind", "")
            if kind not in lanes:
                continue
            lane = lanes.index(kind)
            colour = LANE_COLOURS[kind]
            if kind == "cleavage site":  # a cut between two residues: a tick, not a band
                fig.add_shape(type="line", x0=region.end + 0.5, x1=region.end + 0.5,
                              y0=lane - 0.45, y1=lane + 0.45, line=dict(color=colour, width=3),
                              row=row["lanes"], col=1)
                continue
            fig.add_shape(
                type="rect",
                x0=region.start - 0.5,
                x1=region.end + 0.5,
                y0=lane - 0.38,
                y1=lane + 0.38,
                fillcolor=colour,
                line_width=0,
                row=row["lanes"],
                col=1,
            )
            if kind in REGION_COLOURS and kind != "attention":
                fig.add_vrect(
                    x0=region.start - 0.5,
                    x1=region.end + 0.5,
                    fillcolor=REGION_COLOURS[kind],
                    line_width=0,
                    layer="below",
                    row=hydro_row,
                    col=1,
                )
        hover_regions = [r for r in regions if getattr(r, "kind", "") in lanes]
        fig.add_trace(
            go.Scatter(
                x=[(r.start + r.end) / 2 for r in hover_regions],
                y=[lanes.index(r.kind) for r in hover_regions],
                mode="markers",
                marker=dict(size=14, color="rgba(0,0,0,0)"),
                text=[
                    f"{LANE_NAMES[r.kind]} {r.start}–{r.end}" + (f": {r.note}" if r.note else "")
                    for r in hover_regions
                ],
                hovertemplate="%{text}<extra></extra>",
            ),
            row=row["lanes"],
            col=1,
        )
        fig.update_yaxes(
            row=row["lanes"],
            col=1,
            range=[len(lanes) - 0.5, -0.5],
            tickmode="array",
            tickvals=list(range(len(lanes))),
            ticktext=[LANE_NAMES[k] for k in lanes],
            showgrid=False,
            zeroline=False,
            tickfont=dict(size=12),
        )

    xaxis = dict(range=[lo - 0.5, hi + 0.5])
    fig.update_xaxes(**xaxis)
    if hi - lo + 1 <= LETTER_TICKS_MAX:
        ticks = list(range(lo, hi + 1))
        fig.update_xaxes(
            row=hydro_row,
            col=1,
            tickmode="array",
            tickvals=ticks,
            tickangle=0,
            ticktext=[
                f"{residues[p - 1]}<br>{p}" if p % 10 == 0 or p == lo else residues[p - 1]
                for p in ticks
            ],
            tickfont=dict(family="Menlo, Consolas, monospace", size=13 if hi - lo < 60 else 10),
        )
    fig.update_xaxes(title_text="residue position", row=hydro_row, col=1)
    fig.update_yaxes(title_text="hydropathy", row=hydro_row, col=1, zeroline=False)
    _layout(
        fig,
        height=max(420, 230 + 26 * len(labels) + 150 + 22 * len(lanes))
        + (90 if membrane is not None else 0),
        margin=dict(l=10, r=10, t=50 if title else 20, b=10),
        title=dict(text=title, x=0.01) if title else None,
        showlegend=False,
    )
    return fig


def _membrane_trace(fig: go.Figure, membrane: np.ndarray, names: list[str], row: int) -> None:
    """TMHMM's membrane posterior: a helix the most likely path leaves out still shows here."""
    positions = np.arange(1, len(membrane) + 1)
    fig.add_trace(
        go.Scatter(
            x=positions,
            y=membrane,
            mode="lines",
            line=dict(color=LANE_COLOURS["TM helix"], width=1.6),
            fill="tozeroy",
            fillcolor="rgba(230,159,0,0.25)",
            name="TMHMM P(membrane)",
            text=names,
            hovertemplate="%{text}: TMHMM membrane posterior %{y:.2f}<extra></extra>",
        ),
        row=row,
        col=1,
    )
    fig.update_yaxes(title_text="TMHMM<br>P(membrane)", range=[0, 1.05], tickvals=[0, 0.5, 1],
                     row=row, col=1)


def _colour_top(values: np.ndarray, clip: float | None) -> float | None:
    if clip is None or values.size == 0:
        return None
    top = float(np.percentile(values, clip))
    return top if top > 0 else None


def attention_overview(
    attention: np.ndarray,
    sequence: str,
    regions: Sequence[Any] = (),
    window: tuple[int, int] | None = None,
    title: str | None = None,
) -> go.Figure:
    """The whole protein at a glance: mean attention over heads as a line, evidence lanes as
    coloured bands, and the ``window`` shown in detail shaded; drag to zoom."""
    att = np.asarray(attention, dtype=float)
    mean = att if att.ndim == 1 else att.mean(axis=0)
    positions = np.arange(1, len(mean) + 1)
    fig = go.Figure(
        go.Scatter(
            x=positions,
            y=mean,
            mode="lines",
            line=dict(color="#0072B2", width=1.5),
            fill="tozeroy",
            fillcolor="rgba(0,114,178,0.15)",
            text=[f"{aa}{p}" for aa, p in zip(sequence.upper(), positions)],
            hovertemplate="%{text}: mean attention %{y:.4f}<extra></extra>",
        )
    )
    top = float(mean.max()) or 1.0
    for region in regions:
        kind = getattr(region, "kind", "")
        if kind in LANE_COLOURS and kind != "attention":
            fig.add_vrect(x0=region.start - 0.5, x1=region.end + 0.5, line_width=0,
                          fillcolor=LANE_COLOURS[kind], opacity=0.25, layer="below")
    if window is not None:
        fig.add_vrect(x0=window[0] - 0.5, x1=window[1] + 0.5, line=dict(color="#111827", width=1.5),
                      fillcolor="rgba(0,0,0,0)")
    _layout(
        fig,
        height=220,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        title=dict(text=title, x=0.01) if title else None,
        xaxis=dict(title="residue position", range=[0.5, len(mean) + 0.5]),
        yaxis=dict(title="mean attention", range=[0, top * 1.15], gridcolor="#e5e7eb"),
        showlegend=False,
    )
    return fig


# --------------------------------------------------------------------------------- batch


def class_count_bars(
    localizations: Sequence[str | None], title: str = "Predicted classes"
) -> go.Figure:
    """Bars counting the predicted class of each record; None counts as 'not predicted'."""
    counts = [sum(1 for loc in localizations if loc == c) for c in CLASSES]
    names, colours = [_wrap(c) for c in CLASSES], [COLOURS[c] for c in CLASSES]
    missing = sum(1 for loc in localizations if loc is None or loc not in CLASSES)
    if missing:
        counts.append(missing)
        names.append("not predicted<br>(input error)")
        colours.append("#9ca3af")
    total = max(sum(counts), 1)
    fig = go.Figure(
        go.Bar(
            y=names,
            x=counts,
            orientation="h",
            marker_color=colours,
            text=[f"{c:,} ({c / total:.0%})" for c in counts],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    _layout(
        fig,
        title=dict(text=title, x=0.01),
        height=80 + 42 * len(names),
        xaxis=dict(title="proteins", range=[0, max(counts) * 1.25 + 1], gridcolor="#e5e7eb"),
        yaxis=dict(autorange="reversed"),
        margin=dict(l=10, r=30, t=60, b=10),
        showlegend=False,
    )
    return fig


# ----------------------------------------------------------------------- cross-validation


def confusion_matrix_heatmap(
    matrix: Sequence[Sequence[float]],
    labels: Sequence[str] = CLASSES,
    title: str = "Confusion matrix",
    normalise: bool = True,
) -> go.Figure:
    """Rows = true class, columns = predicted. Colour = share of the true class (recall) when
    ``normalise``; each cell shows the count and that share."""
    cm = np.asarray(matrix, dtype=float)
    totals = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    z = share if normalise else cm
    text = [
        [f"{int(round(cm[i, j])):,}<br>{share[i, j]:.0%}" for j in range(cm.shape[1])]
        for i in range(cm.shape[0])
    ]
    names = [SHORT_NAMES.get(c, c) for c in labels]
    full = [
        [f"true {labels[i]} → predicted {labels[j]}" for j in range(len(labels))]
        for i in range(len(labels))
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            customdata=full,
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalise else None,
            textfont=dict(size=13),
            colorbar=dict(
                title=dict(text="share of<br>true class" if normalise else "count"),
                tickformat=".0%" if normalise else None,
                thickness=14,
            ),
            hovertemplate="%{customdata}<br>%{text}<extra></extra>",
        )
    )
    _layout(
        fig,
        title=dict(text=title, x=0.01),
        xaxis=dict(title="predicted", side="bottom"),
        yaxis=dict(title="true", autorange="reversed"),
        height=520,
        margin=dict(l=10, r=10, t=60, b=10),
    )
    return fig


def per_class_bars(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] = ("precision", "recall", "f1", "mcc"),
    title: str = "Per-class metrics",
) -> go.Figure:
    """Grouped bars: one group per class, one bar per metric (missing values skipped)."""
    fig = go.Figure()
    palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"]
    for k, metric in enumerate(metrics):
        values = [row.get(metric) for row in rows]
        if all(v is None for v in values):
            continue
        fig.add_trace(
            go.Bar(
                name={"f1": "F1", "mcc": "MCC"}.get(metric, metric),
                x=[_wrap(str(row.get("class"))) for row in rows],
                y=[np.nan if v is None else v for v in values],
                marker_color=palette[k % len(palette)],
                hovertemplate="%{x}: %{y:.3f}<extra>" + metric + "</extra>",
            )
        )
    _layout(
        fig,
        barmode="group",
        title=dict(text=title, x=0.01),
        height=420,
        yaxis=dict(range=[0, 1.05], title="score"),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        margin=dict(l=10, r=10, t=70, b=10),
    )
    return fig


def reliability_diagram(
    bins: Sequence[Mapping[str, Any]], ece: float | None = None, title: str = "Reliability diagram"
) -> go.Figure:
    """Accuracy against mean confidence per confidence bin, with bin counts below."""
    used = [b for b in bins if b.get("count") and b.get("mean_confidence") is not None]
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.05
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line=dict(color="#9ca3af", dash="dash"),
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=[b["mean_confidence"] for b in used],
            y=[b["accuracy"] for b in used],
            mode="lines+markers",
            name="model",
            line=dict(color="#0072B2", width=2.5),
            marker=dict(size=9),
            customdata=[b["count"] for b in used],
            hovertemplate="confidence %{x:.2f} → accuracy %{y:.2f} (%{customdata} proteins)"
            "<extra></extra>",
        ),
        row=1,
        col=1,
    )
    centres = [((b.get("lower") or 0) + (b.get("upper") or 0)) / 2 for b in bins]
    widths = [((b.get("upper") or 0) - (b.get("lower") or 0)) * 0.9 for b in bins]
    fig.add_trace(
        go.Bar(
            x=centres,
            y=[b.get("count", 0) for b in bins],
            width=widths,
            marker_color="#56B4E9",
            name="proteins per bin",
            hovertemplate="%{y} proteins<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(range=[0, 1.01], row=1, col=1)
    fig.update_xaxes(range=[0, 1.01], title_text="confidence (top-class probability)", row=2, col=1)
    fig.update_yaxes(range=[0, 1.02], title_text="accuracy", row=1, col=1)
    fig.update_yaxes(
        title_text="count",
        type="log" if max([b.get("count", 0) for b in bins] or [0]) > 200 else "linear",
        row=2,
        col=1,
    )
    label = title + (f" (ECE {ece:.3f})" if ece is not None else "")
    _layout(
        fig,
        title=dict(text=label, x=0.01),
        height=520,
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        margin=dict(l=10, r=10, t=70, b=10),
    )
    return fig


def comparison_bars(
    predictors: Sequence[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]],
    metrics: Sequence[str] = ("accuracy", "macro_f1", "mcc"),
    title: str = "Side by side",
) -> go.Figure:
    """Grouped bars: one group per metric, one bar per predictor (name, values, sd or None,
    and optionally the share of proteins it answered, printed on its bars when under 1)."""
    names = {"accuracy": "accuracy", "macro_f1": "macro-F1", "mcc": "MCC"}
    fig = go.Figure()
    for k, (name, values, sd, *rest) in enumerate(predictors):
        coverage = rest[0] if rest else None
        answered = f"<br>{coverage:.0%} answered" if coverage is not None and coverage < 1 else ""
        ys = [values.get(m) for m in metrics]
        errs = [(sd or {}).get(m) for m in metrics]
        fig.add_trace(
            go.Bar(
                name=name,
                x=[names.get(m, m) for m in metrics],
                y=[np.nan if v is None else v for v in ys],
                error_y=dict(
                    type="data",
                    array=[0 if e is None else e for e in errs],
                    visible=any(e is not None for e in errs),
                ),
                marker_color=PREDICTOR_COLOURS[k % len(PREDICTOR_COLOURS)],
                text=["–" if v is None else f"{v:.3f}{answered}" for v in ys],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=name + " · %{x}: %{y:.3f}<extra></extra>",
            )
        )
    _layout(
        fig,
        barmode="group",
        title=dict(text=title, x=0.01),
        height=420,
        yaxis=dict(range=[0, 1.18], title="score"),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        margin=dict(l=10, r=10, t=80, b=10),
    )
    return fig


def group_bars(
    groups: Mapping[str, Mapping[str, Any]],
    metrics: Sequence[str] = ("accuracy", "mcc"),
    title: str = "By organism group",
) -> go.Figure:
    """Bars per organism group (name -> {n, accuracy, mcc, ...}), the number of proteins in
    each group's label."""
    names = {"accuracy": "accuracy", "macro_f1": "macro-F1", "mcc": "MCC"}
    labels = [f"{g}<br>(n = {v.get('n') or 0:,})" for g, v in groups.items()]
    fig = go.Figure()
    for k, metric in enumerate(metrics):
        ys = [v.get(metric) for v in groups.values()]
        fig.add_trace(
            go.Bar(
                name=names.get(metric, metric),
                x=labels,
                y=[np.nan if y is None else y for y in ys],
                marker_color=PREDICTOR_COLOURS[k % len(PREDICTOR_COLOURS)],
                text=["–" if y is None else f"{y:.3f}" for y in ys],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x}: %{y:.3f}<extra>" + names.get(metric, metric) + "</extra>",
            )
        )
    _layout(
        fig,
        barmode="group",
        title=dict(text=title, x=0.01),
        height=420,
        yaxis=dict(range=[0, 1.1], title="score"),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
        margin=dict(l=10, r=10, t=80, b=10),
    )
    return fig


# -------------------------------------------------------------------------------- export


def figures_html(
    figures: Sequence[tuple[str, go.Figure]],
    title: str,
    notes: Sequence[str] = (),
    plotly_src: str | None = None,
) -> str:
    """One HTML page for slides, working offline: plotly.js inlined once, or, with
    ``plotly_src``, loaded from that (local) file name instead."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:Arial,sans-serif;max-width:1200px;margin:2em auto;"
        "color:#1f2937}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em}"
        ".note{background:#fff7ed;border-left:4px solid #E69F00;padding:.6em 1em}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in notes]
    if plotly_src:
        parts.insert(3, f"<script src='{html.escape(plotly_src)}'></script>")
    for k, (heading, fig) in enumerate(figures):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        inline = k == 0 and not plotly_src
        config = plot_config(heading)
        parts.append(fig.to_html(full_html=False, include_plotlyjs=inline, config=config))
    parts.append("</body></html>")
    return "\n".join(parts)


#: The one copy of plotly.js in a figures ZIP, next to the pages that load it.
PLOTLY_FILE = "plotly.min.js"


def figures_zip(
    figures: Sequence[tuple[str, go.Figure]], title: str, notes: Sequence[str] = ()
) -> bytes:
    """A ZIP for slides, working offline: ``index.html`` with every figure, one HTML page per
    figure, and one shared local ``plotly.min.js`` that all of them load."""
    from plotly.offline import get_plotlyjs

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PLOTLY_FILE, get_plotlyjs())
        archive.writestr("index.html", figures_html(figures, title, notes, PLOTLY_FILE))
        for k, (heading, fig) in enumerate(figures, start=1):
            page = figures_html([(heading, fig)], heading, plotly_src=PLOTLY_FILE)
            archive.writestr(f"{k:02d}_{file_stem(heading)}.html", page)
    return buffer.getvalue()
