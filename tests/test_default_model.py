"""The model that ships in checkpoints/default: it loads, `protloc predict` uses it without -m,
and the figures committed beside it are the ones its held-out predictions give."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, matthews_corrcoef

from protloc.checkpoint import read_manifest
from protloc.classes import CLASSES
from protloc.cli import main
from protloc.predictor import DEFAULT_CHECKPOINT, EnsemblePredictor
from protloc.sequences import parse_text

pytestmark = pytest.mark.skipif(
    not (DEFAULT_CHECKPOINT / "manifest.json").is_file(), reason="checkpoints/default is not installed"
)

# E. coli OmpA (P0A910), from its signal peptide: a classic outer-membrane beta-barrel.
OMPA = (
    "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLGRMPYKGS"
    "VENGAYKAQGVQLTAKLGYPITDDLDIYTRLGGMVWRADTKSNVYGKNHDTGVSPVFAGGVEYAITPEIATRLEYQWTNNIGDAHTIG"
    "TRPDNGMLSLGVSYRFGQGEAAPVVAPAPAPAPEVQTKHFTLKSDVLFNFNKATLKPEGQAALDQLYSQLSNLDPKDGSVVVLGYTDR"
    "IGSDAYNQGLSERRAQSVVDYLISKGIPADKISARGMGESNPVTGNTCDNVKQRAACIDVKSKQK"
)


def test_default_set_is_a_five_fold_offline_ensemble():
    manifest = read_manifest(DEFAULT_CHECKPOINT)
    assert [f.test_fold for f in manifest.folds] == [0, 1, 2, 3, 4]
    assert all((f.val_fold - f.test_fold) % 5 == 1 for f in manifest.folds)
    assert [e["id"] for e in manifest.embedders] == ["features-v1"]  # no downloads needed
    assert manifest.data["proteins"] == 16428


def test_predict_uses_the_default_set_without_m(tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">ompa\n{OMPA}\n>dna\n{'ACGT' * 10}\n")
    out, err = io.StringIO(), io.StringIO()
    assert main(["predict", "-f", str(fasta), "-o", str(tmp_path / "o"), "-g", "negative"],
                stdout=out, stderr=err) == 0, err.getvalue()
    table = pd.read_csv(tmp_path / "o" / "results.csv", keep_default_na=False)
    assert table["ID"].tolist() == ["ompa", "dna"]
    assert table.loc[0, "Localization"] in CLASSES and table.loc[1, "Error"]
    direct = EnsemblePredictor.from_dir(DEFAULT_CHECKPOINT).predict(parse_text(f">o\n{OMPA}"),
                                                                     group="negative")
    assert direct[0].localization == table.loc[0, "Localization"]


def test_committed_results_match_the_heldout_predictions():
    heldout = pd.read_csv(DEFAULT_CHECKPOINT / "heldout.csv")
    results = json.loads((DEFAULT_CHECKPOINT / "results.json").read_text())
    assert len(heldout) == results["all"]["n"] and heldout["id"].is_unique
    assert sorted(heldout["partition"].unique()) == [0, 1, 2, 3, 4]
    raw = results["all"]["without_group_rule"]  # heldout.csv's calls are before the group rule
    assert accuracy_score(heldout["label"], heldout["prediction"]) == pytest.approx(raw["accuracy"])
    assert matthews_corrcoef(heldout["label"], heldout["prediction"]) == pytest.approx(raw["mcc"])
