"""protloc.app_support: regions, examples, structures, results.json reading (no Streamlit)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from protloc import app_support as S
from protloc.classes import CLASSES

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- settings


def test_checkpoint_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(S.CHECKPOINTS_ENV, raising=False)
    assert S.checkpoint_root() == ROOT / "checkpoints"
    monkeypatch.setenv(S.CHECKPOINTS_ENV, str(tmp_path))
    assert S.checkpoint_root() == tmp_path
    assert S.checkpoint_sets() == []
    for name in ("b_model", "default", "a_model", "not_a_set"):
        (tmp_path / name).mkdir()
        if name != "not_a_set":
            (tmp_path / name / "manifest.json").write_text("{}")
    assert [p.name for p in S.checkpoint_sets()] == ["default", "a_model", "b_model"]


def test_upload_limit_matches_the_streamlit_config():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert f"maxUploadSize = {S.MAX_UPLOAD_MB}" in config


# ----------------------------------------------------------------------------- examples


def test_one_example_per_class_with_clean_sequences():
    from protloc.sequences import parse_text

    assert list(S.EXAMPLES) == list(CLASSES)
    for label, example in S.EXAMPLES.items():
        assert example.label == label and example.accession and example.short
        records = parse_text(example.fasta())
        assert len(records) == 1 and records[0].status == "ok", records[0].messages
        assert records[0].sequence == example.sequence
        assert records[0].id == example.accession


def _shared() -> Path | None:
    data = os.environ.get("PROTLOC_DATA")
    return Path(data) / "extra" if data and (Path(data) / "extra").is_dir() else None


@pytest.mark.data
def test_example_sequences_are_those_of_the_labelled_sets():
    """Each example sequence is byte-identical to its entry in the shared labelled data."""
    extra = _shared()
    if extra is None:
        pytest.skip("PROTLOC_DATA is not set to a folder laid out like ../shared/data")
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    loctree = {
        t.split("#")[0]: s
        for t, s in SimpleFastaParser(open(extra / "loctree3_sp13_11" / "bact.SP13_11.fa"))
    }
    with open(extra / "dlp_accessions_with_sequences.tsv") as handle:
        dlp = {r["accession"]: r for r in csv.DictReader(handle, delimiter="\t")}
    psortb = {
        t.split()[0]: (t, s)
        for t, s in SimpleFastaParser(open(extra / "psortb_sclblast" / "grampos" / "sclblast"))
    }
    ex = S.EXAMPLES
    assert ex["Cytoplasmic"].sequence == dlp["P0A6F5"]["sequence"] == loctree["CH60_ECOLI"]
    assert ex["Periplasmic"].sequence == dlp["P0AEX9"]["sequence"] == loctree["MALE_ECOLI"]
    assert ex["Extracellular"].sequence == dlp["P09545"]["sequence"] == loctree["HLYA_VIBCH"]
    assert ex["Cytoplasmic membrane"].sequence == loctree["LACY_ECOLI"]
    assert ex["Outer membrane"].sequence == loctree["OMPA_ECOLI"]
    title, seq = psortb["126670"]
    assert "[Cellwall] M protein, serotype 6" in title and ex["Cell wall & surface"].sequence == seq
    assert dlp["P0A6F5"]["mapped_6class"] == "Cytoplasmic"
    assert dlp["P0AEX9"]["mapped_6class"] == "Periplasmic"
    assert dlp["P09545"]["mapped_6class"] == "Extracellular"


# ---------------------------------------------------------------------------- hydropathy


def test_window_means_and_kyte_doolittle_alignment():
    np.testing.assert_allclose(S.window_means(np.arange(5.0), 2), [0.5, 1.5, 2.5, 3.5])
    assert len(S.window_means(np.ones(3), 5)) == 0
    kd = S.kyte_doolittle("IIIIIRRRRR", window=3)
    assert len(kd) == 10 and np.isnan(kd[0]) and np.isnan(kd[-1])
    assert kd[1] == pytest.approx(4.5)
    assert kd[5] == pytest.approx((4.5 - 9.0) / 3 * 1 + 0) or kd[5] == pytest.approx(-4.5)
    assert np.isnan(S.kyte_doolittle("MK", window=9)).all()
    assert S.hydropathy_values("X")[0] == 0.0


def test_transmembrane_segments_find_a_hydrophobic_helix():
    seq = "MSDKEQRKT" + "LLIVAVLAGLLFAIVLVLA" + "KRDEQSNKT" * 3
    segments = S.transmembrane_segments(seq)
    assert len(segments) == 1
    tm = segments[0]
    assert tm.kind == "transmembrane-like" and tm.start <= 12 and tm.end >= 26
    assert tm.residues == seq[tm.start - 1 : tm.end] and tm.length >= 19
    assert S.transmembrane_segments("MKDEQRSTNKDEQRST" * 5) == []
    assert S.transmembrane_segments("LLLL") == []


def test_lacy_has_several_transmembrane_segments():
    assert len(S.transmembrane_segments(S.EXAMPLES["Cytoplasmic membrane"].sequence)) >= 5


def test_signal_peptide_like_on_classic_signal_peptides():
    ompa = S.signal_peptide_like(S.EXAMPLES["Outer membrane"].sequence)
    assert ompa is not None and ompa.start == 1
    assert ompa.parts["n"] == (1, 4) and ompa.parts["h"][0] == 5
    assert ompa.end == 21  # OmpA's signal peptidase site: ...VAQA|APKD
    male = S.signal_peptide_like(S.EXAMPLES["Periplasmic"].sequence)
    assert male is not None and 15 <= male.parts["h"][1] <= 26
    m6 = S.signal_peptide_like(S.EXAMPLES["Cell wall & surface"].sequence)
    assert m6 is not None and m6.parts["n"][1] > 15  # long Gram-positive n-region


def test_signal_peptide_like_needs_positive_n_region_and_n_terminal_h_region():
    assert S.signal_peptide_like(S.EXAMPLES["Cytoplasmic"].sequence) is None  # GroEL
    assert S.signal_peptide_like("MDDEE" + "LLAVLLALLAVA" + "QSNT" * 10) is None  # negative n
    assert S.signal_peptide_like("LLAVLLALLAVA" + "QSNT" * 10) is None  # no n-region at all
    late = "MKKST" + "QNSTDEKRQS" * 4 + "LLAVLLALLAVA" + "QSNT" * 10
    assert S.signal_peptide_like(late) is None  # hydrophobic stretch too far in
    assert S.signal_peptide_like("MK") is None


def test_signal_anchor_is_flagged():
    lacy = S.signal_peptide_like(S.EXAMPLES["Cytoplasmic membrane"].sequence)
    assert lacy is not None and "signal anchor" in lacy.note


def test_sequence_regions_sorted_and_overlap_noted():
    regions = S.sequence_regions(S.EXAMPLES["Outer membrane"].sequence)
    assert [r.start for r in regions] == sorted(r.start for r in regions)
    kinds = {r.kind for r in regions}
    assert "signal-peptide-like" in kinds
    assert all(
        "overlaps the signal-peptide-like" in r.note
        for r in regions
        if r.kind == "transmembrane-like" and r.start < 25
    )


def test_top_attended_regions():
    values = np.full(40, 0.01)
    values[20:23] = 0.3
    values[5] = 0.1
    regions = S.top_attended_regions(values, "A" * 40, n=2, window=5)
    assert len(regions) == 2
    best = regions[0]
    assert best.start <= 21 and best.end >= 23 and best.length == 5
    assert best.score == pytest.approx(
        values[best.start - 1 : best.end].sum() / values.sum(), abs=1e-4
    )
    assert regions[1].start <= 6 <= regions[1].end
    assert not (best.start <= regions[1].end and regions[1].start <= best.end)  # no overlap
    with pytest.raises(ValueError):
        S.top_attended_regions(values, "A" * 39)
    assert S.top_attended_regions(np.zeros(10), "A" * 10) == []
    assert len(S.top_attended_regions(np.ones(3), "AAA", n=5, window=7)) == 1


def test_attention_colours_run_pale_to_dark():
    colours = S.attention_colours([0.0, 0.5, 1.0])
    assert len(colours) == 3 and all(c.startswith("#") and len(c) == 7 for c in colours)
    assert colours[0] != colours[-1]
    assert S.attention_colours([]) == []
    assert len(set(S.attention_colours([2.0, 2.0]))) == 1


# ---------------------------------------------------------------------------- structures


def _pdb(sequence: str, chain: str = "A", first: int = 1) -> str:
    from test_app import helix_pdb

    text = helix_pdb(sequence, chain)
    if first != 1:
        lines = []
        for line in text.splitlines():
            if line.startswith("ATOM"):
                number = int(line[22:26]) + first - 1
                line = line[:22] + f"{number:>4}" + line[26:]
            lines.append(line)
        text = "\n".join(lines) + "\n"
    return text


def test_read_pdb_and_map_by_residue_number():
    seq = S.EXAMPLES["Outer membrane"].sequence
    structure = S.read_structure(_pdb(seq[:40]).encode(), "model.pdb")
    assert structure.format == "pdb" and [c.id for c in structure.chains] == ["A"]
    chain = structure.chains[0]
    assert chain.sequence == seq[:40] and chain.residues[0][0] == 1
    mapping = S.map_residues(chain, seq)
    assert mapping.identical == mapping.compared == 40 and mapping.identity == 1.0
    assert mapping.positions[1] == 0 and mapping.positions[40] == 39
    assert any("has 40 residues" in m and "346" in m for m in mapping.messages)


def test_mapping_says_when_numbering_does_not_fit():
    seq = S.EXAMPLES["Outer membrane"].sequence
    shifted = S.read_structure(_pdb(seq[21:61], first=400), "mature.pdb").chains[0]
    mapping = S.map_residues(shifted, seq)
    assert mapping.compared == 0 and len(mapping.outside) == 40
    assert any("outside" in m for m in mapping.messages)
    assert any("nothing is coloured" in m for m in mapping.messages)
    other = S.read_structure(_pdb("W" * 30), "x.pdb").chains[0]
    assert any("same amino acid" in m for m in S.map_residues(other, seq).messages)


def test_read_mmcif(tmp_path):
    import io

    from Bio.PDB import MMCIFIO, PDBParser

    pdb = PDBParser(QUIET=True).get_structure("x", io.StringIO(_pdb("MKKTAIAIAV", "B")))
    out = io.StringIO()
    writer = MMCIFIO()
    writer.set_structure(pdb)
    writer.save(out)
    structure = S.read_structure(out.getvalue().encode(), "model.cif")
    assert structure.format == "cif"
    assert structure.chains[0].id == "B" and structure.chains[0].sequence == "MKKTAIAIAV"
    assert S.structure_format("upload", out.getvalue()) == "cif"


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"HEADER nothing\nEND\n", "no atoms"),
        (b"\x1f\x8b\x08broken", "damaged"),
        (
            b"HETATM    1  O   HOH A   1       0.000   0.000   0.000  1.00 20.00           O\n",
            "no protein chain",
        ),
    ],
)
def test_unreadable_structures_give_a_message(data, expected):
    with pytest.raises(S.StructureError, match=expected):
        S.read_structure(data, "bad.pdb")


def test_structure_view_is_offline_and_coloured():
    structure = S.read_structure(_pdb("MKKTAIAIAVALAG"), "m.pdb")
    library = (ROOT / "assets" / "3Dmol-min.js").read_text(encoding="utf-8")
    page = S.structure_view_html(structure, "A", {1: "#800026", 2: "#ffffcc"}, library)
    assert "cdn.jsdelivr" not in page and "https://" not in page.split("<script>", 2)[2][:2000]
    assert library[:200] in page and "window.$3Dmolpromise = Promise.resolve()" in page
    assert "#800026" in page and '"chain": "A"' in page
    grey = S.structure_view_html(structure, None, {}, "/*lib*/")
    assert "#800026" not in grey and "#d9d9d9" in grey


def test_vendored_3dmol_matches_the_py3dmol_pin():
    from importlib.metadata import version

    readme = (ROOT / "assets" / "README.md").read_text()
    assert version("py3Dmol") in readme and "BSD-3-Clause" in readme
    assert (ROOT / "assets" / "3Dmol-LICENSE.txt").is_file()
    assert "3dmol" in (ROOT / "assets" / "3Dmol-min.js").read_text(encoding="utf-8")[:2000].lower()


# ------------------------------------------------------------------------- results.json


def _write(folder: Path, doc) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return folder


def test_no_results_file_means_none(tmp_path):
    assert S.load_cv_results(tmp_path) is None


def test_protloc_evaluate_layout(tmp_path):
    from test_app import results_doc

    report = S.load_cv_results(_write(tmp_path, results_doc()), "default")
    main = report.main
    assert main.name == "default" and main.overall["accuracy"] == pytest.approx(0.83)
    assert main.confusion[0] == list(CLASSES) and main.confusion[1].shape == (6, 6)
    assert len(main.per_class) == 6 and main.per_class[0]["class"] == "Cytoplasmic"
    assert len(main.per_fold) == 5 and main.fold_sd["accuracy"] == pytest.approx(0.014)
    assert main.ece == pytest.approx(0.05) and len(main.reliability) == 15
    assert [e.name for e in report.comparison] == ["default", "DeepLocPro", "PSORTb 3.0.6"]
    assert report.comparison_n == 100 and report.comparison_notes
    assert report.reference is None  # the page falls back to the built-in figures
    assert "Made-up figures for a test." in report.notes


def test_bare_evaluation_and_peer_mapping_layouts(tmp_path):
    from test_app import evaluation_block

    bare = S.load_cv_results(_write(tmp_path / "a", evaluation_block()), "m")
    assert bare.main.overall["mcc"] == pytest.approx(0.79) and bare.comparison == []
    mapping = {
        "protloc": evaluation_block(),
        "deeplocpro": evaluation_block(0.9),
        "psortb": {"accuracy": 0.6, "mcc": 0.5},
    }
    report = S.load_cv_results(_write(tmp_path / "b", mapping), "m")
    assert report.main.overall["accuracy"] == pytest.approx(0.83)
    assert [e.name for e in report.comparison] == ["m", "deeplocpro", "psortb"]
    assert report.comparison[2].overall == {"accuracy": 0.6, "macro_f1": None, "mcc": 0.5}


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"all": None, "benchmark": None, "notes": []},
        {"all": {"overall": "oops"}},
        {
            "all": {
                "overall": {"accuracy": "x"},
                "confusion_matrix": [[1, 2], [3]],
                "per_class": "nope",
                "per_fold": {"folds": "bad"},
                "calibration": [1, 2],
            }
        },
        {"all": {"confusion_matrix": {"labels": ["a"], "matrix": [[1, 2]]}}},
        [1, 2, 3],
    ],
)
def test_odd_results_files_never_crash(tmp_path, doc):
    folder = _write(tmp_path, doc)
    if isinstance(doc, list):
        with pytest.raises(ValueError, match="JSON object"):
            S.load_cv_results(folder)
        return
    report = S.load_cv_results(folder)
    assert report is not None
    if report.main is not None:
        assert report.main.confusion is None or report.main.confusion[1].ndim == 2


def test_invalid_json_is_a_user_message(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        S.load_cv_results(_write(tmp_path, "{oops"))


def test_reference_study_figures():
    ref = S.reference_evaluation()
    cm = ref.confusion[1]
    assert cm.sum() == S.REFERENCE_STUDY["n"] == 11_531
    assert np.trace(cm) / cm.sum() == pytest.approx(
        S.REFERENCE_STUDY["mean"]["accuracy"], abs=0.001
    )
    assert "not on homology partitions" in S.REFERENCE_CAVEAT
    assert np.mean([f["mcc"] for f in ref.per_fold]) == pytest.approx(ref.overall["mcc"], abs=1e-3)


@pytest.mark.data
def test_reference_confusion_matrix_matches_the_published_predictions():
    data = os.environ.get("PROTLOC_DATA")
    folder = Path(data).parent / "reference" / "seed_results" if data else None
    if folder is None or not (folder / "fold_0_results.json").is_file():
        pytest.skip("reference study results not found next to PROTLOC_DATA")
    study_order = (
        "Cytoplasmic",
        "Cytoplasmic membrane",
        "Extracellular",
        "Periplasmic",
        "Outer membrane",
        "Cell wall & surface",
    )
    cm = np.zeros((6, 6), dtype=int)
    for k in range(5):
        fold = json.loads((folder / f"fold_{k}_results.json").read_text())
        for y, p in zip(fold["labels"], fold["predictions"]):
            cm[CLASSES.index(study_order[y]), CLASSES.index(study_order[p])] += 1
        assert fold["test_mcc"] == pytest.approx(S.REFERENCE_STUDY["per_fold"][k]["mcc"], abs=1e-4)
    np.testing.assert_array_equal(cm, S.REFERENCE_STUDY["confusion_matrix"])
