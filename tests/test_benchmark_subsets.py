"""scripts/benchmark_subsets.py: both tools' figures on an accession series and on the rest."""

import io
from contextlib import redirect_stdout

import numpy as np
import pandas as pd

from protloc.classes import CLASSES, COLUMN_NAMES
from protloc.dataset.synthetic import write_synthetic_data_dir
from protloc.reference import benchmark_reference
from scripts.benchmark_subsets import main


def test_series_and_rest_split_the_benchmark(tmp_path):
    shared = tmp_path / "shared"
    write_synthetic_data_dir(shared)
    reference = benchmark_reference(shared)
    (tmp_path / "data").mkdir()
    reference.assign(in_benchmark=True)[["id", "group", "in_benchmark"]].to_csv(tmp_path / "data" / "dataset.tsv", sep="\t", index=False)
    # our held-out calls: right on every protein but the first
    calls = list(reference["label"])
    calls[0] = "Extracellular" if calls[0] != "Extracellular" else "Cytoplasmic"
    held = pd.DataFrame({"id": reference["id"]})
    for c in CLASSES:
        held[COLUMN_NAMES[c]] = [1.0 if x == c else 0.0 for x in calls]
    (tmp_path / "ckpt").mkdir()
    held.to_csv(tmp_path / "ckpt" / "heldout.csv", index=False)
    prefix = reference["id"][0]  # a series of one: the protein we get wrong
    series = reference["id"].str.startswith(prefix).to_numpy()
    out = io.StringIO()
    with redirect_stdout(out):
        assert main([str(tmp_path / "data"), str(tmp_path / "ckpt"), "--prefix", prefix,
                     "--data-dir", str(shared)]) == 0
    text = out.getvalue()
    theirs = (reference["prediction"] == reference["label"]).to_numpy()
    ours = np.array([c == y for c, y in zip(calls, reference["label"])])
    assert f"| {prefix}… | {series.sum()} | {ours[series].mean():.3f} | {theirs[series].mean():.3f} |" in text
    assert f"| the others | {(~series).sum()} | 1.000 | {theirs[~series].mean():.3f} |" in text
    assert f"| all | {len(reference)} | {ours.mean():.3f} |" in text
