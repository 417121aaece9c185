"""Real-data checks of the dataset build (need PROTLOC_DATA; the full build is opt-in)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from protloc.classes import CLASSES

DATA = os.environ.get("PROTLOC_DATA")
pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(not DATA, reason="PROTLOC_DATA is unset: the real source files are needed"),
]


def test_all_benchmark_proteins_are_candidates_in_their_deeplocpro_partition(tmp_path):
    from protloc.dataset import sources as S
    from protloc.dataset.merge import apply_length_policy, merge_entries
    from protloc.reference import benchmark_reference, deeplocpro_partitions

    data = Path(DATA)
    parts = deeplocpro_partitions(data)
    loaded = S.load_sources(data, S.SOURCES, tmp_path, fetch_psortb=False)
    proteins, _ = merge_entries([e for s in loaded for e in s.entries], parts)
    proteins, _ = apply_length_policy(proteins)
    bench = {p.id: p for p in proteins if p.in_benchmark}
    ref = benchmark_reference(data)
    assert len(bench) == 1131
    for row in ref.itertuples():
        p = bench[row.id]
        assert p.anchor == row.partition and p.label == row.label and p.group == row.group
    assert len(proteins) >= 12000
    assert {p.label for p in proteins} == set(CLASSES)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("PROTLOC_FULL_BUILD") != "1",
                    reason="the full build takes 10-15 minutes on 2 cores: set PROTLOC_FULL_BUILD=1 to run it")
@pytest.mark.skipif(shutil.which("mmseqs") is None, reason="the mmseqs binary is not installed")
def test_full_build(tmp_path):
    from protloc.dataset.build import build_dataset
    from protloc.reference import benchmark_reference

    res = build_dataset(tmp_path / "out", data_dir=DATA, threads=2)
    ds = res.dataset
    assert res.check_passed
    assert len(ds) >= 12000 and set(ds["label"]) == set(CLASSES)
    bench = ds[ds["in_benchmark"]].set_index("id")["partition"]
    ref = benchmark_reference(DATA).set_index("id")["partition"]
    assert len(bench) == 1131 and (bench.loc[ref.index] == ref).all()
    assert pd.read_csv(tmp_path / "out" / "removed.tsv", sep="\t").shape[0] > 0
