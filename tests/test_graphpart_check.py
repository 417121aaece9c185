"""GraphPart's criterion (NW identity over all alignment columns) and the check built on it."""

import random

import pytest

pytest.importorskip("pyswrd")

from protloc.dataset.graphpart_check import (clean, cross_partition_pairs_nw, graphpart_identity,
                                             local_bound, nw_counts, sound_bound)


def test_identical_sequences_give_one():
    s = "MKKLLPTAAAGLLLLAAQPAMA"
    assert nw_counts(s, s) == (len(s), len(s))
    assert graphpart_identity(s, s) == 1.0


def test_end_gaps_are_free_but_count_as_columns():
    # WWW aligns to WWW (W-W = 11; A-W = -3), the three As are a free end gap:
    # 3 identities over 6 columns. GraphPart's 'full' gives 0.5 ('shortest' would give 1.0).
    assert nw_counts("AAAWWW", "WWW") == (3, 6)
    assert graphpart_identity("AAAWWW", "WWW") == 0.5
    # Leading and trailing end gaps on different sequences: MK- - WWWW - - PE: 4 of 8.
    assert nw_counts("MKWWWW", "WWWWPE") == (4, 8)
    # Free end gaps change the alignment: gapped K----WWWW-/-WWWWE scores 44 (penalised:
    # 44 - 2 * 10.5 = 23), ungapped KWWWW/WWWWE scores 33 - 3 - 3 = 27.
    assert nw_counts("KWWWW", "WWWWE") == (4, 6)


def test_mismatch_is_cheaper_than_a_gap_pair():
    # W-C scores -2; two gaps would cost 20: one mismatch column, 4 identities of 5.
    assert nw_counts("WWWWW", "WWCWW") == (4, 5)
    assert graphpart_identity("WWWWW", "WWCWW") == pytest.approx(0.8)


def test_internal_gap_opens_at_ten_and_extends_at_half():
    # Deleting PPP from the middle costs 10 + 2 * 0.5 = 11, less than mismatching the tail
    # (scores of W/C against P and shifts): 10 identities over 13 columns.
    a = "WCWCWPPPCWCWC"
    b = "WCWCWCWCWC"
    assert nw_counts(a, b) == (10, 13)


def test_unknown_letters_become_x():
    assert clean("acuo*") == "ACXXX"
    assert graphpart_identity("MKUL", "MKUL") == 1.0


def test_bounds():
    assert sound_bound("AAAA", "A" * 14) == pytest.approx(4 / 14)
    assert sound_bound("ACDE", "WWWW") == 0.0  # no shared residue: no identity possible
    # hit covering 10..19 of a 30-aa query and 0..9 of a 40-aa target, 8 identities:
    # flanks allow min(10, 0) + min(10, 30) more, over at least 40 columns.
    assert local_bound(8, 10, 19, 0, 9, 30, 40) == pytest.approx(18 / 40)


def _mutate(rng, seq, frac):
    aa = "ACDEFGHIKLMNPQRSTVWY"
    out = list(seq)
    for k in rng.sample(range(len(seq)), int(frac * len(seq))):
        out[k] = rng.choice([c for c in aa if c != out[k]])
    return "".join(out)


def test_check_finds_cross_partition_pair_not_same_partition_pair():
    rng = random.Random(7)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    rand = lambda n: "".join(rng.choice(aa) for _ in range(n))  # noqa: E731
    fam_a, fam_b = rand(220), rand(180)
    rows = [
        {"id": "A1", "sequence": fam_a, "partition": 0, "in_benchmark": "True"},
        {"id": "A2", "sequence": _mutate(rng, fam_a, 0.4), "partition": 1, "in_benchmark": "False"},
        {"id": "B1", "sequence": fam_b, "partition": 2, "in_benchmark": "False"},
        {"id": "B2", "sequence": _mutate(rng, fam_b, 0.3), "partition": 2, "in_benchmark": "False"},
    ]
    rows += [{"id": f"R{k}", "sequence": rand(rng.randint(150, 300)), "partition": k % 5,
              "in_benchmark": "False"} for k in range(40)]
    pairs = cross_partition_pairs_nw(rows, threshold=0.30, threads=1)
    assert [(p.a, p.b) for p in pairs] == [("A1", "A2")]
    p = pairs[0]
    assert (p.partition_a, p.partition_b) == ("0", "1")
    assert p.bench_a and not p.bench_b and not p.exempt
    assert p.identity == pytest.approx(graphpart_identity(rows[0]["sequence"], rows[1]["sequence"]))
    assert 0.5 < p.identity < 0.7  # 40% of positions mutated, a few back to chance identity
    assert cross_partition_pairs_nw(rows, threshold=0.30, threads=2) == pairs  # 2 NW processes
    # Same pair reaches 0.30 when both sit in one partition: nothing to report.
    rows[1]["partition"] = 0
    assert cross_partition_pairs_nw(rows, threshold=0.30, threads=1) == []


@pytest.mark.skipif(__import__("shutil").which("needle") is None, reason="EMBOSS needle not installed")
def test_matches_emboss_needle(tmp_path):
    import re
    import subprocess

    rng = random.Random(3)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    a = "".join(rng.choice(aa) for _ in range(120))
    b = "MKT" + _mutate(rng, a[10:100], 0.5) + "GGSW"
    (tmp_path / "a.fa").write_text(f">a\n{a}\n")
    (tmp_path / "b.fa").write_text(f">b\n{b}\n")
    out = subprocess.run(["needle", "-auto", "-stdout", "-gapopen", "10", "-gapextend", "0.5",
                          "-datafile", "EBLOSUM62", "-asequence", str(tmp_path / "a.fa"),
                          "-bsequence", str(tmp_path / "b.fa")],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"# Identity:\s+(\d+)/(\d+)", out)
    assert nw_counts(a, b) == (int(m[1]), int(m[2]))
