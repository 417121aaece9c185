"""Plotly figures shared by the app and the CLI (no Streamlit here)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .classes import CLASSES, COLOURS
from .predictor import Prediction


def probability_bars(pred: Prediction) -> go.Figure:
    """Horizontal bars of the six class probabilities, with fold spread as error bars."""
    fig = go.Figure(
        go.Bar(
            x=pred.probabilities,
            y=list(CLASSES),
            orientation="h",
            marker_color=[COLOURS[c] for c in CLASSES],
            error_x=dict(type="data", array=pred.spread, visible=True),
            text=[f"{p:.2f}" for p in pred.probabilities],
            textposition="outside",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis=dict(range=[0, 1.1], title="probability (mean over fold models ± SD)"),
        yaxis=dict(autorange="reversed"),
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        title=f"{pred.id}: {pred.localization} ({pred.confidence:.0%})",
    )
    return fig


def attention_heatmap(pred: Prediction, sequence: str) -> go.Figure:
    """Heads x residues attention, plus the mean over heads as the last row."""
    if pred.attention is None:
        raise ValueError("prediction was made without attention=True")
    rows = np.vstack([pred.attention, pred.attention.mean(axis=0, keepdims=True)])
    labels = [f"head {i + 1}" for i in range(pred.attention.shape[0])] + ["mean"]
    positions = np.arange(1, len(sequence) + 1)
    hover = [[f"{aa}{pos}" for aa, pos in zip(sequence, positions)] for _ in labels]
    fig = go.Figure(
        go.Heatmap(
            z=rows, x=positions, y=labels, text=hover, colorscale="Viridis",
            hovertemplate="%{y} · %{text}: %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=120 + 30 * len(labels),
        xaxis_title="residue position",
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return fig
