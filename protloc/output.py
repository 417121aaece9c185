"""Prediction tables and files: one row per input record, in input order, errors included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .classes import CLASSES, COLUMN_NAMES
from .predictor import Prediction
from .sequences import SequenceRecord

PROB_COLUMNS = [COLUMN_NAMES[c] for c in CLASSES]
COLUMNS = ["ID", "Localization", *PROB_COLUMNS, "Confidence", "FoldSpread", "Warnings", "Error"]


def prediction_rows(
    records: Sequence[SequenceRecord], predictions: Sequence[Prediction | None]
) -> pd.DataFrame:
    rows = [_row(r, p) for r, p in zip(records, predictions, strict=True)]
    return pd.DataFrame(rows, columns=COLUMNS)


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
) -> dict[str, Any]:
    """The JSON document: table fields plus fold detail and attention when it was computed."""
    table = prediction_rows(records, predictions)
    items = []
    for record, pred, row in zip(records, predictions, table.to_dict("records")):
        item = {k: (None if pd.isna(v) else v) for k, v in row.items()}
        item["Length"] = len(record.sequence)
        item["Status"] = record.status
        if pred is not None:
            item["FoldPredictions"] = pred.fold_predictions
            item["Spread"] = {COLUMN_NAMES[c]: float(s) for c, s in zip(CLASSES, pred.spread)}
            if pred.attention is not None:
                item["Attention"] = {
                    "heads": pred.attention.round(5).tolist(),
                    "mean": pred.attention.mean(axis=0).round(5).tolist(),
                }
        items.append(item)
    return {"model": model_name, "organism_group": group, "classes": list(CLASSES), "results": items}


def write_predictions(
    out_dir: Path,
    records: Sequence[SequenceRecord],
    predictions: Sequence[Prediction | None],
    fmt: str,
    model_name: str,
    group: str,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path = out_dir / "results.csv"
        prediction_rows(records, predictions).to_csv(path, index=False)
    else:
        path = out_dir / "results.json"
        doc = prediction_json(records, predictions, model_name, group)
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path
