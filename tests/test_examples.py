"""The app's built-in examples (pages/examples.py) and settings (pages/settings.py)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from pages import examples, settings
from protloc.classes import CLASSES

ROOT = Path(__file__).resolve().parent.parent


def test_checkpoint_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(settings.CHECKPOINTS_ENV, raising=False)
    assert settings.checkpoint_root() == ROOT / "checkpoints"
    monkeypatch.setenv(settings.CHECKPOINTS_ENV, str(tmp_path))
    assert settings.checkpoint_root() == tmp_path
    assert settings.checkpoint_sets() == []
    for name in ("b_model", "default", "a_model", "not_a_set"):
        (tmp_path / name).mkdir()
        if name != "not_a_set":
            (tmp_path / name / "manifest.json").write_text("{}")
    assert [p.name for p in settings.checkpoint_sets()] == ["default", "a_model", "b_model"]


def test_upload_limit_matches_the_streamlit_config():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert f"maxUploadSize = {settings.MAX_UPLOAD_MB}" in config


def test_one_example_per_class_with_clean_sequences():
    from protloc.sequences import parse_text

    assert list(examples.EXAMPLES) == list(CLASSES)
    for label, example in examples.EXAMPLES.items():
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
    ex = examples.EXAMPLES
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
