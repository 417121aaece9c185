import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from protloc.checkpoint import read_manifest
from protloc.classes import CLASSES
from protloc.cli import main
from protloc.output import COLUMNS, PROB_COLUMNS
from protloc.predictor import EnsemblePredictor, available_checkpoints
from protloc.sequences import parse_text

GOOD = "MKKLLIAVAALSAAQAADNTWQGKSLEELAKKYGVSVDTLKSWNGGK"
FASTA = f""">good1 a periplasmic-looking protein
{GOOD}
>dna
ATGGCGTACGATCGATCGATCGATCGATGCATGCATGCTAGCTAGC
>good2
MSTNPKPQRKTKRNTNRRPQDVKFPGGGQIVGGVYLLPRRGPRLGVRATRKTSERSQPRGRRQPIPK
>short
MK
"""


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    code = main(args, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_manifest_describes_the_set(tiny_checkpoint):
    manifest = read_manifest(tiny_checkpoint)
    assert [f.test_fold for f in manifest.folds] == [0, 1, 2, 3, 4]
    assert [f.val_fold for f in manifest.folds] == [1, 2, 3, 4, 0]
    assert all(f.temperature > 0 for f in manifest.folds)
    assert manifest.embedders[0]["id"] == "features-v1"
    assert manifest.data["proteins"] == 30
    heldout = pd.read_csv(tiny_checkpoint / "heldout.csv")
    assert len(heldout) == 30 and set(heldout["partition"]) == {0, 1, 2, 3, 4}
    np.testing.assert_allclose(heldout[PROB_COLUMNS].sum(axis=1), 1.0, atol=1e-3)


def test_predict_writes_a_row_per_record_bad_ones_included(tiny_checkpoint, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(FASTA)
    code, out, err = run_cli(["predict", "-f", str(fasta), "-o", str(tmp_path / "out"),
                              "-m", str(tiny_checkpoint)])
    assert code == 0, err
    table = pd.read_csv(tmp_path / "out" / "results.csv", keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert table["ID"].tolist() == ["good1", "dna", "good2", "short"]
    assert table.loc[1, "Error"] and "DNA" in table.loc[1, "Error"]
    assert "short" in table.loc[3, "Error"].lower()
    for i in (0, 2):
        assert table.loc[i, "Localization"] in CLASSES
        assert table.loc[i, "Error"] == ""
        assert sum(float(v) for v in table.loc[i, PROB_COLUMNS]) == pytest.approx(1.0, abs=1e-3)
    assert "4 records, 2 predicted, 2 with errors" in out


def test_predict_json_with_attention(tiny_checkpoint, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(FASTA)
    code, _, err = run_cli(["predict", "-f", str(fasta), "-o", str(tmp_path), "-m",
                            str(tiny_checkpoint), "--format", "json", "-p", "-g", "positive"])
    assert code == 0, err
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["organism_group"] == "positive"
    first = doc["results"][0]
    assert len(first["Attention"]["mean"]) == len(GOOD)
    assert len(first["Attention"]["heads"]) == 2
    # Gram-positive: no outer membrane or periplasm.
    assert first["Outer Membrane"] == 0 and first["Periplasmic"] == 0
    assert doc["results"][1]["Error"]


def test_ensemble_averages_folds_and_reports_spread(tiny_checkpoint):
    predictor = EnsemblePredictor.from_dir(tiny_checkpoint)
    records = parse_text(f">a\n{GOOD}")
    pred = predictor.predict(records, attention=True)[0]
    seq = torch.from_numpy(predictor.embedders[0].embed([GOOD])[0])[None]
    per_fold = []
    for model, t in zip(predictor.models, predictor.temperatures):
        logits, _ = model([seq], torch.tensor([len(GOOD)]))
        per_fold.append(torch.softmax(logits / t, -1)[0].detach().numpy())
    np.testing.assert_allclose(pred.probabilities, np.mean(per_fold, axis=0), atol=1e-5)
    np.testing.assert_allclose(pred.spread, np.std(per_fold, axis=0), atol=1e-5)
    assert pred.attention.shape == (2, len(GOOD))
    np.testing.assert_allclose(pred.attention.sum(axis=1), 1.0, atol=1e-4)


def test_batched_prediction_equals_one_by_one(tiny_checkpoint):
    predictor = EnsemblePredictor.from_dir(tiny_checkpoint)
    records = parse_text(FASTA)
    together = predictor.predict(records)
    for record, joint in zip(records, together):
        alone = predictor.predict([record])[0]
        if joint is None:
            assert alone is None
        else:
            np.testing.assert_allclose(joint.probabilities, alone.probabilities, atol=1e-5)


def test_available_checkpoints_lists_default_first(tmp_path, tiny_checkpoint):
    import shutil

    for name in ("zeta", "default", "alpha"):
        shutil.copytree(tiny_checkpoint, tmp_path / name)
    (tmp_path / "not_a_set").mkdir()
    assert [p.name for p in available_checkpoints(tmp_path)] == ["default", "alpha", "zeta"]


def test_pickle_weights_are_refused(tiny_checkpoint, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_checkpoint, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["folds"][0]["weights"] = "fold_0.pt"
    torch.save({"x": torch.zeros(1)}, bad / "fold_0.pt")
    (bad / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run_cli(["predict", "-f", str(bad / "manifest.json"), "-o", str(tmp_path),
                            "-m", str(bad)])
    assert code == 1
    assert "only .safetensors" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "-f", "missing.fasta", "-o", "{tmp}/x"], "does not exist"),
        (["predict", "-f", "{fasta}", "-o", "{tmp}/x", "-m", "{tmp}"], "manifest.json is missing"),
    ],
)
def test_user_errors_are_one_line(args, message, tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(FASTA)
    args = [a.format(fasta=fasta, tmp=tmp_path) for a in args]
    code, _, err = run_cli(args)
    assert code == 1
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists()  # no output folder for a run that cannot start


def test_corrupt_weights_give_a_clear_error(tiny_checkpoint, tmp_path):
    import shutil

    bad = tmp_path / "corrupt"
    shutil.copytree(tiny_checkpoint, bad)
    (bad / "fold_2.safetensors").write_bytes(b"not a safetensors file")
    fasta = tmp_path / "in.fasta"
    fasta.write_text(FASTA)
    code, _, err = run_cli(["predict", "-f", str(fasta), "-o", str(tmp_path), "-m", str(bad)])
    assert code == 1 and "fold_2.safetensors is not a valid safetensors file" in err


def test_embed_command_is_resumable(tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(FASTA)
    cache = tmp_path / "cache"
    code, out, err = run_cli(["embed", "-f", str(fasta), "--embedder", "features-v1", "--out", str(cache)])
    assert code == 0, err
    assert out.startswith("2 computed, 0 already cached, 2 invalid")
    code, out, _ = run_cli(["embed", "-f", str(fasta), "--embedder", "features-v1", "--out", str(cache)])
    assert out.startswith("0 computed, 2 already cached")
    assert len(list(cache.rglob("*.safetensors"))) == 2


def test_unavailable_device_is_a_clear_error(tiny_checkpoint, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    fasta = tmp_path / "in.fasta"
    fasta.write_text(FASTA)
    code, _, err = run_cli(["predict", "-f", str(fasta), "-o", str(tmp_path), "-m",
                            str(tiny_checkpoint), "-d", "cuda"])
    assert code == 1 and "cuda" in err.lower() and "Traceback" not in err


def test_console_entry_point_runs(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "protloc", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("protloc ")
    result = subprocess.run([sys.executable, "-m", "protloc", "predict"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "required" in result.stderr


def test_train_sources_unknown_is_one_clear_error(tmp_path):
    import synthetic
    from conftest import TINY_CONFIG

    data = synthetic.write_dataset(tmp_path / "data", per_class=5, seed=1)
    config = tmp_path / "c.yaml"
    config.write_text(TINY_CONFIG + "train_sources: [nonexistent]\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["train", "--data", str(data), "--config", str(config), "--out", str(tmp_path / "o"),
                 "--cache", str(tmp_path / "cache")], stdout=out, stderr=err)
    assert code != 0
    assert "train_sources ['nonexistent'] are not sources" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_train_sources_keeps_the_test_fold_whole(tmp_path):
    import synthetic
    from conftest import TINY_CONFIG

    data = synthetic.write_dataset(tmp_path / "data", per_class=5, seed=1)
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    table.loc[table.index % 2 == 0, "source"] = "weak"  # half the proteins: not for training
    table.to_csv(data / "dataset.tsv", sep="\t", index=False)
    config = tmp_path / "c.yaml"
    config.write_text(TINY_CONFIG.replace("epochs: 2", "epochs: 1") + "train_sources: [synthetic]\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["train", "--data", str(data), "--config", str(config), "--out", str(tmp_path / "o"),
                 "--cache", str(tmp_path / "cache"), "--folds", "0"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    heldout = pd.read_csv(tmp_path / "o" / "heldout.csv")
    assert sorted(heldout["id"]) == sorted(table.loc[table["partition"] == 0, "id"])
    n_train = int(((table["partition"] >= 2) & (table["source"] == "synthetic")).sum())
    assert f"fold 0: train {n_train}," in err.getvalue()


def test_model_by_shipped_name_and_unknown_name(tmp_path):
    import io

    from protloc.cli import main
    from protloc.predictor import DEFAULT_CHECKPOINT, resolve_checkpoint

    assert resolve_checkpoint("default") == DEFAULT_CHECKPOINT
    assert resolve_checkpoint(str(DEFAULT_CHECKPOINT)) == DEFAULT_CHECKPOINT
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">a\nMKKLLPTAAAGLLLLAAQPAMA\n")
    err = io.StringIO()
    code = main(["predict", "-f", str(fasta), "-o", str(tmp_path / "out"), "-m", "no-such-model"],
                stdout=io.StringIO(), stderr=err)
    assert code != 0 and "no checkpoint set 'no-such-model'" in err.getvalue()
    assert "default" in err.getvalue()
