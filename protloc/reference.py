"""DeepLocPro as a reference: its benchmark proteins, partitions and held-out predictions.

Reads a data folder laid out like ``$PROTLOC_DATA`` (see ``docs/datasheet.md``)::

    deeplocpro/benchmarking_dataset.fasta          >ACC|Location|group, one line of sequence
    deeplocpro/deeplocpro_heldout/model_T_V.csv    held-out softmax of the model tested on
                                                   fold T and validated on fold V

Every DeepLocPro accession occurs in the 4 files ``model_T_*.csv`` of its GraphPart partition T,
so the file names give the partition of all 11,906 DeepLocPro proteins. The reference prediction
of a protein is the mean of those 4 inner models' probabilities, reordered into
:data:`protloc.classes.CLASSES` order, with DeepLocPro's organism-group rule applied
(:func:`protloc.classes.apply_group_rule`). On the 1,131 benchmark proteins this gives accuracy
0.777, macro-F1 0.733 and MCC 0.716 (scikit-learn metrics).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .classes import (
    CLASSES,
    DEEPLOCPRO_ORDER,
    apply_group_rule,
    canonical_group,
    canonical_label,
    from_deeplocpro_order,
)
from .errors import UserError

BENCHMARK_FASTA = Path("deeplocpro") / "benchmarking_dataset.fasta"
HELDOUT_DIR = Path("deeplocpro") / "deeplocpro_heldout"
_HELDOUT_NAME = re.compile(r"^model_(\d+)_(\d+)\.csv$")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir`` if given, else ``$PROTLOC_DATA``; raises UserError if neither."""
    if data_dir is None or str(data_dir) == "":
        env = os.environ.get("PROTLOC_DATA", "")
        if not env:
            raise UserError(
                "no data folder: pass --data-dir PATH or set PROTLOC_DATA "
                "(a folder holding deeplocpro/ and extra/, e.g. PROTLOC_DATA=/work/shared/data)."
            )
        data_dir = env
    path = Path(data_dir)
    if not path.is_dir():
        raise UserError(f"data folder {str(path)!r} does not exist or is not a folder.")
    return path


@dataclass(frozen=True)
class BenchmarkProtein:
    accession: str
    label: str  # canonical class
    group: str  # negative | positive | archaea
    sequence: str
    raw_label: str


def parse_benchmark_fasta(text: str) -> list[BenchmarkProtein]:
    """Parse DeepLocPro's ``benchmarking_dataset.fasta`` (``>ACC|Location|group``)."""
    out: list[BenchmarkProtein] = []
    header: str | None = None
    chunks: list[str] = []

    def flush() -> None:
        if header is None:
            return
        parts = header.split("|")
        if len(parts) < 3:
            raise ValueError(f"benchmark header {header!r} is not ACC|Location|group")
        acc, raw_label, raw_group = parts[0].strip(), parts[1].strip(), parts[2].strip()
        label = canonical_label(raw_label)
        if label is None:
            raise ValueError(f"benchmark protein {acc}: unknown location {raw_label!r}")
        out.append(
            BenchmarkProtein(
                accession=acc,
                label=label,
                group=canonical_group(raw_group),
                sequence="".join(chunks).replace(" ", "").upper(),
                raw_label=raw_label,
            )
        )

    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            flush()
            header, chunks = line[1:], []
        else:
            chunks.append(line)
    flush()
    return out


def load_benchmark(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Benchmark proteins: columns ``id, label, group, sequence`` in file order."""
    path = resolve_data_dir(data_dir) / BENCHMARK_FASTA
    if not path.is_file():
        raise UserError(f"DeepLocPro benchmark FASTA not found at {str(path)!r}.")
    recs = parse_benchmark_fasta(path.read_text())
    return pd.DataFrame(
        {
            "id": [r.accession for r in recs],
            "label": [r.label for r in recs],
            "group": [r.group for r in recs],
            "sequence": [r.sequence for r in recs],
        }
    )


def heldout_files(data_dir: str | os.PathLike | None = None) -> list[tuple[int, int, Path]]:
    """``(test_fold, val_fold, path)`` for every ``model_T_V.csv``, sorted."""
    folder = resolve_data_dir(data_dir) / HELDOUT_DIR
    if not folder.is_dir():
        raise UserError(f"DeepLocPro held-out folder not found at {str(folder)!r}.")
    found = []
    for path in folder.iterdir():
        m = _HELDOUT_NAME.match(path.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), path))
    if not found:
        raise UserError(f"no model_T_V.csv files in {str(folder)!r}.")
    return sorted(found)


def read_heldout_csv(path: str | os.PathLike) -> pd.DataFrame:
    """One held-out CSV: index = accession, columns in DeepLocPro's order."""
    df = pd.read_csv(path, index_col=0)
    df.index = df.index.astype(str)
    df.index.name = "id"
    missing = [c for c in DEEPLOCPRO_ORDER if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing DeepLocPro columns {missing}")
    return df[list(DEEPLOCPRO_ORDER)].astype(float)


def load_heldout(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """All held-out rows: columns ``id, test_fold, val_fold`` + DeepLocPro's 6 columns."""
    frames = []
    for test, val, path in heldout_files(data_dir):
        df = read_heldout_csv(path).reset_index()
        df.insert(1, "test_fold", test)
        df.insert(2, "val_fold", val)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def partitions_from_heldout(heldout: pd.DataFrame) -> dict[str, int]:
    """Accession -> GraphPart partition (the test fold of its held-out files).

    Raises ValueError if an accession is held out under two different test folds.
    """
    folds = heldout.groupby("id")["test_fold"].agg(["min", "max"])
    bad = folds[folds["min"] != folds["max"]]
    if len(bad):
        raise ValueError(f"{len(bad)} accessions occur under several test folds, e.g. {bad.index[0]}")
    return {str(k): int(v) for k, v in folds["min"].sort_index().items()}


def deeplocpro_partitions(data_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """GraphPart partition (0-4) of every DeepLocPro accession, from the held-out file names."""
    return partitions_from_heldout(load_heldout(data_dir))


def mean_heldout_probabilities(heldout: pd.DataFrame) -> pd.DataFrame:
    """Mean over inner models per accession, in :data:`CLASSES` order (columns = CLASSES)."""
    mean = heldout.groupby("id")[list(DEEPLOCPRO_ORDER)].mean().sort_index()
    probs = from_deeplocpro_order(mean.to_numpy())
    return pd.DataFrame(probs, index=mean.index, columns=list(CLASSES))


def heldout_probabilities(
    data_dir: str | os.PathLike | None = None,
    groups: dict[str, str] | None = None,
) -> pd.DataFrame:
    """DeepLocPro's held-out probabilities (mean of the 4 inner models), ``CLASSES`` columns.

    If ``groups`` (accession -> organism group) is given, DeepLocPro's group rule is applied
    per protein; accessions missing from ``groups`` are left unchanged.
    """
    probs = mean_heldout_probabilities(load_heldout(data_dir))
    if groups:
        arr = probs.to_numpy().copy()
        for i, acc in enumerate(probs.index):
            g = groups.get(acc)
            if g is not None:
                arr[i] = apply_group_rule(arr[i], g)
        probs = pd.DataFrame(arr, index=probs.index, columns=probs.columns)
    return probs


def benchmark_reference(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """DeepLocPro's reference predictions on the benchmark proteins, in benchmark-file order.

    Columns: ``id, label, group, partition, prediction`` and one probability column per class
    (``CLASSES`` names), after the organism-group rule of the benchmark group.
    """
    bench = load_benchmark(data_dir)
    heldout = load_heldout(data_dir)
    parts = partitions_from_heldout(heldout)
    probs = mean_heldout_probabilities(heldout)
    missing = [a for a in bench["id"] if a not in probs.index]
    if missing:
        raise ValueError(f"{len(missing)} benchmark proteins lack held-out predictions, e.g. {missing[0]}")
    arr = probs.loc[bench["id"]].to_numpy()
    arr = np.stack([apply_group_rule(p, g) for p, g in zip(arr, bench["group"])])
    out = bench[["id", "label", "group"]].copy()
    out["partition"] = [parts[a] for a in bench["id"]]
    out["prediction"] = [CLASSES[i] for i in arr.argmax(axis=1)]
    for j, c in enumerate(CLASSES):
        out[c] = arr[:, j]
    return out.reset_index(drop=True)


def reference_metrics(reference: pd.DataFrame) -> dict[str, float]:
    """n, accuracy, macro-F1 and MCC of a frame with ``label`` and ``prediction``
    (:func:`protloc.metrics.summary_metrics`)."""
    from .metrics import summary_metrics

    return summary_metrics(reference["label"].tolist(), reference["prediction"].tolist())
