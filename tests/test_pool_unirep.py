"""scripts/pool_unirep.py: resumable pooled UniRep states in the dataset's order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from protloc.embedders.unirep import UniRepEmbedder

ROOT = Path(__file__).resolve().parent.parent
SEQUENCES = ["MKKLLPTAAAGLLLLAAQPAMA", "MSTNPKPQRK", "MAEIGKRVLVTGAGGFIGS", "MKR", "MLLLLLLAAAVVVK"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "pool_unirep.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)


def test_chunks_resume_and_combine_in_dataset_order(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ids = [f"p{i}" for i in range(len(SEQUENCES))]
    pd.DataFrame({"id": ids, "sequence": SEQUENCES}).to_csv(data / "dataset.tsv", sep="\t",
                                                            index=False)
    out = tmp_path / "out"
    common = [str(data), str(out), "--size", "64", "--chunk", "2"]
    assert run(*common, "--combine").returncode == 1  # nothing there yet: says so, fails
    first = run(*common, "--part", "0/2")
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in out.glob("chunk_*.npz")) == ["chunk_00000.npz", "chunk_00002.npz"]
    stamp = (out / "chunk_00000.npz").stat().st_mtime_ns
    assert run(*common).returncode == 0  # resumes: only the missing chunk is computed
    assert (out / "chunk_00000.npz").stat().st_mtime_ns == stamp
    assert run(*common, "--combine").returncode == 0
    pooled = np.load(out / "pooled.npz")
    assert pooled["ids"].tolist() == ids
    expected = UniRepEmbedder(size=64).reps(SEQUENCES)
    for name, want in zip(("h_avg", "h_final", "c_final"), expected):
        np.testing.assert_allclose(pooled[name], want, atol=1e-5)
