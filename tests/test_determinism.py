"""Determinism on CPU: the same input gives the same output, run to run and batch vs one by one.

Run to run the files are identical byte for byte. Batched and one-by-one predictions agree to
1e-6 and give the same result table, but not bit for bit: a padded batch runs the same sums in
another order (about 1e-8 apart), so the library promises equality at the written precision.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthetic
from pages import examples
from protloc.output import prediction_rows
from protloc.predictor import EnsemblePredictor
from protloc.sequences import parse_text

ROOT = Path(__file__).resolve().parent.parent
#: The six examples, two short proteins, and two records that cannot be predicted.
FASTA = "\n".join(e.fasta() for e in examples.EXAMPLES.values()) + (
    "\n>short\nMKKLLIAVAALSAAQ\n>dna\n" + "ACGT" * 20
    + "\n>tiny\nMKV\n>frag\nMSTNPKPQRKTKRNTNRRPQDVKF\n"
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return synthetic.write_random_checkpoint(tmp_path_factory.mktemp("det") / "ckpt", folds=5)


#: What ``protloc predict -p`` writes per format (README "Command line"): the results, then the
#: completion marker run.json. One folder holds one run, so each format gets its own folder.
OUTPUTS = {"csv": ["results.csv", "attention.json", "run.json"],
           "json": ["results.json", "run.json"]}


def predict_in_fresh_process(checkpoint: Path, fasta: Path, out: Path, hash_seed: str) -> None:
    # One thread, as in this test process (conftest): on a busy machine several torch threads
    # only wait for each other.
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    for fmt in OUTPUTS:
        subprocess.run(
            [sys.executable, "-m", "protloc.cli", "predict", "-f", str(fasta), "-o",
             str(out / fmt), "-m", str(checkpoint), "--format", fmt, "-p"],
            check=True, capture_output=True, env=env, cwd=ROOT, timeout=300,
        )


@pytest.mark.slow
def test_two_fresh_processes_write_identical_files(checkpoint, tmp_path) -> None:
    fasta = tmp_path / "in.fasta"
    fasta.write_text(FASTA)
    runs = [tmp_path / "run1", tmp_path / "run2"]
    for out, seed in zip(runs, ("1", "2")):
        predict_in_fresh_process(checkpoint, fasta, out, seed)
    for fmt, names in OUTPUTS.items():
        for run in runs:
            assert sorted(p.name for p in (run / fmt).iterdir()) == sorted(names), (run, fmt)
        for name in names:  # run.json too: it lists each file's size and SHA-256
            first, second = ((run / fmt / name).read_bytes() for run in runs)
            assert first == second, (fmt, name)
    assert b'"Attention"' in (runs[0] / "json" / "results.json").read_bytes()
    assert b'"Attention"' in (runs[0] / "csv" / "attention.json").read_bytes()


def test_batch_and_one_by_one_give_the_same_table(checkpoint) -> None:
    predictor = EnsemblePredictor.from_dir(checkpoint)
    records = parse_text(FASTA)
    together = predictor.predict(records, attention=True)
    alone = [predictor.predict([r], attention=True)[0] for r in records]
    shuffled = list(range(len(records)))
    random.Random(0).shuffle(shuffled)
    reordered = predictor.predict([records[i] for i in shuffled], attention=True)
    mixed = [None] * len(records)
    for position, i in enumerate(shuffled):
        mixed[i] = reordered[position]

    table = prediction_rows(records, together)
    assert table["Localization"].notna().sum() == 8  # 8 predictable records, 2 errors
    for other in (alone, mixed):
        pd.testing.assert_frame_equal(prediction_rows(records, other), table)
        for a, b in zip(together, other):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=0, atol=1e-6)
                np.testing.assert_allclose(a.spread, b.spread, rtol=0, atol=1e-6)
                np.testing.assert_allclose(a.attention, b.attention, rtol=0, atol=1e-6)
