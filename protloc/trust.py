"""How far to trust a call, from what a checkpoint set measured: never hard-coded figures.

* :func:`heldout_call`: a protein's label and out-of-fold prediction in the set's committed
  ``heldout.csv`` (each protein predicted by the fold model that did not train on it).
* :func:`reliability_at`: how often held-out calls at a given confidence were right, from the
  calibration bins of ``results.json`` (:class:`protloc.evaluation.Evaluation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .classes import CLASSES, COLUMN_NAMES
from .evaluation import Evaluation

#: Fewer held-out proteins than this in a confidence bin: the words say the figure is rough.
FEW_PROTEINS = 30


@dataclass(frozen=True)
class HeldoutCall:
    """One protein in ``heldout.csv``."""

    id: str
    label: str
    prediction: str
    probability: float  # of the predicted class
    partition: int | None

    @property
    def correct(self) -> bool:
        return self.label == self.prediction


def heldout_call(checkpoint: str | Path, ids: Sequence[str]) -> HeldoutCall | None:
    """The first of ``ids`` found in the set's ``heldout.csv``; None when none is (or the file
    is missing or unreadable: the page then says so)."""
    path = Path(checkpoint) / "heldout.csv"
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    table = _heldout(str(path), stamp)
    if table is None:
        return None
    for key in ids:
        row = table.get(key)
        if row is not None:
            return row
    return None


@lru_cache(maxsize=4)
def _heldout(path: str, stamp: float) -> dict[str, HeldoutCall] | None:
    from .crossval import read_heldout
    from .errors import UserError

    try:
        table = read_heldout(Path(path).parent)
    except UserError:
        return None
    probs = table[[COLUMN_NAMES[c] for c in CLASSES]].to_numpy(dtype=float)
    best = probs.argmax(axis=1)
    partitions = table["partition"] if "partition" in table.columns else [None] * len(table)
    return {
        str(key): HeldoutCall(
            str(key), label, CLASSES[int(k)], float(p[k]), None if part is None else int(part)
        )
        for key, label, p, k, part in zip(table["id"], table["label"], probs, best, partitions)
    }


@dataclass(frozen=True)
class Reliability:
    """Held-out calls made with a confidence in [lower, upper): how many, how many right."""

    lower: float
    upper: float
    count: int
    accuracy: float

    def words(self) -> str:
        times = int(np.clip(round(self.accuracy * 10), 0, 10))
        rough = " (few proteins: a rough figure)" if self.count < FEW_PROTEINS else ""
        return (
            f"right about {times} times in 10 at this confidence: {self.accuracy:.0%} of the "
            f"{self.count:,} held-out proteins predicted with {self.lower:.0%}–{self.upper:.0%} "
            f"confidence were right{rough}"
        )


def reliability_at(evaluation: Evaluation | None, confidence: float) -> Reliability | None:
    """The measured accuracy of held-out calls in ``confidence``'s calibration bin, or None
    when the set has no calibration figures (or that bin is empty)."""
    metrics = evaluation.all if evaluation is not None else None
    if metrics is None or metrics.calibration is None:
        return None
    bins = metrics.calibration.bins
    for k, b in enumerate(bins):
        last = k == len(bins) - 1
        if b.lower <= confidence < b.upper or (last and confidence >= b.lower):
            if not b.count or b.accuracy is None:
                return None
            return Reliability(b.lower, b.upper, b.count, b.accuracy)
    return None
