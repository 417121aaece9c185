"""Reading ``results.json`` for the CV results page (to be replaced by protloc.evaluation).

The app's other helpers moved: sequence regions to :mod:`protloc.regions`, structures to
:mod:`protloc.structure`, examples and settings to ``pages/examples.py`` and ``pages/settings.py``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .classes import CLASSES, canonical_label

# ------------------------------------------------------------------- cross-validation results

#: File written by ``protloc evaluate`` into a checkpoint set.
RESULTS_FILE = "results.json"

_METRIC_ALIASES = {
    "accuracy": ("accuracy", "acc", "test_accuracy"),
    "macro_f1": ("macro_f1", "f1_macro", "macro-f1", "f1", "test_f1"),
    "mcc": ("mcc", "test_mcc"),
    "coverage": ("coverage",),
    "n": ("n", "n_total", "support"),
}
_PEER_KEYS = ("deeplocpro", "psortb", "loctree", "mploc", "peer")
_CONTAINER_KEYS = (
    "predictors",
    "results",
    "evaluations",
    "comparison",
    "peers",
    "models",
    "baselines",
    "references",
)


@dataclass
class Evaluation:
    """One predictor's cross-validation figures, each None when ``results.json`` lacks it."""

    name: str
    overall: dict[str, float | None]
    confusion: tuple[list[str], np.ndarray] | None = None
    per_class: list[dict[str, Any]] | None = None
    per_fold: list[dict[str, Any]] | None = None
    fold_mean: dict[str, float | None] | None = None
    fold_sd: dict[str, float | None] | None = None
    reliability: list[dict[str, Any]] | None = None
    ece: float | None = None
    n: int | None = None
    coverage: float | None = None


@dataclass
class CVReport:
    """What the CV results page shows; every part may be missing."""

    path: Path
    main: Evaluation | None  # this model, all held-out proteins
    comparison: list[Evaluation]  # predictors side by side on one common set (benchmark)
    comparison_n: int | None
    comparison_notes: list[str]
    reference: Evaluation | None  # the reference study as found in results.json
    reference_caveat: str
    notes: list[str]
    raw: Any


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) or math.isinf(out) else out


def _metric(block: Mapping[str, Any], name: str) -> float | None:
    for key in _METRIC_ALIASES[name]:
        if key in block:
            value = block[key]
            if isinstance(value, Mapping):  # {"mean": .., "std": ..}
                value = value.get("mean", value.get("value"))
            return _num(value)
    return None


def _looks_like_evaluation(block: Any) -> bool:
    if not isinstance(block, Mapping):
        return False
    keys = set(block)
    return (
        bool(keys & {"overall", "confusion_matrix", "per_class", "per_fold", "calibration"})
        or sum(1 for m in ("accuracy", "macro_f1", "mcc") if _metric(block, m) is not None) >= 2
    )


def _class_name(label: Any) -> str | None:
    if isinstance(label, (int, np.integer)) and 0 <= int(label) < len(CLASSES):
        return CLASSES[int(label)]
    if isinstance(label, str):
        return label if label in CLASSES else canonical_label(label)
    return None


def _confusion(block: Any) -> tuple[list[str], np.ndarray] | None:
    if isinstance(block, Mapping):
        labels = block.get("labels") or block.get("classes") or list(CLASSES)
        matrix = block.get("matrix") or block.get("values")
    else:
        labels, matrix = list(CLASSES), block
    try:
        arr = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        return None
    names = [_class_name(label) or str(label) for label in labels]
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] != len(names):
        return None
    return names, arr


def _per_class(block: Any) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = []
    if isinstance(block, Mapping):  # {"Cytoplasmic": {...}, ...}
        block = [{"class": k, **v} for k, v in block.items() if isinstance(v, Mapping)]
    if not isinstance(block, list):
        return None
    for item in block:
        if not isinstance(item, Mapping):
            continue
        name = _class_name(item.get("class", item.get("label", item.get("name"))))
        if name is None:
            continue
        row: dict[str, Any] = {"class": name}
        for key in ("precision", "recall", "f1", "mcc", "support"):
            value = _num(item.get(key, item.get("f1_score") if key == "f1" else None))
            row[key] = int(value) if key == "support" and value is not None else value
        rows.append(row)
    return rows or None


def _per_fold(block: Any) -> tuple[list[dict], dict | None, dict | None]:
    if isinstance(block, Mapping):
        folds = block.get("folds")
        mean, sd = block.get("mean"), block.get("sd", block.get("std"))
    else:
        folds, mean, sd = block, None, None
    if not isinstance(folds, list):
        return [], None, None
    rows = []
    for k, fold in enumerate(folds):
        if not isinstance(fold, Mapping):
            continue
        row = {"fold": fold.get("partition", fold.get("fold", fold.get("test_fold", k)))}
        for name in ("accuracy", "macro_f1", "mcc", "coverage", "n"):
            row[name] = _metric(fold, name)
        rows.append(row)
    if rows and mean is None:
        mean, sd = {}, {}
        for name in ("accuracy", "macro_f1", "mcc"):
            vals = [r[name] for r in rows if r[name] is not None]
            mean[name] = float(np.mean(vals)) if vals else None
            sd[name] = float(np.std(vals)) if vals else None
    clean = lambda d: {k: _num(v) for k, v in d.items()} if isinstance(d, Mapping) else None  # noqa: E731
    return rows, clean(mean), clean(sd)


def _reliability(block: Any) -> tuple[list[dict], float | None]:
    if not isinstance(block, Mapping):
        return [], None
    bins = []
    for b in block.get("bins") or []:
        if not isinstance(b, Mapping):
            continue
        bins.append(
            {
                "lower": _num(b.get("lower")),
                "upper": _num(b.get("upper")),
                "count": int(_num(b.get("count")) or 0),
                "mean_confidence": _num(b.get("mean_confidence", b.get("confidence"))),
                "accuracy": _num(b.get("accuracy")),
            }
        )
    return bins, _num(block.get("ece"))


def parse_evaluation(name: str, block: Mapping[str, Any]) -> Evaluation:
    """Read one predictor's block, keeping whatever is recognisable and skipping the rest."""
    overall_block = block.get("overall") if isinstance(block.get("overall"), Mapping) else block
    overall = {m: _metric(overall_block, m) for m in ("accuracy", "macro_f1", "mcc")}
    ev = Evaluation(name=name, overall=overall)
    ev.n = int(_num(block.get("n")) or 0) or None
    ev.coverage = _num(block.get("coverage"))
    if "confusion_matrix" in block:
        ev.confusion = _confusion(block["confusion_matrix"])
    if "per_class" in block:
        ev.per_class = _per_class(block["per_class"])
    if "per_fold" in block:
        rows, mean, sd = _per_fold(block["per_fold"])
        ev.per_fold, ev.fold_mean, ev.fold_sd = rows or None, mean, sd
    if "calibration" in block:
        bins, ece = _reliability(block["calibration"])
        ev.reliability, ev.ece = bins or None, ece
    return ev


def _candidates(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    found: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in doc.items():
        if key in _CONTAINER_KEYS and isinstance(value, Mapping):
            found += [(str(k), v) for k, v in value.items() if _looks_like_evaluation(v)]
        elif key in _CONTAINER_KEYS and isinstance(value, list):
            for item in value:
                if _looks_like_evaluation(item):
                    found.append((str(item.get("name", item.get("predictor", key))), item))
        elif _looks_like_evaluation(value) and key not in ("overall", "abstain_as_wrong"):
            found.append((str(key), value))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, str) and v.strip()]
    return []


_OWN_KEYS = ("protloc", "model", "ours", "this_model", "all")
_REFERENCE_KEYS = ("reference_study", "reference", "seed", "seed_study")


def load_cv_results(checkpoint_dir: str | os.PathLike, model_name: str = "") -> CVReport | None:
    """Read ``results.json`` of a checkpoint set; None when the file is absent.

    The schema is not final, so this reads defensively. Understood: the output of
    ``protloc evaluate`` (``all``: this model on every held-out protein; ``benchmark``:
    ``{"n", "predictors": {name: result}, "notes"}``; ``reference_study``; ``notes``), a bare
    :func:`protloc.metrics.evaluate_predictions` result, or a mapping of predictor name to such
    results (the model under its name, ``protloc`` or ``model``; DeepLocPro and PSORTb as peers).
    Anything unrecognised is skipped. Unreadable files raise :class:`ValueError` with a message
    for the user.
    """
    path = Path(checkpoint_dir) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid JSON ({exc}).") from None
    if not isinstance(doc, Mapping):
        raise ValueError(f"{path.name} does not hold a JSON object; nothing to show.")
    label = model_name or "this model"
    notes = _strings(doc.get("notes")) + _strings(doc.get("note")) + _strings(doc.get("group_rule"))

    main: Evaluation | None = None
    if any(k in doc for k in ("overall", "confusion_matrix")):
        main = parse_evaluation(label, doc)
    elif _looks_like_evaluation(doc.get("all")):
        main = parse_evaluation(label, doc["all"])

    reference: Evaluation | None = None
    caveat = REFERENCE_CAVEAT
    for key in _REFERENCE_KEYS:
        if _looks_like_evaluation(doc.get(key)):
            reference = parse_evaluation("Reference study", doc[key])
            caveat = (
                _strings(doc[key].get("caveat"))[0] if _strings(doc[key].get("caveat")) else caveat
            )
            break

    comparison: list[Evaluation] = []
    comparison_n: int | None = None
    comparison_notes: list[str] = []
    bench = doc.get("benchmark")
    if isinstance(bench, Mapping) and isinstance(bench.get("predictors"), Mapping):
        for name, block in bench["predictors"].items():
            if _looks_like_evaluation(block):
                shown = label if str(name).lower() in _OWN_KEYS else str(name)
                comparison.append(parse_evaluation(shown, block))
        comparison_n = int(_num(bench.get("n")) or 0) or None
        comparison_notes = _strings(bench.get("notes"))
    else:
        skip = set(_REFERENCE_KEYS) | {"all", "benchmark"}
        candidates = [(k, b) for k, b in _candidates(doc) if k not in skip]
        if main is None:
            for key, block in candidates:
                if key.lower() in _OWN_KEYS or key == model_name:
                    main = parse_evaluation(label, block)
                    break
        peers = [(k, b) for k, b in candidates if any(p in k.lower() for p in _PEER_KEYS)]
        if peers:
            comparison = ([main] if main is not None else []) + [
                parse_evaluation(k, b) for k, b in peers
            ]
    if main is None and not comparison:
        notes.insert(0, f"{path.name} holds no figures this page recognises.")
    return CVReport(
        path, main, comparison, comparison_n, comparison_notes, reference, caveat, notes, doc
    )


# ---------------------------------------------------------------- the reference study's figures

#: Caveat shown with every figure of the reference study.
REFERENCE_CAVEAT = (
    "The reference study (ESM-2 650M + ProstT5 fusion network) reports these figures on "
    "stratified random folds of equal size (2,307/2,306 proteins), not on homology partitions: "
    "close homologues of a test protein can sit in its training folds, so the figures are "
    "optimistic and not comparable with homology-partitioned cross-validation such as "
    "DeepLocPro's or ours."
)

# Rows = true, columns = predicted, in CLASSES order, recomputed from the study's published
# per-fold predictions (../shared/reference/seed_results/fold_k_results.json; its class index
# order is Cytoplasmic, Cytoplasmic membrane, Extracellular, Periplasmic, Outer membrane,
# Cell wall, reordered here). tests/test_app_support.py checks it against those files.
REFERENCE_STUDY: dict[str, Any] = {
    "name": "Reference study (fusion network, random folds)",
    "n": 11_531,
    "per_fold": [
        {"fold": 0, "accuracy": 0.9376, "macro_f1": 0.8348, "mcc": 0.8942},
        {"fold": 1, "accuracy": 0.9271, "macro_f1": 0.7985, "mcc": 0.8769},
        {"fold": 2, "accuracy": 0.9271, "macro_f1": 0.8383, "mcc": 0.8764},
        {"fold": 3, "accuracy": 0.9358, "macro_f1": 0.8251, "mcc": 0.8914},
        {"fold": 4, "accuracy": 0.9315, "macro_f1": 0.7960, "mcc": 0.8835},
    ],
    "mean": {"accuracy": 0.9318, "macro_f1": 0.8185, "mcc": 0.8845},
    "sd": {"accuracy": 0.0043, "macro_f1": 0.0179, "mcc": 0.0073},
    "confusion_matrix": [
        [6669, 46, 20, 29, 24, 0],
        [125, 2228, 34, 32, 29, 7],
        [31, 20, 459, 16, 31, 0],
        [79, 38, 26, 540, 28, 6],
        [57, 26, 28, 17, 819, 7],
        [6, 8, 2, 1, 13, 30],
    ],
}

#: DeepLocPro's own held-out predictions on its 1,131 benchmark proteins (mean of 4 inner
#: models, organism-group rule applied): see protloc.reference. Not the same proteins as any
#: cross-validation above, so shown as context only.
DEEPLOCPRO_BENCHMARK = {"n": 1_131, "accuracy": 0.777, "macro_f1": 0.733, "mcc": 0.716}


def reference_evaluation() -> Evaluation:
    """The reference study's figures as an :class:`Evaluation` (per-class from its matrix)."""
    cm = np.asarray(REFERENCE_STUDY["confusion_matrix"], dtype=float)
    per_class = []
    for j, name in enumerate(CLASSES):
        tp = cm[j, j]
        precision = tp / cm[:, j].sum() if cm[:, j].sum() else 0.0
        recall = tp / cm[j].sum() if cm[j].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "class": name,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "mcc": None,
                "support": int(cm[j].sum()),
            }
        )
    return Evaluation(
        name=REFERENCE_STUDY["name"],
        overall=dict(REFERENCE_STUDY["mean"]),
        confusion=(list(CLASSES), cm),
        per_class=per_class,
        per_fold=[dict(f) for f in REFERENCE_STUDY["per_fold"]],
        fold_mean=dict(REFERENCE_STUDY["mean"]),
        fold_sd=dict(REFERENCE_STUDY["sd"]),
        n=REFERENCE_STUDY["n"],
    )
