"""protloc.regions: the hydropathy table, membrane segments, signal peptides, attention windows."""

from __future__ import annotations

import numpy as np
import pytest

from pages import examples
from protloc import regions


def test_window_means_and_centred_hydropathy():
    np.testing.assert_allclose(regions.window_means(np.arange(5.0), 2), [0.5, 1.5, 2.5, 3.5])
    assert len(regions.window_means(np.ones(3), 5)) == 0
    kd = regions.hydropathy("IIIIIRRRRR", window=3)
    assert len(kd) == 10
    assert kd[0] == pytest.approx(4.5)  # truncated window at the N-terminus: I, I
    assert kd[4] == pytest.approx((4.5 + 4.5 - 4.5) / 3)  # I I R
    assert kd[-1] == pytest.approx(-4.5)
    assert len(regions.hydropathy("MK", window=9)) == 2
    assert regions.hydropathy_values("X")[0] == 0.0 == regions.hydropathy_values("B")[0]


def test_one_hydropathy_table_everywhere():
    """features, motifs and evidence read the table of protloc.regions (none keeps its own)."""
    from pathlib import Path

    import protloc

    pkg = Path(protloc.__file__).parent
    holders = [
        p.relative_to(pkg).as_posix()
        for p in pkg.rglob("*.py")
        if "I=4.5" in p.read_text().replace(" ", "") or '"I":4.5' in p.read_text().replace(" ", "")
    ]
    assert holders == ["regions.py"]


def test_motifs_block_marks_the_centres_of_the_app_segments():
    """The motifs block and the app's lanes use one membrane rule: every segment the app draws
    holds the motif columns' centres, and the motif count is the app's segments past residue 30."""
    from protloc.embedders.motifs import MOTIF_NAMES, motif_features

    for example in examples.EXAMPLES.values():
        seq = example.sequence
        motifs = motif_features(seq)
        centres = motifs[:, MOTIF_NAMES.index("tm")].astype(bool)
        segments = regions.transmembrane_segments(seq)
        drawn = np.zeros(len(seq), dtype=bool)
        for tm in segments:
            drawn[tm.start - 1 : tm.end] = True
            assert centres[tm.start - 1 : tm.end].any()
        assert (drawn | ~centres).all()  # every centre lies in a drawn segment
        late = sum(1 for f, _ in regions.runs(centres) if f >= regions.SIGNAL_REGION)
        assert motifs[0, MOTIF_NAMES.index("tm_segments")] == pytest.approx(min(late / 4, 2))
        assert len(segments) == len(regions.runs(centres))


def test_lacy_membrane_residues_agree_between_lanes_and_features():
    lacy = examples.EXAMPLES["Cytoplasmic membrane"].sequence
    segments = regions.transmembrane_segments(lacy)
    assert len(segments) >= 10  # 12 helices in LacY; some split where the window dips
    covered = sum(tm.length for tm in segments)
    # every drawn residue is within half a window of a centre the features mark
    centres = np.flatnonzero(regions.membrane_centres(lacy))
    for tm in segments:
        for pos in range(tm.start - 1, tm.end):
            assert np.abs(centres - pos).min() <= regions.TM_WINDOW // 2
    assert 150 <= covered <= 300


def test_segments_never_overlap():
    seq = "MK" + ("LLIVAVLAGLLFAIVLVLA" + "KDEKRDENK") * 4 + "KRDEQ" * 5
    segments = regions.transmembrane_segments(seq)
    assert len(segments) >= 2
    for a, b in zip(segments, segments[1:]):
        assert a.end < b.start


def test_transmembrane_segments_find_a_hydrophobic_helix():
    seq = "MSDKEQRKT" + "LLIVAVLAGLLFAIVLVLA" + "KRDEQSNKT" * 3
    segments = regions.transmembrane_segments(seq)
    assert len(segments) == 1
    tm = segments[0]
    assert tm.kind == "transmembrane-like" and tm.start <= 12 and tm.end >= 26
    assert tm.residues == seq[tm.start - 1 : tm.end] and tm.length >= 19
    assert regions.transmembrane_segments("MKDEQRSTNKDEQRST" * 5) == []
    assert len(regions.transmembrane_segments("LLLL")) == 1  # short, but all helix centres


def test_lacy_has_several_transmembrane_segments():
    assert len(regions.transmembrane_segments(examples.EXAMPLES["Cytoplasmic membrane"].sequence)) >= 5


def test_signal_peptide_on_classic_signal_peptides():
    ompa = regions.signal_peptide(examples.EXAMPLES["Outer membrane"].sequence)
    assert ompa is not None and ompa.start == 1
    assert ompa.parts["n"] == (1, 4) and ompa.parts["h"][0] == 5
    assert ompa.end == 21  # OmpA's signal peptidase site: ...VAQA|APKD
    male = regions.signal_peptide(examples.EXAMPLES["Periplasmic"].sequence)
    assert male is not None and 15 <= male.parts["h"][1] <= 26
    m6 = regions.signal_peptide(examples.EXAMPLES["Cell wall & surface"].sequence)
    assert m6 is not None and m6.parts["n"][1] > 15  # long Gram-positive n-region


def test_signal_peptide_needs_positive_n_region_and_n_terminal_h_region():
    assert regions.signal_peptide(examples.EXAMPLES["Cytoplasmic"].sequence) is None  # GroEL
    assert regions.signal_peptide("MDDEE" + "LLAVLLALLAVA" + "QSNT" * 10) is None  # negative n
    assert regions.signal_peptide("LLAVLLALLAVA" + "QSNT" * 10) is None  # no n-region at all
    late = "MKKST" + "QNSTDEKRQS" * 4 + "LLAVLLALLAVA" + "QSNT" * 10
    assert regions.signal_peptide(late) is None  # hydrophobic stretch too far in
    assert regions.signal_peptide("MK") is None


def test_signal_anchor_is_flagged():
    lacy = regions.signal_peptide(examples.EXAMPLES["Cytoplasmic membrane"].sequence)
    assert lacy is not None and "signal anchor" in lacy.note


def test_sequence_regions_sorted_and_overlap_noted():
    found = regions.sequence_regions(examples.EXAMPLES["Outer membrane"].sequence)
    assert [r.start for r in found] == sorted(r.start for r in found)
    kinds = {r.kind for r in found}
    assert "signal-peptide-like" in kinds
    assert all(
        "overlaps the signal-peptide-like" in r.note
        for r in found
        if r.kind == "transmembrane-like" and r.start < 25
    )


def test_top_attended_regions():
    values = np.full(40, 0.01)
    values[20:23] = 0.3
    values[5] = 0.1
    top = regions.top_attended_regions(values, "A" * 40, n=2, window=5)
    assert len(top) == 2
    best = top[0]
    assert best.start <= 21 and best.end >= 23 and best.length == 5
    assert best.score == pytest.approx(
        values[best.start - 1 : best.end].sum() / values.sum(), abs=1e-4
    )
    assert top[1].start <= 6 <= top[1].end
    assert not (best.start <= top[1].end and top[1].start <= best.end)  # no overlap
    with pytest.raises(ValueError):
        regions.top_attended_regions(values, "A" * 39)
    assert regions.top_attended_regions(np.zeros(10), "A" * 10) == []
    assert len(regions.top_attended_regions(np.ones(3), "AAA", n=5, window=7)) == 1
