"""Streamlit helpers shared by the pages: model loading, session results, downloads, text.

Only arrangement on screen lives here; the work is done by the protloc library.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import streamlit as st
import torch

from pages import settings
from protloc.checkpoint import read_manifest
from protloc.classes import COLOURS, GROUP_NAMES
from protloc.errors import UserError
from protloc.evaluation import RESULTS_FILE, Evaluation, ResultsError, load_results
from protloc.figures import figures_zip, for_projector, plot_config
from protloc.output import csv_text, prediction_json, prediction_rows
from protloc.predictor import EnsemblePredictor, Prediction
from protloc.sequences import SequenceRecord
from protloc.trust import Reliability, reliability_at

ROOT = Path(__file__).resolve().parent.parent
MODEL_KEY = "model_name"
PRESENT_KEY = "presentation"
IMAGE_KEY = "image_format"
SINGLE = "single_result"
BATCH = "batch_result"
#: Torch threads per server process: sessions predict in parallel threads, and on a shared
#: CPU one thread each is fastest (docs/benchmarks.md); $PROTLOC_TORCH_THREADS overrides it.
TORCH_THREADS = int(os.environ.get("PROTLOC_TORCH_THREADS", "1") or 1)
torch.set_num_threads(max(1, TORCH_THREADS))  # once: this module is imported once per server
#: Sessions whose results the server keeps for a page reload (oldest dropped first).
KEPT_SESSIONS = 64
SESSION_PARAM = "s"


# ---------------------------------------------------------------------------------- models


@st.cache_resource(show_spinner="Loading the model (once per server)…", max_entries=4)
def _load_predictor(path: str, stamp: float) -> EnsemblePredictor:
    return EnsemblePredictor.from_dir(path)


def load_predictor(path: Path) -> EnsemblePredictor:
    """The predictor of a checkpoint set, loaded once (reloaded if its manifest changes)."""
    manifest = Path(path) / "manifest.json"
    stamp = manifest.stat().st_mtime if manifest.is_file() else 0.0
    return _load_predictor(str(path), stamp)


@st.cache_resource(show_spinner=False, max_entries=8)
def _results(path: str, stamp: float) -> Evaluation | str:
    try:
        return load_results(path)
    except ResultsError as exc:
        return str(exc)


def model_results(model: Path | None) -> Evaluation | str | None:
    """The set's results.json (read once per change), its error message, or None if absent."""
    path = None if model is None else Path(model) / RESULTS_FILE
    if path is None or not path.is_file():
        return None
    return _results(str(path), path.stat().st_mtime)


def reliability(model: Path | None, confidence: float) -> Reliability | None:
    results = model_results(model)
    return reliability_at(results, confidence) if isinstance(results, Evaluation) else None


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
        f"was found in `{plain(str(root))}`. Train one with `protloc train … --out "
        f"checkpoints/default`, or point the app at a folder of checkpoint sets with "
        f"`{settings.CHECKPOINTS_ENV}=…`.",
        icon=":material/warning:",
    )


def sidebar() -> None:
    """Model choice, presentation mode and chart-image format, on every page."""
    with st.sidebar:
        st.toggle(
            "Presentation mode",
            key=PRESENT_KEY,
            help="Large fonts and one big figure per screen, for a projector.",
        )
        st.radio(
            "Chart download format", ["png", "svg"], key=IMAGE_KEY, horizontal=True,
            help="What the camera icon above each chart saves (named for the chart and protein).",
        )
        st.markdown("### Model")
        sets = model_sets()
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
    if st.session_state.get(PRESENT_KEY):
        st.html("<style>.stMainBlockContainer{max-width:100%}"
                ".stMainBlockContainer p,.stMainBlockContainer li,.stMainBlockContainer label"
                "{font-size:1.4rem !important}.stMainBlockContainer h1{font-size:3rem}</style>")


@st.cache_data(show_spinner=False, max_entries=16)
def model_info(path: str) -> str:
    try:
        manifest = read_manifest(Path(path))
    except UserError as exc:
        return f"Cannot read this checkpoint set: {plain(str(exc))}"
    embedders = ", ".join(e.get("id", "?") for e in manifest.embedders)
    return (
        f"**{plain(manifest.name)}** v{plain(str(manifest.version))} · {len(manifest.folds)} "
        f"fold models · features: {plain(embedders)}"
    )


# ------------------------------------------------------------------------------------ text

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def plain(text: str) -> str:
    """User text made inert inside Markdown: every Markdown, directive (``:red[...]``,
    ``:material/...:``) and math character is backslash-escaped, so a FASTA header shows as
    typed: no link, no image, no formatting."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text)).replace("\n", " ")


# ------------------------------------------------------------------------- stored results


@dataclass
class Result:
    """Predictions kept in the session (and for a page reload) until the user clears them."""

    records: list[SequenceRecord]
    predictions: list[Prediction | None]
    model: str
    group: str  # the default (batch) or only (Predict page) organism group
    source: str  # which input these results belong to, in words
    groups: list[str] = field(default_factory=list)  # per record; empty: all ``group``
    baseline: list[Prediction | None] = field(default_factory=list)  # group "unknown"
    model_id: str = ""  # the model's own name (manifest), written into every file row
    created: str = field(default_factory=lambda: time.strftime("%H:%M:%S"))
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.groups:
            self.groups = [self.group] * len(self.records)

    def memo(self, name: str, build: Callable[[], Any]) -> Any:
        """Build something derived from these results once (figures, files)."""
        if name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]

    def table(self):
        return self.memo(
            "table", lambda: prediction_rows(self.records, self.predictions, self.groups,
                                             self.model_id or self.model)
        )

    def csv(self) -> str:
        return self.memo("csv", lambda: csv_text(self.table()))

    def json(self) -> str:
        def build() -> str:
            mixed = len(set(self.groups)) > 1
            doc = prediction_json(self.records, self.predictions, self.model_id or self.model,
                                  "per record" if mixed else self.group, self.groups, compact=True)
            return json.dumps(doc, separators=(",", ":"))

        return self.memo("json", build)

    def predicted(self) -> list[tuple[SequenceRecord, Prediction]]:
        return [(r, p) for r, p in zip(self.records, self.predictions) if p is not None]

    def label(self) -> str:
        n = len(self.records)
        groups = sorted(set(self.groups))
        where = GROUP_NAMES.get(groups[0], groups[0]) if len(groups) == 1 else "groups per record"
        return f"{self.source} · {n:,} record{'s' * (n != 1)} · {where} · model {self.model} · {self.created}"


@st.cache_resource(show_spinner=False)
def _kept() -> tuple[OrderedDict, threading.Lock]:
    """Results by session token, so a page reload (a new Streamlit session) finds them."""
    return OrderedDict(), threading.Lock()


def _token(create: bool) -> str | None:
    token = st.query_params.get(SESSION_PARAM)
    if token and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        return token
    if not create:
        return None
    token = secrets.token_urlsafe(16)
    st.query_params[SESSION_PARAM] = token
    return token


def store(kind: str, result: Result) -> None:
    st.session_state[kind] = result
    kept, lock = _kept()
    token = _token(create=True)
    with lock:
        kept.setdefault(token, {})[kind] = result
        kept.move_to_end(token)
        while len(kept) > KEPT_SESSIONS:
            kept.popitem(last=False)


def clear(kind: str) -> None:
    st.session_state.pop(kind, None)
    token = _token(create=False)
    kept, lock = _kept()
    with lock:
        kept.get(token, {}).pop(kind, None)


def stored(kind: str) -> Result | None:
    value = st.session_state.get(kind)
    if isinstance(value, Result):
        return value
    token = _token(create=False)
    if token is None:
        return None
    kept, lock = _kept()
    with lock:
        value = kept.get(token, {}).get(kind)
    if isinstance(value, Result):
        st.session_state[kind] = value  # back after a page reload
        return value
    return None


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


def presenting() -> bool:
    return bool(st.session_state.get(PRESENT_KEY))


def plot(fig, key: str | None = None, name: tuple[str, ...] = ()) -> None:
    """A Plotly chart as designed (no Streamlit theme); its camera button saves
    ``<figure>_<protein>.png`` (or .svg, sidebar); large in presentation mode."""
    if presenting():
        fig = for_projector(fig)
    config = plot_config(*(name or (key or "protloc",)),
                         image_format=st.session_state.get(IMAGE_KEY) or "png")
    st.plotly_chart(fig, theme=None, config=config, key=key)


def class_badge(localization: str, confidence: float) -> str:
    colour = COLOURS.get(localization, "#6b7280")
    return (
        f"<div style='display:inline-block;padding:0.35em 0.9em;border-radius:0.5em;"
        f"background:{colour};color:white;font-size:1.6rem;font-weight:700'>{localization}</div>"
        f"<span style='font-size:1.2rem;margin-left:0.8em'>confidence "
        f"<b>{confidence:.0%}</b></span>"
    )


def figures_button(build: Callable[[], bytes], file_name: str, key: str, cache: dict) -> None:
    """'Prepare figures' first (the ZIP holds plotly.js: built only when asked, then kept in
    ``cache``), then the download button."""
    if file_name not in cache:
        if not st.button("Prepare figures for slides (ZIP)", key=f"{key}_prepare",
                         width="stretch", icon=":material/slideshow:"):
            return
        with st.spinner("Building the figures…"):
            cache[file_name] = build()
    st.download_button(
        "Figures for slides (ZIP, works offline)", cache[file_name], file_name,
        "application/zip", key=f"{key}_zip", width="stretch", icon=":material/download:",
        on_click="ignore",
    )


def downloads(result: Result, figures: Callable[[], list], stem: str, key: str) -> None:
    """CSV, JSON and figures (ZIP: pages + one local plotly.js) for one stored result.
    Files are built when first shown and kept with the result."""
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Results (CSV)", result.csv(), f"{stem}.csv", "text/csv", key=f"{key}_csv",
        width="stretch", icon=":material/download:", on_click="ignore",
    )
    c2.download_button(
        "Results with attention (JSON)", result.json(), f"{stem}.json", "application/json",
        key=f"{key}_json", width="stretch", icon=":material/download:", on_click="ignore",
    )
    with c3:
        figures_button(lambda: figures_zip(figures(), f"protloc: {result.source}"),
                       f"{stem}_figures.zip", key, result.cache)
    st.caption(
        "Images: the camera icon above each chart saves it (PNG at 3× or SVG, chosen in the "
        "sidebar), named for the chart and the protein. The ZIP holds an HTML page per figure "
        "and one shared plotly.js, so the charts stay interactive offline."
    )
