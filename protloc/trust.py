"""How far to trust a call, from what a checkpoint set measured: never hard-coded figures.

* :func:`heldout_call`: a protein's label and out-of-fold prediction in the set's committed
  ``heldout.csv`` (each protein predicted by the fold model that did not train on it).
* :func:`reliability_at`: how often held-out calls at a given confidence were right, from the
  calibration bins of ``results.json`` (:class:`protloc.evaluation.Evaluation`).
* :func:`class_reliability`: the same question for calls of one class, from ``heldout.csv``:
  the confidence bins above pool every class, and most held-out calls are confident
  Cytoplasmic ones, so a rarer call (Cell wall & surface, Periplasmic) can be right far less
  often than its bin says.
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
#: How many held-out calls of the same class, nearest in confidence, a class figure is read from
#: (about +-5 points of binomial noise at 80% right).
CLASS_NEIGHBOURS = 100


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
    table = _heldout_table(checkpoint)
    if table is None:
        return None
    for key in ids:
        row = table.get(key)
        if row is not None:
            return row
    return None


def _stamped(checkpoint: str | Path) -> tuple[str, float] | None:
    """The set's heldout.csv and its modification time (the caches' key), or None."""
    path = Path(checkpoint) / "heldout.csv"
    try:
        return str(path), path.stat().st_mtime
    except OSError:
        return None


def _heldout_table(checkpoint: str | Path) -> dict[str, HeldoutCall] | None:
    stamped = _stamped(checkpoint)
    return None if stamped is None else _heldout(*stamped)


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


@dataclass(frozen=True)
class ClassReliability:
    """The held-out calls of one class nearest a confidence: how many, how many right, and the
    confidence range they span."""

    localization: str
    lower: float
    upper: float
    count: int
    right: int
    total_calls: int  # held-out calls of this class, at any confidence

    @property
    def accuracy(self) -> float:
        return self.right / self.count

    def words(self) -> str:
        scope = (
            f"all {self.count:,} held-out proteins called {self.localization}"
            if self.count == self.total_calls
            else f"the {self.count:,} held-out proteins called {self.localization} with the "
            "confidence nearest this one"
        )
        span = (f"all at about {self.lower:.0%}" if f"{self.lower:.0%}" == f"{self.upper:.0%}"
                else f"{self.lower:.0%}–{self.upper:.0%}")
        rough = " (few proteins: a rough figure)" if self.count < FEW_PROTEINS else ""
        return f"{self.right:,} of {scope} ({span}) were right: {self.accuracy:.0%}{rough}"


def class_reliability(
    checkpoint: str | Path, localization: str, confidence: float,
    neighbours: int = CLASS_NEIGHBOURS,
) -> ClassReliability | None:
    """How often the set's held-out calls of ``localization``, nearest ``confidence``, were
    right: the ``neighbours`` calls of that class closest in confidence (all of them when there
    are fewer). None when the set has no readable ``heldout.csv`` or never called that class.

    Read from ``heldout.csv`` as written (before DeepLocPro's group rule), so for a call the rule
    moved (Gram-positive or Archaea, Extracellular) it is approximate.
    """
    stamped = _stamped(checkpoint)
    calls = None if stamped is None else _class_calls(*stamped).get(localization)
    if calls is None:
        return None
    conf, correct = calls
    distance = np.abs(conf - confidence)
    nearest = (np.argpartition(distance, neighbours - 1)[:neighbours]
               if neighbours < len(conf) else np.arange(len(conf)))
    return ClassReliability(
        localization, float(conf[nearest].min()), float(conf[nearest].max()),
        len(nearest), int(correct[nearest].sum()), len(conf),
    )


@lru_cache(maxsize=4)
def _class_calls(path: str, stamp: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per predicted class: the calls' confidences and whether each was right (a batch asks
    once per record)."""
    out: dict[str, tuple[list[float], list[bool]]] = {}
    for call in (_heldout(path, stamp) or {}).values():
        conf, correct = out.setdefault(call.prediction, ([], []))
        conf.append(call.probability)
        correct.append(call.correct)
    return {k: (np.array(c), np.array(r, dtype=bool)) for k, (c, r) in out.items()}
