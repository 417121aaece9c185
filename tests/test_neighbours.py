"""Homology evidence: nearest labelled proteins in a shipped reference set (pyswrd)."""

import numpy as np
import pytest

pytest.importorskip("pyswrd", reason="pyswrd is not installed")

from protloc.neighbours import ReferenceSet, nearest, read_reference, write_reference  # noqa: E402

AMINO = "ACDEFGHIKLMNPQRSTVWY"


def _random(rng, n):
    return "".join(rng.choice(list(AMINO), n))


@pytest.fixture
def reference():
    rng = np.random.default_rng(0)
    seqs = [_random(rng, 150) for _ in range(20)]
    return ReferenceSet([f"R{i}" for i in range(20)], ["Cytoplasmic"] * 10 + ["Outer membrane"] * 10,
                        ["psortb"] * 20, seqs)


def test_a_mutated_copy_finds_its_source_first(reference):
    rng = np.random.default_rng(1)
    query = list(reference.sequences[13])
    for i in rng.choice(len(query), 15, replace=False):  # 90 % identity
        query[i] = "W" if query[i] != "W" else "A"
    (hits,) = nearest(["".join(query)], reference)
    assert hits[0].id == "R13" and hits[0].label == "Outer membrane"
    assert 0.85 <= hits[0].identity <= 0.95 and hits[0].coverage > 0.95


def test_unrelated_query_has_no_neighbours(reference):
    (hits,) = nearest([_random(np.random.default_rng(5), 150)], reference)
    assert hits == []


def test_a_fold_searches_only_what_it_is_given(reference):
    keep = [i != 13 for i in range(len(reference))]
    (hits,) = nearest([reference.sequences[13]], reference.subset(keep))
    assert all(h.id != "R13" for h in hits)


def test_reference_file_round_trip_is_byte_stable(reference, tmp_path):
    a, b = tmp_path / "a.fasta.gz", tmp_path / "b.fasta.gz"
    for path in (a, b):
        write_reference(path, reference.ids, reference.labels, reference.sources, reference.sequences)
    assert a.read_bytes() == b.read_bytes()
    back = read_reference(a)
    assert back.labels == reference.labels and back.sequences == reference.sequences
