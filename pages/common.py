"""Streamlit helpers shared by the pages: model loading, session results, downloads.

Only arrangement on screen lives here; the work is done by the protloc library.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from pages import settings
from protloc.checkpoint import read_manifest
from protloc.classes import COLOURS
from protloc.errors import UserError
from protloc.figures import PLOT_CONFIG
from protloc.output import prediction_json, prediction_rows
from protloc.predictor import EnsemblePredictor, Prediction
from protloc.sequences import SequenceRecord

ROOT = Path(__file__).resolve().parent.parent
MODEL_KEY = "model_name"
SINGLE = "single_result"
BATCH = "batch_result"


# ---------------------------------------------------------------------------------- models


@st.cache_resource(show_spinner="Loading the model (once per server)…", max_entries=4)
def _load_predictor(path: str, stamp: float) -> EnsemblePredictor:
    return EnsemblePredictor.from_dir(path)


def load_predictor(path: Path) -> EnsemblePredictor:
    """The predictor of a checkpoint set, loaded once (reloaded if its manifest changes)."""
    manifest = Path(path) / "manifest.json"
    stamp = manifest.stat().st_mtime if manifest.is_file() else 0.0
    return _load_predictor(str(path), stamp)


def model_sets() -> list[Path]:
    try:
        return settings.checkpoint_sets()
    except OSError:
        return []


def selected_model() -> Path | None:
    """The checkpoint set chosen in the sidebar (the first, ``default``, unless changed)."""
    sets = model_sets()
    if not sets:
        return None
    name = st.session_state.get(MODEL_KEY)
    for path in sets:
        if path.name == name:
            return path
    return sets[0]


def no_model_message() -> None:
    root = settings.checkpoint_root()
    st.warning(
        f"**No trained model is installed.** No checkpoint set (a folder with `manifest.json`) "
        f"was found in `{root}`. Train one with `protloc train … --out checkpoints/default`, "
        f"or point the app at a folder of checkpoint sets with `{settings.CHECKPOINTS_ENV}=…`.",
        icon=":material/warning:",
    )


def sidebar() -> None:
    """Model choice and a short description of it, in the sidebar on every page."""
    sets = model_sets()
    with st.sidebar:
        st.markdown("### Model")
        if not sets:
            st.warning("No model installed: predictions are unavailable.")
            return
        names = [p.name for p in sets]
        if st.session_state.get(MODEL_KEY) not in names:
            st.session_state[MODEL_KEY] = names[0]
        st.selectbox(
            "Checkpoint set",
            names,
            key=MODEL_KEY,
            help=f"Checkpoint sets found in {settings.checkpoint_root()}; 'default' first.",
        )
        info = model_info(str(selected_model()))
        if info:
            st.caption(info)


@st.cache_data(show_spinner=False, max_entries=16)
def model_info(path: str) -> str:
    try:
        manifest = read_manifest(Path(path))
    except UserError as exc:
        return f"Cannot read this checkpoint set: {exc}"
    embedders = ", ".join(e.get("id", "?") for e in manifest.embedders)
    return (
        f"**{manifest.name}** v{manifest.version} · {len(manifest.folds)} fold models · "
        f"features: {embedders}"
    )


# ------------------------------------------------------------------------- stored results


@dataclass
class Result:
    """Predictions kept in the session so nothing is recomputed on a rerun."""

    records: list[SequenceRecord]
    predictions: list[Prediction | None]
    model: str
    group: str
    source: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    cache: dict[str, Any] = field(default_factory=dict)

    def memo(self, name: str, build: Callable[[], Any]) -> Any:
        """Build something derived from these results once (figures, files)."""
        if name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]

    def table(self):
        return self.memo("table", lambda: prediction_rows(self.records, self.predictions))

    def csv(self) -> str:
        return self.memo("csv", lambda: self.table().to_csv(index=False))

    def json(self) -> str:
        return self.memo(
            "json",
            lambda: json.dumps(
                prediction_json(self.records, self.predictions, self.model, self.group), indent=1
            ),
        )

    def predicted(self) -> list[tuple[SequenceRecord, Prediction]]:
        return [(r, p) for r, p in zip(self.records, self.predictions) if p is not None]


def store(kind: str, result: Result) -> None:
    st.session_state[kind] = result


def stored(kind: str) -> Result | None:
    value = st.session_state.get(kind)
    return value if isinstance(value, Result) else None


def protein_choices() -> list[tuple[str, SequenceRecord, Prediction]]:
    """Proteins with attention from the last single prediction and the batch, labelled."""
    out = []
    for kind, label in ((SINGLE, "single prediction"), (BATCH, "batch")):
        result = stored(kind)
        if result is None:
            continue
        for record, pred in result.predicted():
            if pred.attention is not None:
                out.append((f"{record.id} · {pred.localization} ({label})", record, pred))
    return out


# ---------------------------------------------------------------------------------- widgets


def plot(fig, key: str | None = None) -> None:
    """A Plotly chart as designed (no Streamlit theme), with a 3x PNG camera button."""
    st.plotly_chart(fig, theme=None, config=PLOT_CONFIG, key=key)


def class_badge(localization: str, confidence: float) -> str:
    colour = COLOURS.get(localization, "#6b7280")
    return (
        f"<div style='display:inline-block;padding:0.35em 0.9em;border-radius:0.5em;"
        f"background:{colour};color:white;font-size:1.6rem;font-weight:700'>{localization}</div>"
        f"<span style='font-size:1.2rem;margin-left:0.8em'>calibrated confidence "
        f"<b>{confidence:.0%}</b></span>"
    )


def downloads(result: Result, figures_html: Callable[[], str], stem: str, key: str) -> None:
    """CSV, JSON and figure-HTML download buttons for one stored result."""
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Results (CSV)",
        result.csv(),
        f"{stem}.csv",
        "text/csv",
        key=f"{key}_csv",
        width="stretch",
        icon=":material/download:",
    )
    c2.download_button(
        "Results with attention (JSON)",
        result.json(),
        f"{stem}.json",
        "application/json",
        key=f"{key}_json",
        width="stretch",
        icon=":material/download:",
    )
    c3.download_button(
        "Figures (HTML, works offline)",
        result.memo("figures_html", figures_html),
        f"{stem}_figures.html",
        "text/html",
        key=f"{key}_html",
        width="stretch",
        icon=":material/download:",
    )
    st.caption(
        "PNG: use the camera icon above each chart (saved by your browser at 3× "
        "resolution, no internet needed). The HTML file keeps the charts interactive "
        "for slides."
    )
