"""``results.json``: a typed, versioned :class:`Evaluation` and its exact JSON form.

``protloc evaluate`` builds an :class:`Evaluation` (:mod:`protloc.crossval`) and writes
``Evaluation.to_dict()``; every reader (the app's CV results page, scripts, docs) goes through
:func:`load_results`, which validates the file: an unknown field, a missing field or a value of
the wrong type is a :class:`ResultsError` naming the file and the field, e.g.
``checkpoints/default/results.json: all.per_class[2].f1: expected a number, got 'high'``.
Every field is always written (``null`` when it does not apply), so "missing" is never ambiguous.

The figures themselves are computed in one place, :func:`protloc.metrics.evaluate_predictions`,
whose dict is exactly the JSON of :class:`Metrics` without the evaluation's extra fields.

Reference and peer figures (the reference study; DeepLocPro's and PSORTb's answers on the
DeepLocPro benchmark) are stored once, in :data:`PEERS_RESULTS`, written by
``protloc evaluate --out docs/results/peers`` and read by the app when a checkpoint set's own
``results.json`` lacks them.

Bump :data:`SCHEMA_VERSION` when a field changes meaning, is added or removed.
"""

from __future__ import annotations

import json
import os
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Union

from .errors import UserError

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
#: The one store of reference and peer figures (the reference study, DeepLocPro, PSORTb).
PEERS_RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "peers" / RESULTS_FILE


class ResultsError(UserError, ValueError):
    """``results.json`` does not match the schema; the message names the file and the field."""


# --- the schema -------------------------------------------------------------------------------


@dataclass
class Summary:
    """Accuracy, macro-F1 and MCC of ``n`` answered proteins (None when n is 0)."""

    n: int
    accuracy: float | None
    macro_f1: float | None
    mcc: float | None


@dataclass
class ClassMetrics:
    name: str = field(metadata={"json": "class"})
    support: int = 0
    n_predicted: int = 0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    mcc: float | None = None  # one-vs-rest
    abstained: int = 0


@dataclass
class Subset:
    """Figures on a subset (one organism group); ``n`` answered of ``n_total``."""

    n: int
    accuracy: float | None
    macro_f1: float | None
    mcc: float | None
    n_total: int
    coverage: float | None


@dataclass
class Fold(Subset):
    partition: int | str = 0


@dataclass
class FoldSummary:
    accuracy: float | None
    macro_f1: float | None
    mcc: float | None
    coverage: float | None


@dataclass
class PerFold:
    folds: list[Fold]
    mean: FoldSummary
    sd: FoldSummary  # population sd over folds (ddof = sd_ddof)
    sd_ddof: int


@dataclass
class Confusion:
    rows: str  # "true"
    columns: str  # "predicted"
    labels: list[str]
    matrix: list[list[int]]
    abstained_by_true_class: list[int]


@dataclass
class CalibrationBin:
    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


@dataclass
class Calibration:
    ece: float
    n_bins: int
    mean_confidence: float
    accuracy: float
    bins: list[CalibrationBin]


@dataclass
class SclBlastOverlap:
    n: int
    in_sclblast_db: int
    fraction: float | None


@dataclass
class Published:
    mean: float
    sd: float | None


@dataclass
class Metrics:
    """One predictor on one set of proteins (:func:`protloc.metrics.evaluate_predictions`)."""

    classes: list[str]
    n: int
    n_answered: int
    n_abstained: int
    coverage: float
    overall: Summary
    abstain_as_wrong: Summary
    per_class: list[ClassMetrics]
    confusion_matrix: Confusion
    per_fold: PerFold | None
    by_group: dict[str, Subset] | None
    calibration: Calibration | None
    # Set by the evaluation where they apply, else None:
    without_group_rule: Summary | None = None  # our model, argmax before the group rule
    groups_known: int | None = None
    cached_of: int | None = None  # PSORTb: proteins asked (n answered from the cache)
    scl_blast_hits: int | None = None
    sclblast_overlap: SclBlastOverlap | None = None
    published: dict[str, Published] | None = None  # the reference study's own summary
    caveat: str | None = None
    split: str | None = None


@dataclass
class Benchmark:
    """Predictors side by side on the DeepLocPro benchmark proteins."""

    n: int
    predictors: dict[str, Metrics]
    notes: list[str]


@dataclass
class Evaluation:
    """Everything in ``results.json``."""

    schema_version: int
    checkpoint: str | None
    group_rule: str | None
    all: Metrics | None  # our model on every held-out protein
    benchmark: Benchmark | None
    reference_study: Metrics | None
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return _to_json(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = RESULTS_FILE) -> "Evaluation":
        """Validate and build; :class:`ResultsError` names ``source`` and the field."""
        try:
            version = data.get("schema_version") if isinstance(data, dict) else None
            if isinstance(data, dict) and version != SCHEMA_VERSION:
                raise _Bad("schema_version", f"is {version!r}; this protloc reads {SCHEMA_VERSION}")
            return _from_json(cls, data, "")
        except _Bad as bad:
            raise ResultsError(f"{source}: {bad.where or 'top level'}: {bad.problem}") from None


def metrics_from_result(result: dict[str, Any], **extra: Any) -> Metrics:
    """A :class:`Metrics` from :func:`protloc.metrics.evaluate_predictions` plus extra fields."""
    optional = {f.name: None for f in fields(Metrics) if f.default is None}
    try:
        return _from_json(Metrics, {**optional, **result, **extra}, "")
    except _Bad as bad:  # a programming error, not a user's file
        raise ValueError(f"metrics result: {bad.where}: {bad.problem}") from None


# --- reading and writing ----------------------------------------------------------------------


def load_results(path: str | os.PathLike) -> Evaluation:
    """Read and validate a ``results.json`` (or the one inside a checkpoint folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist: run 'protloc evaluate' first.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path} is not valid JSON ({exc}).") from None
    return Evaluation.from_dict(data, str(path))


def save_results(evaluation: Evaluation, path: str | os.PathLike) -> Path:
    """Write ``evaluation`` as JSON (validated by reading it back first)."""
    data = evaluation.to_dict()
    Evaluation.from_dict(data, str(path))
    path = Path(path)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


# --- strict (de)serialisation of the dataclasses above ------------------------------------------


class _Bad(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(where, problem)
        self.where, self.problem = where, problem


def _key(f) -> str:
    return f.metadata.get("json", f.name)


def _to_json(value: Any) -> Any:
    if is_dataclass(value):
        return {_key(f): _to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _join(where: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


def _from_json(kind: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _Bad(where, "must not be null")
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _from_json(option, value, where)
            except _Bad as bad:
                errors.append(bad)
        raise errors[0]
    if value is None:
        raise _Bad(where, "must not be null")
    if is_dataclass(kind):
        return _object(kind, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise _Bad(where, f"expected a list, got {type(value).__name__}")
        return [_from_json(args[0], v, _join(where, i)) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _Bad(where, f"expected an object, got {type(value).__name__}")
        return {str(k): _from_json(args[1], v, _join(where, str(k))) for k, v in value.items()}
    return _scalar(kind, value, where)


def _object(kind: Any, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise _Bad(where, f"expected an object, got {type(value).__name__}")
    hints = typing.get_type_hints(kind)
    known = {_key(f): f for f in fields(kind)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise _Bad(_join(where, unknown[0]), "unknown field")
    missing = [k for k in known if k not in value]
    if missing:
        raise _Bad(_join(where, missing[0]), "missing field")
    return kind(**{f.name: _from_json(hints[f.name], value[k], _join(where, k)) for k, f in known.items()})


def _scalar(kind: Any, value: Any, where: str) -> Any:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    name = {float: "a number", int: "an integer", str: "a string"}.get(kind, str(kind))
    raise _Bad(where, f"expected {name}, got {value!r:.40}")
