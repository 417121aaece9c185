"""Prediction tables and files: one row per input record, in input order, errors included.

CSV files are opened in spreadsheets, which run a cell that begins with ``= + - @`` (or a tab
or carriage return) as a formula. As OWASP's CSV-injection guidance recommends, such text cells
are written with a leading single quote; a cell that already begins with a quote gets one more,
so the rule can be undone exactly. :func:`read_results_csv` undoes it (pandas with plain
``read_csv`` sees the quote). JSON outputs hold the values unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .classes import CLASSES, COLUMN_NAMES
from .files import prepare_output_dir, write_run
from .predictor import Prediction
from .sequences import SequenceRecord

PROB_COLUMNS = [COLUMN_NAMES[c] for c in CLASSES]
COLUMNS = ["ID", "Localization", *PROB_COLUMNS, "Confidence", "FoldSpread", "Warnings", "Error"]
TEXT_COLUMNS = ["ID", "Localization", "Warnings", "Error"]
NUMBER_COLUMNS = [c for c in COLUMNS if c not in TEXT_COLUMNS]

#: First characters that make a spreadsheet treat a cell as a formula, plus the quote itself.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def prediction_rows(
    records: Sequence[SequenceRecord],
    predictions: Sequence[Prediction | None],
    groups: str | Sequence[str] | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """One row per record; with ``groups`` (one for all, or one per record) and ``model``,
    ``Group`` and ``Model`` columns are added after ``Error``."""
    rows = [_row(r, p) for r, p in zip(records, predictions, strict=True)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if groups is not None:
        table["Group"] = [groups] * len(table) if isinstance(groups, str) else list(groups)
    if model is not None:
        table["Model"] = model
    return table


def _row(record: SequenceRecord, pred: Prediction | None) -> dict[str, Any]:
    if pred is None:
        return {"ID": record.id, "Error": " ".join(record.messages) or "not predicted"}
    row: dict[str, Any] = {"ID": record.id, "Localization": pred.localization}
    for column, p in zip(PROB_COLUMNS, pred.probabilities):
        row[column] = round(float(p), 4)
    row["Confidence"] = round(pred.confidence, 4)
    row["FoldSpread"] = round(pred.fold_spread, 4)
    row["Warnings"] = " ".join(pred.warnings)
    row["Error"] = ""
    return row


def prediction_json(
    records: Sequence[SequenceRecord],
    predictions: Sequence[Prediction | None],
    model_name: str,
    group: str,
    groups: Sequence[str] | None = None,
    compact: bool = False,
) -> dict[str, Any]:
    """The JSON document: table fields plus fold detail and attention when it was computed.

    ``groups`` (one per record) adds ``Group`` and ``Model`` to every item. ``compact``
    stores attention as :func:`compact_attention` does (about 5x smaller)."""
    table = prediction_rows(records, predictions, groups, model_name if groups else None)
    items = []
    for record, pred, row in zip(records, predictions, table.to_dict("records")):
        item = {k: (None if pd.isna(v) else v) for k, v in row.items()}
        item["Length"] = len(record.sequence)
        item["Status"] = record.status
        if pred is not None:
            item["FoldPredictions"] = pred.fold_predictions
            item["Spread"] = {COLUMN_NAMES[c]: float(s) for c, s in zip(CLASSES, pred.spread)}
            if pred.attention is not None and compact:
                item["Attention"] = compact_attention(pred.attention)
            elif pred.attention is not None:
                item["Attention"] = {
                    "heads": pred.attention.round(5).tolist(),
                    "mean": pred.attention.mean(axis=0).round(5).tolist(),
                }
        items.append(item)
    return {"model": model_name, "organism_group": group, "classes": list(CLASSES), "results": items}


def compact_attention(attention: Any) -> dict[str, Any]:
    """Per-residue attention (heads, length) as integers: each head scaled to its own maximum
    and rounded to 0-255, so ``value = q / 255 * scale[head]`` (error under 0.2% of the head's
    peak). The mean over heads is left out: it is the mean of the decoded heads."""
    import numpy as np

    att = np.asarray(attention, dtype=float)
    scale = np.maximum(att.max(axis=1), 1e-12)
    quantised = np.rint(att / scale[:, None] * 255).astype(int)
    return {
        "encoding": "uint8 per head: value = q / 255 * scale[head]",
        "scale": [float(f"{s:.6g}") for s in scale],
        "heads": quantised.tolist(),
    }


def neutralise_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, prefixed with a single quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV with every text cell neutralised (see the module docstring)."""
    safe = table.copy()
    for column in safe.columns[safe.dtypes == object]:
        safe[column] = safe[column].map(neutralise_cell)
    return safe.to_csv(index=False)


def read_results_csv(path_or_buffer: Any) -> pd.DataFrame:
    """A results CSV as written by protloc, with the neutralising quote removed: IDs and
    messages exactly as in the input; probabilities as floats (NaN on error rows)."""
    table = pd.read_csv(path_or_buffer, dtype=str, keep_default_na=False)
    for column in table.columns:
        if column in NUMBER_COLUMNS:
            table[column] = pd.to_numeric(table[column].replace("", None), errors="coerce")
        else:
            table[column] = table[column].map(_restore_cell)
    return table


def _restore_cell(value: str) -> str:
    return value[1:] if value.startswith("'") else value


def result_files(
    records: Sequence[SequenceRecord],
    predictions: Sequence[Prediction | None],
    fmt: str,
    model_name: str,
    group: str,
    attention: bool = False,
) -> dict[str, bytes]:
    """The files of one prediction run, by name: ``results.csv`` or ``results.json``, and
    ``attention.json`` when attention was asked for with CSV."""
    if fmt == "csv":
        files = {"results.csv": csv_text(prediction_rows(records, predictions)).encode("utf-8")}
        if attention:
            doc = prediction_json(records, predictions, model_name, group)
            files["attention.json"] = (json.dumps(doc) + "\n").encode("utf-8")
        return files
    doc = prediction_json(records, predictions, model_name, group)
    return {"results.json": (json.dumps(doc, indent=1) + "\n").encode("utf-8")}


def write_predictions(
    out_dir: Path,
    records: Sequence[SequenceRecord],
    predictions: Sequence[Prediction | None],
    fmt: str,
    model_name: str,
    group: str,
    attention: bool = False,
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Write a run's result files and its completion marker (``protloc.files.write_run``);
    returns the path of the main results file."""
    files = result_files(records, predictions, fmt, model_name, group, attention)
    predicted = sum(p is not None for p in predictions)
    summary = {"model": model_name, "organism_group": group, "records": len(records),
               "predicted": predicted, **(info or {})}
    write_run(prepare_output_dir(out_dir), files, summary)
    return Path(out_dir) / next(iter(files))
