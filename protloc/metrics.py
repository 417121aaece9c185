"""Evaluation metrics for 6-class localization predictions, and a markdown renderer.

:func:`evaluate_predictions` takes true labels and either probabilities (``(n, 6)``, columns in
:data:`protloc.classes.CLASSES` order; the prediction is their argmax, applied as given: apply
any organism-group rule before calling) or predicted labels (a peer's answers, which may abstain).
Everything it returns is plain JSON (dicts, lists, floats, ints, strings, ``None``).

Conventions, also stated by :func:`render_markdown`:

* Metrics come from scikit-learn. Macro-F1 averages over the classes present in the true labels
  or the (answered) predictions, which is scikit-learn's default; MCC is the multi-class
  Matthews correlation; per-class MCC is one-vs-rest.
* Abstentions: a prediction of ``None``, ``""``, ``"Unknown"`` (any case) or NaN is an
  abstention. The main figures are computed on answered proteins only, with ``coverage`` =
  answered / all. A second block, ``abstain_as_wrong``, counts every abstention as a wrong
  answer (accuracy over all proteins; F1 and MCC with abstentions as an extra predicted
  label "Unknown" that is never correct).
* Per fold: metrics per ``partition`` value, then the mean and the population standard
  deviation (ddof = 0, as numpy's default and as in the reference study's summary).
* Calibration (only with probabilities): top-label expected calibration error over 15
  equal-width confidence bins on [0, 1] (bins as in ``sklearn.calibration.calibration_curve``,
  ``strategy="uniform"``), ECE = sum over bins of count/n * |accuracy - mean confidence|.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)

from .classes import CLASSES, canonical_label

ABSTAIN = "Unknown"
N_BINS = 15
SD_DDOF = 0

_ABSTAIN_SPELLINGS = {"", "unknown", "none", "nan", "abstain", "abstained"}


# --- inputs -----------------------------------------------------------------------------------


def _canonical(label: Any, what: str) -> str:
    if isinstance(label, (int, np.integer)):
        return CLASSES[int(label)]
    text = str(label)
    if text in CLASSES:
        return text
    mapped = canonical_label(text)
    if mapped is None:
        raise ValueError(f"{what} {label!r} is not one of the 6 classes")
    return mapped


def _is_abstention(pred: Any) -> bool:
    if pred is None:
        return True
    if isinstance(pred, float) and math.isnan(pred):
        return True
    return isinstance(pred, str) and pred.strip().lower() in _ABSTAIN_SPELLINGS


def _as_predictions(values: Any) -> tuple[list[str], np.ndarray | None]:
    """Predicted labels (``ABSTAIN`` for abstentions) and the probabilities, if any."""
    arr = np.asarray(values, dtype=object)
    if arr.ndim == 2:
        probs = np.asarray(values, dtype=float)
        if probs.shape[1] != len(CLASSES):
            raise ValueError(
                f"probabilities need {len(CLASSES)} columns (CLASSES order), got {probs.shape[1]}"
            )
        if not np.isfinite(probs).all():
            raise ValueError("probabilities contain NaN or infinite values")
        return [CLASSES[i] for i in probs.argmax(axis=1)], probs
    if arr.ndim != 1:
        raise ValueError(
            "predictions must be a 1-D sequence of labels or an (n, 6) probability array"
        )
    return [ABSTAIN if _is_abstention(p) else _canonical(p, "prediction") for p in arr], None


# --- metric blocks ----------------------------------------------------------------------------


def _f(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def mcc(y: Any, p: Any) -> float:
    """Matthews correlation: scikit-learn's MCC, quiet about inputs with a single label (its answer there is 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(matthews_corrcoef(y, p))


def paired_bootstrap(y, a, b, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float]:
    """Interval (95% by default) of MCC(b) - MCC(a) over resamples of the same proteins
    (paired); a wider ``level`` corrects for comparing several variants (Bonferroni)."""
    return paired_bootstrap_levels(y, a, b, (level,), n_boot, seed)[0]


def paired_bootstrap_levels(y, a, b, levels: Sequence[float], n_boot: int = 1000,
                            seed: int = 0) -> list[tuple[float, float]]:
    """:func:`paired_bootstrap` at several levels from one set of resamples."""
    y, a, b = np.asarray(y), np.asarray(a), np.asarray(b)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        diffs.append(mcc(y[idx], b[idx]) - mcc(y[idx], a[idx]))
    tails = [50.0 * (1.0 - level) for level in levels]
    return [(float(np.percentile(diffs, t)), float(np.percentile(diffs, 100.0 - t))) for t in tails]


def _present_labels(y: Sequence[str], p: Sequence[str]) -> list[str]:
    present = set(y) | set(p)
    return [c for c in CLASSES if c in present]


def summary_metrics(y: Sequence[str], p: Sequence[str]) -> dict[str, Any]:
    """n, accuracy, macro-F1 and MCC of answered predictions (no abstentions in ``p``)."""
    if len(y) == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "mcc": None}
    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, p)),
        "macro_f1": float(
            f1_score(y, p, labels=_present_labels(y, p), average="macro", zero_division=0)
        ),
        "mcc": mcc(y, p),
    }


def _abstain_as_wrong(y: Sequence[str], p: Sequence[str]) -> dict[str, Any]:
    answered = [q for q in p if q != ABSTAIN]
    labels = _present_labels(y, answered)
    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, p)),
        "macro_f1": float(f1_score(y, p, labels=labels, average="macro", zero_division=0)),
        "mcc": mcc(y, p),
    }


def _block(y: list[str], p: list[str]) -> dict[str, Any]:
    """Metrics on answered proteins plus coverage (used for folds and groups)."""
    keep = [i for i, q in enumerate(p) if q != ABSTAIN]
    out = summary_metrics([y[i] for i in keep], [p[i] for i in keep])
    out["n_total"] = len(y)
    out["coverage"] = len(keep) / len(y) if y else None
    return out


def per_class_metrics(
    y: Sequence[str], p: Sequence[str], abstained: Sequence[str] = ()
) -> list[dict]:
    """Precision, recall, F1, one-vs-rest MCC and support per class (answered proteins)."""
    prec, rec, f1, support = precision_recall_fscore_support(
        y, p, labels=list(CLASSES), zero_division=0
    )
    y_arr, p_arr = np.asarray(y, dtype=object), np.asarray(p, dtype=object)
    rows = []
    for j, c in enumerate(CLASSES):
        rows.append(
            {
                "class": c,
                "support": int(support[j]),
                "n_predicted": int((p_arr == c).sum()),
                "precision": float(prec[j]),
                "recall": float(rec[j]),
                "f1": float(f1[j]),
                "mcc": mcc(y_arr == c, p_arr == c) if len(y) else None,
                "abstained": int(sum(1 for a in abstained if a == c)),
            }
        )
    return rows


def calibration(probs: np.ndarray, y: Sequence[str], n_bins: int = N_BINS) -> dict[str, Any]:
    """Top-label ECE and reliability curve over ``n_bins`` equal-width confidence bins."""
    probs = np.asarray(probs, dtype=float)
    confidence = np.clip(probs.max(axis=1), 0.0, 1.0)
    truth = np.array([CLASSES.index(c) for c in y])
    correct = (probs.argmax(axis=1) == truth).astype(int)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Same bin assignment as sklearn's calibration_curve(strategy="uniform"), for the counts.
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=n_bins)
    acc, conf = calibration_curve(
        correct, confidence, n_bins=n_bins, strategy="uniform", pos_label=1
    )
    bins, k, ece = [], 0, 0.0
    for b in range(n_bins):
        row = {
            "lower": float(edges[b]),
            "upper": float(edges[b + 1]),
            "count": int(counts[b]),
            "mean_confidence": None,
            "accuracy": None,
        }
        if counts[b]:
            row["mean_confidence"], row["accuracy"] = float(conf[k]), float(acc[k])
            ece += counts[b] / len(y) * abs(acc[k] - conf[k])
            k += 1
        bins.append(row)
    return {
        "ece": float(ece),
        "n_bins": n_bins,
        "mean_confidence": float(confidence.mean()),
        "accuracy": float(correct.mean()),
        "bins": bins,
    }


def _mean_sd(values: list[float | None]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals, ddof=SD_DDOF))


# --- the one entry point ----------------------------------------------------------------------


def evaluate_predictions(
    labels: Sequence[Any],
    probs_or_predictions: Any,
    partitions: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """All metrics for one set of predictions, as a JSON-serialisable dict.

    ``labels``: true classes (names in :data:`CLASSES`, another spelling known to
    :func:`protloc.classes.canonical_label`, or indices into ``CLASSES``).
    ``probs_or_predictions``: an ``(n, 6)`` array of probabilities in ``CLASSES`` order, or
    ``n`` predicted labels where ``None``/``"Unknown"`` means the predictor abstained.
    ``partitions``: fold of each protein (per-fold mean and sd); ``groups``: organism group of
    each protein (breakdown by group). Keys: ``n, n_answered, n_abstained, coverage, overall,
    abstain_as_wrong, per_class, confusion_matrix, per_fold, by_group, calibration``.
    """
    y = [_canonical(c, "label") for c in labels]
    p, probs = _as_predictions(probs_or_predictions)
    if len(p) != len(y):
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    for name, extra in (("partitions", partitions), ("groups", groups)):
        if extra is not None and len(extra) != len(y):
            raise ValueError(f"{len(y)} labels but {len(extra)} {name}")
    if not y:
        raise ValueError("nothing to evaluate: no labels")

    answered = [i for i, q in enumerate(p) if q != ABSTAIN]
    ya, pa = [y[i] for i in answered], [p[i] for i in answered]
    abstained_true = [y[i] for i, q in enumerate(p) if q == ABSTAIN]

    result: dict[str, Any] = {
        "classes": list(CLASSES),
        "n": len(y),
        "n_answered": len(answered),
        "n_abstained": len(y) - len(answered),
        "coverage": len(answered) / len(y),
        "overall": summary_metrics(ya, pa),
        "abstain_as_wrong": _abstain_as_wrong(y, p),
        "per_class": per_class_metrics(ya, pa, abstained_true),
        "confusion_matrix": {
            "rows": "true",
            "columns": "predicted",
            "labels": list(CLASSES),
            "matrix": confusion_matrix(ya, pa, labels=list(CLASSES)).tolist()
            if ya
            else [[0] * len(CLASSES) for _ in CLASSES],
            "abstained_by_true_class": [abstained_true.count(c) for c in CLASSES],
        },
        "per_fold": None,
        "by_group": None,
        "calibration": calibration(probs, y) if probs is not None else None,
    }

    if partitions is not None:
        folds = []
        for part in sorted({str(v) for v in partitions}, key=_fold_key):
            idx = [i for i, v in enumerate(partitions) if str(v) == part]
            folds.append(
                {"partition": _fold_value(part), **_block([y[i] for i in idx], [p[i] for i in idx])}
            )
        mean, sd = {}, {}
        for key in ("accuracy", "macro_f1", "mcc", "coverage"):
            mean[key], sd[key] = _mean_sd([f[key] for f in folds])
        result["per_fold"] = {"folds": folds, "mean": mean, "sd": sd, "sd_ddof": SD_DDOF}

    if groups is not None:
        names = ["unknown" if _is_abstention(g) else str(g) for g in groups]
        result["by_group"] = {
            g: _block(
                [y[i] for i, n in enumerate(names) if n == g],
                [p[i] for i, n in enumerate(names) if n == g],
            )
            for g in sorted(set(names))
        }
    return result


def _fold_key(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _fold_value(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


# --- markdown ---------------------------------------------------------------------------------


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _pm(mean: float | None, sd: float | None) -> str:
    return "–" if mean is None else f"{mean:.3f} ± {sd:.3f}"


def render_summary_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """Side-by-side table: one row per predictor (name -> :func:`evaluate_predictions` result)."""
    lines = [
        "| predictor | n | coverage | accuracy | macro-F1 | MCC "
        "| accuracy (abstain = wrong) | MCC (abstain = wrong) | ECE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        o, w = r["overall"], r["abstain_as_wrong"]
        ece = r["calibration"]["ece"] if r.get("calibration") else None
        lines.append(
            f"| {name} | {r['n']} | {_fmt(r['coverage'])} | {_fmt(o['accuracy'])} "
            f"| {_fmt(o['macro_f1'])} "
            f"| {_fmt(o['mcc'])} | {_fmt(w['accuracy'])} | {_fmt(w['mcc'])} | {_fmt(ece)} |"
        )
    return "\n".join(lines)


def render_markdown(result: Mapping[str, Any], title: str | None = None, level: int = 2) -> str:
    """Markdown report of one :func:`evaluate_predictions` result."""
    h = "#" * level
    out: list[str] = []
    if title:
        out += [f"{h} {title}", ""]
    o = result["overall"]
    out.append(
        f"n = {result['n']}; answered {result['n_answered']} (coverage {result['coverage']:.3f}). "
        f"Accuracy {_fmt(o['accuracy'])}, macro-F1 {_fmt(o['macro_f1'])}, MCC {_fmt(o['mcc'])} "
        "(on answered proteins; scikit-learn; macro-F1 over the classes present)."
    )
    if result["n_abstained"]:
        w = result["abstain_as_wrong"]
        out.append(
            f"Counting the {result['n_abstained']} abstentions as wrong: "
            f"accuracy {_fmt(w['accuracy'])}, "
            f"macro-F1 {_fmt(w['macro_f1'])}, MCC {_fmt(w['mcc'])}."
        )
    out.append("")

    pf = result.get("per_fold")
    if pf:
        out += [
            f"{h}# Per fold",
            "",
            "| fold | n | coverage | accuracy | macro-F1 | MCC |",
            "|---|---|---|---|---|---|",
        ]
        for f in pf["folds"]:
            out.append(
                f"| {f['partition']} | {f['n_total']} | {_fmt(f['coverage'])} "
                f"| {_fmt(f['accuracy'])} "
                f"| {_fmt(f['macro_f1'])} | {_fmt(f['mcc'])} |"
            )
        m, s = pf["mean"], pf["sd"]
        out.append(
            f"| mean ± sd | | {_pm(m['coverage'], s['coverage'])} "
            f"| {_pm(m['accuracy'], s['accuracy'])} "
            f"| {_pm(m['macro_f1'], s['macro_f1'])} | {_pm(m['mcc'], s['mcc'])} |"
        )
        out += [
            "",
            f"sd is the population standard deviation over folds (ddof = {pf['sd_ddof']}).",
            "",
        ]

    out += [
        f"{h}# Per class (one-vs-rest MCC)",
        "",
        "| class | support | predicted | precision | recall | F1 | MCC | abstained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["per_class"]:
        out.append(
            f"| {r['class']} | {r['support']} | {r['n_predicted']} | {_fmt(r['precision'])} "
            f"| {_fmt(r['recall'])} | {_fmt(r['f1'])} | {_fmt(r['mcc'])} | {r['abstained']} |"
        )
    out.append("")

    cm = result["confusion_matrix"]
    show_abstain = any(cm["abstained_by_true_class"])
    head = ["true \\ predicted", *cm["labels"]] + (["(abstained)"] if show_abstain else [])
    out += [
        f"{h}# Confusion matrix (rows true, columns predicted)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for c, row, ab in zip(cm["labels"], cm["matrix"], cm["abstained_by_true_class"]):
        cells = [c, *map(str, row)] + ([str(ab)] if show_abstain else [])
        out.append("| " + " | ".join(cells) + " |")
    out.append("")

    bg = result.get("by_group")
    if bg:
        out += [
            f"{h}# By organism group",
            "",
            "| group | n | coverage | accuracy | macro-F1 | MCC |",
            "|---|---|---|---|---|---|",
        ]
        for g, r in bg.items():
            out.append(
                f"| {g} | {r['n_total']} | {_fmt(r['coverage'])} | {_fmt(r['accuracy'])} "
                f"| {_fmt(r['macro_f1'])} | {_fmt(r['mcc'])} |"
            )
        out.append("")

    cal = result.get("calibration")
    if cal:
        out += [
            f"{h}# Calibration",
            "",
            f"Top-label ECE ({cal['n_bins']} equal-width confidence bins): {cal['ece']:.4f}; "
            f"mean confidence {cal['mean_confidence']:.3f}, accuracy {cal['accuracy']:.3f}.",
            "",
            "| confidence bin | count | mean confidence | accuracy |",
            "|---|---|---|---|",
        ]
        for b in cal["bins"]:
            if b["count"]:
                out.append(
                    f"| {b['lower']:.3f}–{b['upper']:.3f} | {b['count']} "
                    f"| {_fmt(b['mean_confidence'])} | {_fmt(b['accuracy'])} |"
                )
        out.append("")
    return "\n".join(out)
