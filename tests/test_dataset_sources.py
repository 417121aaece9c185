"""Parsing and label mapping of every data source, on small inline fixtures."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from protloc.dataset import sources as S
from protloc.errors import UserError


def test_benchmark_parser_maps_deeplocpro_spellings():
    text = (
        ">A0A0C5CJR8|Extracellular|negative\nMSKAKDKAIV\n"
        ">P12345|CYtoplasmicMembrane|positive\nMKLLV\n"
        ">Q9XYZ1|Cellwall|archaea\nMAAAA\n"
    )
    es = S.parse_benchmark(text)
    assert [(e.source_id, e.label, e.group) for e in es] == [
        ("A0A0C5CJR8", "Extracellular", "negative"),
        ("P12345", "Cytoplasmic membrane", "positive"),
        ("Q9XYZ1", "Cell wall & surface", "archaea"),
    ]
    assert all(e.status == S.OK and e.accession == e.source_id for e in es)
    assert es[0].sequence == "MSKAKDKAIV"


def test_gneg_mploc_labels_from_table_and_multilocated_merged():
    fasta = ">P1\nMAAA\nCCC\n>P2\nMDDD\n>P3\nMEEE\n>P2\nMDDD\n>P4\nMFFF\n>P5\nMGGG\n"
    tsv = (
        "record_index\taccession\tgneg_mploc_location_inferred_from_block_order\tdeeplocpro_class\n"
        "0\tP1\tCell inner membrane\tCYtoplasmicMembrane\n"
        "1\tP2\tCell outer membrane\tOuterMembrane\n"
        "2\tP3\tNucleoid\tCytoplasmic\n"
        "3\tP2\tExtracellular\tExtracellular\n"
        "4\tP4\tFimbrium\t\n"
        "5\tP5\tPeriplasm\tPeriplasmic\n"
    )
    es = {e.source_id: e for e in S.parse_gneg_mploc(fasta, tsv)}
    assert es["P1"].label == "Cytoplasmic membrane" and es["P1"].sequence == "MAAACCC"
    assert es["P2"].status == S.MULTI and es["P2"].label is None
    assert "Cell outer membrane" in es["P2"].detail and "Extracellular" in es["P2"].detail
    assert es["P3"].label == "Cytoplasmic"  # nucleoid
    assert es["P4"].status == S.UNMAPPED  # fimbrium is not one of the 6 classes
    assert es["P5"].label == "Periplasmic"
    assert {e.group for e in es.values()} == {"negative"}


def test_gneg_mploc_rejects_misaligned_table():
    fasta = ">P1\nMAAA\n>P2\nMDDD\n"
    tsv = ("record_index\taccession\tgneg_mploc_location_inferred_from_block_order\n"
           "0\tP2\tCytoplasm\n1\tP1\tCytoplasm\n")
    with pytest.raises(ValueError, match="record 0"):
        S.parse_gneg_mploc(fasta, tsv)


def test_gpos_mploc_classes_1_to_4():
    text = (
        '1,Fold1,>P23453,MSGEV\n2,"Fold2",>P11111,MCWAL\n3,Fold3,>P22222,MCYTO\n'
        "4,Fold4,>P33333,MEXTR\n3,Fold3,>P44444,MDUAL\n4,Fold4,>P44444,MDUAL\n"
    )
    es = {e.source_id: e for e in S.parse_gpos_mploc(text)}
    assert es["P23453"].label == "Cytoplasmic membrane"
    assert es["P11111"].label == "Cell wall & surface"
    assert es["P22222"].label == "Cytoplasmic"
    assert es["P33333"].label == "Extracellular"
    assert es["P44444"].status == S.MULTI
    assert es["P23453"].group == "positive"


def test_psortb_headers_sublocations_dual_labels_and_groups():
    text = (
        ">16125160 [Cytoplasmic] [Flagellar] flagellar motor switch protein [Caulobacter crescentus CB15]\n"
        "MKLV\nAA^A\n"
        ">15596049[Extracellular] [Extracellular] |secreted protein Hcp|297561 - 297043\nMEXT\n"
        "> P08958 [Cytoplasmic\\GasVesicle] Gas vesicle protein\nMGAS\n"
        ">111 [OuterMembrane,Extracellular] [S-layer] thing\nMOMEX\n"
        ">222 [OuterMembrane] porin\nMPOR\n"
        ">333 [Periplasmic] [Cellwall] binding protein\nMPER\n"
        ">444 [CellWall] surface protein\nMCW\n"
    )
    es = S.parse_psortb(text, "archaea/sclblast+swissprot+some_manual")
    by = {e.source_id: e for e in es}
    assert by["16125160"].label == "Cytoplasmic"
    assert by["16125160"].sequence == "MKLVAAA"  # '^' artefact removed
    assert "sublocation=Flagellar" in by["16125160"].flags
    assert by["16125160"].group == "unknown"  # PSORTb pools groups
    assert by["16125160"].accession is None  # a GI number
    assert by["15596049"].label == "Extracellular"
    assert by["P08958"].label == "Cytoplasmic" and by["P08958"].accession == "P08958"
    assert "sublocation=GasVesicle" in by["P08958"].flags
    assert by["111"].status == S.MULTI and by["111"].label is None
    assert by["222"].label == "Outer membrane" and by["222"].group == "negative"
    assert by["333"].label == "Periplasmic" and by["333"].group == "negative"
    assert by["444"].label == "Cell wall & surface" and by["444"].group == "unknown"
    assert all("psortb_file=archaea" in e.flags for e in es)


def test_loctree3_classes_evidence_and_kingdom():
    bact = (
        ">5NTD_HAEIN#periplasm#periplasmic space GO:0042597(IEA); \nMPERI\n"
        ">3BHS_MYCTU#cytoplasm#cytosol GO:0005829(IDA); plasma membrane GO:0005886(IDA); \nMCYTO\n"
        ">FIM_ECOLI#fimbrium#pilus GO:0009289(IEA); \nMFIMB\n"
        ">OMP_ECOLI#outer membrane#cell outer membrane GO:0009279(IEA); \nMOMP\n"
        ">SEC_ECOLI#secreted#extracellular region GO:0005576(IEA); \nMSEC\n"
        ">INN_ECOLI#inner membrane#GO:0005886(IEA); \nMINN\n"
    )
    arch = ">AGLS_HALVD#plasma membrane#integral to membrane GO:0016021(IEA); \nMPM\n"
    es = {e.source_id: e for e in S.parse_loctree3(bact, "bact") + S.parse_loctree3(arch, "arch")}
    assert es["5NTD_HAEIN"].label == "Periplasmic"
    assert es["3BHS_MYCTU"].label == "Cytoplasmic"
    assert "go_evidence=experimental" in es["3BHS_MYCTU"].flags
    assert "go_evidence=non_experimental" in es["5NTD_HAEIN"].flags
    assert es["FIM_ECOLI"].status == S.UNMAPPED
    assert es["OMP_ECOLI"].label == "Outer membrane"
    assert es["SEC_ECOLI"].label == "Extracellular"
    assert es["INN_ECOLI"].label == "Cytoplasmic membrane"
    assert es["AGLS_HALVD"].label == "Cytoplasmic membrane" and es["AGLS_HALVD"].group == "archaea"
    assert es["5NTD_HAEIN"].group == "unknown" and es["5NTD_HAEIN"].extra["species"] == "HAEIN"


def test_deepsece_effectors_extracellular_non_effectors_not_localization():
    text = ">T3SE-12\nMKLV\nAAA\n>Non-effector-7\nMNON\n>T1SE-1\nMT1\n"
    es = S.parse_deepsece(text, "Train-2918")
    assert [(e.source_id, e.status, e.label) for e in es] == [
        ("Train-2918:T3SE-12", S.OK, "Extracellular"),
        ("Train-2918:Non-effector-7", S.NOT_LOCALIZATION, None),
        ("Train-2918:T1SE-1", S.OK, "Extracellular"),
    ]
    assert es[0].sequence == "MKLVAAA" and "effector=T3SE" in es[0].flags
    with pytest.raises(ValueError):
        S.parse_deepsece(">Weird-1\nMAA\n", "Test-260")


def test_resolve_sources_aliases_and_errors():
    assert S.resolve_sources(None) == S.SOURCES
    assert S.resolve_sources(["mploc", "deeplocpro"]) == (S.BENCHMARK, S.GNEG_MPLOC, S.GPOS_MPLOC)
    assert S.resolve_sources(["psortb,loctree3"]) == (S.PSORTB, S.LOCTREE3)
    with pytest.raises(UserError, match="unknown source"):
        S.resolve_sources(["nope"])


def test_uniprot_accession_pattern():
    assert S.is_uniprot_accession("P08958")
    assert S.is_uniprot_accession("A0A0C5CJR8")
    assert not S.is_uniprot_accession("16125160")
    assert not S.is_uniprot_accession("5NTD_HAEIN")


def test_psortb_from_deb_option_requires_file(tmp_path):
    with pytest.raises(UserError, match="psortb-deb"):
        S.locate_psortb(tmp_path, tmp_path / "cache", deb=tmp_path / "missing.deb")
    with pytest.raises(UserError, match="not found"):
        S.locate_psortb(tmp_path, tmp_path / "cache", fetch=False)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed (Debian only)")
def test_psortb_read_from_a_debian_package(tmp_path):
    pkg = tmp_path / "pkg"
    base = pkg / "usr" / "lib" / "psort" / "conf" / "analysis" / "sclblast"
    for rel in S.PSORTB_FILES:
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(f">1{len(rel)} [Periplasmic] test\nMKVLA\n")
    (pkg / "DEBIAN").mkdir()
    (pkg / "DEBIAN" / "control").write_text(
        "Package: psortb\nVersion: 0.0-test\nArchitecture: all\nMaintainer: t <t@t>\nDescription: test\n")
    deb = tmp_path / "psortb_0.0-test_all.deb"
    subprocess.run(["dpkg-deb", "-b", str(pkg), str(deb)], check=True, capture_output=True)
    src = S.load_psortb(tmp_path / "no-data", tmp_path / "cache", deb=deb)
    assert len(src.entries) == 4 and all(e.label == "Periplasmic" for e in src.entries)
    assert "psortb_0.0-test_all.deb" in src.note
