"""Deduplication by sequence, the label-conflict rule, groups and the length policy."""

from __future__ import annotations

from protloc.dataset import sources as S
from protloc.dataset.merge import apply_length_policy, merge_entries

SEQ = "M" + "ACDEFGHIKLMNPQRSTVWY" * 3  # 61 residues


def e(source, sid, label, seq=SEQ, status=S.OK, group="unknown", acc=None, raw=None, **kw):
    return S.Entry(source, sid, seq, raw or (label or "x"), label if status == S.OK else None,
                   status, group=group, accession=acc, **kw)


def reasons(removals):
    return sorted((r.source, r.source_id, r.reason) for r in removals)


def test_stronger_source_wins_and_weaker_conflict_is_logged():
    ents = [
        e(S.LOCTREE3, "X_ECOLI", "Periplasmic"),
        e(S.PSORTB, "123", "Outer membrane", group="negative"),
        e(S.GNEG_MPLOC, "P1", "Outer membrane", group="negative", acc="P1"),
    ]
    prots, rem = merge_entries(ents)
    assert len(prots) == 1
    p = prots[0]
    assert (p.id, p.source, p.label, p.group) == ("P1", S.GNEG_MPLOC, "Outer membrane", "negative")
    assert "also=psortb" in p.flags
    assert any(f.startswith("conflict=loctree3:Periplasmic") for f in p.flags)
    assert reasons(rem) == [
        (S.LOCTREE3, "X_ECOLI", "overridden_by_stronger_source"),
        (S.PSORTB, "123", "duplicate_sequence"),
    ]


def test_same_tier_disagreement_drops_the_protein():
    ents = [e(S.PSORTB, "1", "Cytoplasmic"), e(S.PSORTB, "2", "Cytoplasmic membrane"),
            e(S.LOCTREE3, "Y_BACSU", "Cytoplasmic")]
    prots, rem = merge_entries(ents)
    assert prots == []
    assert {r.reason for r in rem} == {"label_conflict"}
    assert len(rem) == 3


def test_multi_label_in_strongest_tier_vetoes_weaker_single_labels():
    ents = [e(S.GNEG_MPLOC, "P9", None, status=S.MULTI, raw="Cytoplasm,Periplasm"),
            e(S.PSORTB, "9", "Periplasmic")]
    prots, rem = merge_entries(ents)
    assert prots == [] and {r.reason for r in rem} == {S.MULTI}


def test_weaker_multi_label_does_not_veto_and_non_effectors_are_ignored():
    other = "M" + "W" * 60
    ents = [e(S.PSORTB, "9", "Periplasmic", group="negative"),
            e(S.LOCTREE3, "Z_ECOLI", None, status=S.UNMAPPED, raw="fimbrium"),
            e(S.DEEPSECE, "Train:Non-effector-1", None, seq=other, status=S.NOT_LOCALIZATION)]
    prots, rem = merge_entries(ents)
    assert [p.label for p in prots] == ["Periplasmic"]
    assert reasons(rem) == [(S.DEEPSECE, "Train:Non-effector-1", "not_localization"),
                            (S.LOCTREE3, "Z_ECOLI", "overridden_by_stronger_source")]


def test_benchmark_beats_everything_and_keeps_dlp_anchor():
    ents = [e(S.PSORTB, "77", "Cytoplasmic"),
            e(S.BENCHMARK, "Q1", "Extracellular", group="positive", acc="Q1")]
    prots, _ = merge_entries(ents, {"Q1": 3})
    (p,) = prots
    assert p.in_benchmark and p.label == "Extracellular" and p.anchor == 3 and p.group == "positive"


def test_dlp_accession_from_other_source_anchors_and_conflicting_anchors_drop():
    ents = [e(S.GPOS_MPLOC, "P0A001", "Cytoplasmic", group="positive", acc="P0A001")]
    (p,), _ = merge_entries(ents, {"P0A001": 2})
    assert p.anchor == 2 and p.dlp_accession == "P0A001"
    ents = [e(S.GPOS_MPLOC, "P0A001", "Cytoplasmic", acc="P0A001"), e(S.PSORTB, "Q0A002", "Cytoplasmic", acc="Q0A002")]
    prots, rem = merge_entries(ents, {"P0A001": 2, "Q0A002": 4})
    assert prots == [] and {r.reason for r in rem} == {"dlp_partition_conflict"}


def test_species_mnemonic_group_inference():
    s1, s2 = "M" + "A" * 60, "M" + "C" * 60
    lt1 = e(S.LOCTREE3, "AAA_ECOLI", "Cytoplasmic", seq=s1)
    lt1.extra["species"] = "ECOLI"
    lt2 = e(S.LOCTREE3, "BBB_ECOLI", "Cytoplasmic", seq=s2)
    lt2.extra["species"] = "ECOLI"
    ents = [lt1, e(S.GNEG_MPLOC, "P7", "Cytoplasmic", seq=s1, group="negative", acc="P7"), lt2]
    prots, _ = merge_entries(ents)
    by = {p.id: p for p in prots}
    assert by["BBB_ECOLI"].group == "negative" and "group_from_species" in by["BBB_ECOLI"].flags
    assert by["P7"].group == "negative" and "group_from_species" not in by["P7"].flags


def test_ids_made_unique_for_accession_with_two_sequences():
    ents = [e(S.GNEG_MPLOC, "P05555", "Cytoplasmic", acc="P05555"),
            e(S.PSORTB, "P05555", "Cytoplasmic", seq="M" + "K" * 60, acc="P05555")]
    prots, _ = merge_entries(ents)
    assert sorted(p.id for p in prots) == ["P05555", "P05555.2"]
    assert next(p for p in prots if p.id == "P05555").source == S.GNEG_MPLOC


def test_length_policy_exempts_benchmark():
    short = "MKV" * 3
    ents = [e(S.BENCHMARK, "B1", "Cytoplasmic", seq=short, acc="B1"),
            e(S.PSORTB, "5", "Cytoplasmic", seq="MKLA" * 5),
            e(S.PSORTB, "6", "Cytoplasmic", seq="M" + "X" * 50),
            e(S.PSORTB, "7", "Cytoplasmic", seq="M" * 5001),
            e(S.PSORTB, "8", "Cytoplasmic")]
    prots, _ = merge_entries(ents, {"B1": 0})
    kept, rem = apply_length_policy(prots)
    assert sorted(p.id for p in kept) == ["B1", "psortb_gi8"]
    assert sorted((r.source_id, r.reason) for r in rem) == [
        ("5", "length_policy"), ("6", "too_many_unknown_residues"), ("7", "length_policy")]
