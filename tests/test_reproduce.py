"""``protloc reproduce`` end to end on tiny random backbones (ESM-2 .pt file in the official
layout + a save_pretrained T5 encoder folder) and a tiny synthetic dataset: embed into a float16
cache, train 5 folds from the cache, evaluate, and a rerun that redoes nothing."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

import synthetic
from conftest import TINY_CONFIG
from backbones import save_official_checkpoint, save_prostt5_dir, tiny_esm2
from protloc.cli import main
from protloc.commands import reproduce as R
from protloc.errors import UserError

# The tiny synthetic config of conftest.py, on the two backbones of configs/paper.yaml.
TINY_PAPER_CONFIG = TINY_CONFIG.replace("name: tiny-synthetic", "name: tiny-paper").replace(
    "  - id: features-v1\n", "  - id: esm2_t33_650M_UR50D-L33\n  - id: ProstT5-AA\n"
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduce")
    esm_path = save_official_checkpoint(tiny_esm2()[0], root / "esm2_t2_tiny.pt", regression=False)
    t5_dir = save_prostt5_dir(root / "prostt5")
    data = synthetic.write_dataset(root / "data", per_class=4, seed=2)
    config = root / "tiny_paper.yaml"
    config.write_text(TINY_PAPER_CONFIG)
    out = root / "checkpoints" / "tiny-paper"
    argv = ["reproduce", "--data", str(data), "--config", str(config), "--out", str(out),
            "--cache", str(root / "cache"), "-d", "cpu", "--esm-weights", str(esm_path),
            "--prostt5-path", str(t5_dir)]
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(argv, stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    return {"root": root, "data": data, "out": out, "argv": argv, "cache": root / "cache",
            "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def cache_files(cache: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime_ns for p in cache.rglob("*.safetensors")}


def test_writes_a_checkpoint_set_the_app_can_select(setup):
    from protloc.predictor import EnsemblePredictor, available_checkpoints
    from protloc.sequences import parse_text

    out = setup["out"]
    manifest = json.loads((out / "manifest.json").read_text())
    ids = [e["id"] for e in manifest["embedders"]]
    # other weights than the config names: the ids are the ones those weights give
    assert ids == ["esm2_t2_tiny-L2", "ProstT5-AA"]
    assert manifest["embedders"][0]["weights_path"].endswith("esm2_t2_tiny.pt")
    assert manifest["embedders"][1]["local_path"].endswith("prostt5")
    assert manifest["model"]["config"]["input_dims"] == [32, 16]
    assert sorted(f["test_fold"] for f in manifest["folds"]) == [0, 1, 2, 3, 4]
    assert all((out / f["weights"]).is_file() for f in manifest["folds"])
    heldout = (out / "heldout.csv").read_text().splitlines()
    assert len(heldout) == 1 + 6 * 4
    assert (out / "results.json").is_file() and (out / "results.md").is_file()
    assert "accuracy" in setup["stdout"]
    assert out in available_checkpoints(out.parent)
    # The backbone files the user gave lie outside the set: loading it needs the user's consent
    # (allow_external_weights), and reproduce says so, naming them.
    with pytest.raises(UserError, match="--allow-external-weights"):
        EnsemblePredictor.from_dir(out, device="cpu")
    assert "--allow-external-weights" in setup["stdout"]
    assert "esm2_t2_tiny.pt" in setup["stdout"] and "prostt5" in setup["stdout"]
    predictor = EnsemblePredictor.from_dir(out, device="cpu", allow_external_weights=True)
    [pred] = predictor.predict(parse_text(">q\nMKKLLIVAAALLAGSAQAEKTTSNQW\n"))
    assert abs(float(pred.probabilities.sum()) - 1) < 1e-5


def test_cache_is_float16_and_matches_the_backbones(setup):
    from protloc.embedders import make_embedder

    files = cache_files(setup["cache"])
    table = (setup["data"] / "dataset.tsv").read_text().splitlines()
    assert len(files) == 2 * (len(table) - 1)
    for path in list(files)[:4]:
        with safe_open(str(path), framework="numpy") as fh:
            assert fh.get_tensor("embedding").dtype == np.float16
            assert fh.metadata()["dtype"] == "float16"
    manifest = json.loads((setup["out"] / "manifest.json").read_text())
    from protloc.embedders import EmbeddingCache

    cache = EmbeddingCache(setup["cache"])
    header = table[0].split("\t")
    seq = table[1].split("\t")[header.index("sequence")]
    for spec in manifest["embedders"]:
        fresh = make_embedder(spec, device="cpu").embed([seq])[0]
        np.testing.assert_allclose(cache.get(spec["id"], seq), fresh, rtol=2e-3, atol=2e-3)


def test_rerun_redoes_nothing_and_never_loads_a_backbone(setup, monkeypatch):
    before = cache_files(setup["cache"])
    weights = {p: p.stat().st_mtime_ns for p in setup["out"].glob("fold_*.safetensors")}

    def no_backbone(*args, **kwargs):
        raise AssertionError("a backbone was loaded although everything is cached")

    monkeypatch.setattr(R, "make_embedder", no_backbone)
    stderr = io.StringIO()
    assert main(setup["argv"], stdout=io.StringIO(), stderr=stderr) == 0, stderr.getvalue()
    log = stderr.getvalue()
    assert log.count("backbone not loaded") == 2
    assert log.count("already trained, skipping") == 5
    assert cache_files(setup["cache"]) == before
    assert {p: p.stat().st_mtime_ns for p in setup["out"].glob("fold_*.safetensors")} == weights


def test_interrupted_embedding_resumes_with_the_missing_sequences_only(setup, tmp_path):
    out = tmp_path / "ckpt"
    argv = list(setup["argv"])
    argv[argv.index("--out") + 1] = str(out)
    argv += ["--folds", "0", "--skip-evaluate"]
    assert main(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 0  # state file, fold 0
    files = sorted(cache_files(setup["cache"]))
    files[0].unlink()
    files[-1].unlink()
    stderr = io.StringIO()
    assert main(argv, stdout=io.StringIO(), stderr=stderr) == 0, stderr.getvalue()
    log = stderr.getvalue()
    assert log.count("1 embedded") == 2 or "2 embedded" in log
    assert "fold 0: already trained, skipping" in log
    assert sorted(cache_files(setup["cache"])) == files
    state = json.loads((out / "reproduce.json").read_text())
    assert state["device"] == "cpu" and len(state["embedders"]) == 2


def test_embedder_request_keeps_config_ids_without_weight_options():
    none = argparse.Namespace(esm_weights=None, esm_model=None, prostt5_path=None,
                              prostt5_model=None)
    assert R.embedder_request({"id": "ProstT5-AA"}, none) == {"id": "ProstT5-AA"}
    some = argparse.Namespace(esm_weights=Path("/w/esm2_t33_650M_UR50D.pt"), esm_model=None,
                              prostt5_path=None, prostt5_model="me/ProstT5-copy")
    assert R.embedder_request("esm2_t33_650M_UR50D-L33", some) == {
        "kind": "esm2", "weights_path": "/w/esm2_t33_650M_UR50D.pt"}
    assert R.embedder_request({"id": "esm2_t33_650M_UR50D-L33-w512o64"}, some)["window"] == 512
    assert R.embedder_request({"id": "ProstT5-AA"}, some) == {
        "kind": "prostt5", "model_name": "me/ProstT5-copy"}


def test_external_files_are_those_outside_the_checkpoint_folder(tmp_path):
    out = tmp_path / "ckpt"
    specs = [{"id": "e", "weights_path": str(tmp_path / "esm.pt")},
             {"id": "p", "local_path": str(out / "ProstT5")},
             {"id": "r", "weights_path": "weights/unirep.npz"},  # relative: inside the folder
             {"id": "features-v1"}]
    assert R.external_files(specs, out) == [str(tmp_path / "esm.pt")]
    assert R.external_files(specs[1:], out) == []


def test_default_config_is_the_paper_config():
    assert R.DEFAULT_CONFIG.is_file() and R.DEFAULT_CONFIG.name == "paper.yaml"


def test_embed_command_stores_float16_by_default(tmp_path):
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">a\nMKTAYIAKQRQISFVKSHFSRQ\n>b\nMSTNPKPQRKTKRNTNRRPQDVKFPGG\n")
    for flags, dtype in (([], np.float16), (["--float32"], np.float32)):
        cache = tmp_path / f"cache{len(flags)}"
        code = main(["embed", "-f", str(fasta), "--embedder", "features-v1", "--out", str(cache),
                     *flags], stdout=io.StringIO(), stderr=io.StringIO())
        assert code == 0
        files = list(cache.rglob("*.safetensors"))
        assert len(files) == 2
        with safe_open(str(files[0]), framework="numpy") as fh:
            assert fh.get_tensor("embedding").dtype == dtype


def test_bf16_training_precision_is_an_option_and_is_checked(tmp_path):
    import torch

    from protloc.embedders.features import FeatureEmbedder
    from protloc.model import FusionConfig
    from protloc.training import FoldData, TrainConfig, train_fold

    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8")
    assert TrainConfig().precision == "fp32"
    rows = synthetic.synthetic_table(per_class=3, seed=4)
    emb = FeatureEmbedder()
    arrays = [a.astype(np.float16) for a in emb.embed([r["sequence"] for r in rows])]
    labels = np.arange(len(rows)) % 6
    data = FoldData([[a] for a in arrays], labels)
    cfg = FusionConfig(input_dims=[emb.dim], hidden=16, cross_heads=2, lstm_hidden=8,
                       pool_heads=2, head_hidden=8, dropout=0.0)
    _, result = train_fold(cfg, TrainConfig(epochs=2, batch_size=6, precision="bf16"), data,
                           data, tmp_path, log=lambda m: None)
    log = np.loadtxt(tmp_path / "log.tsv", skiprows=1)
    assert result.epochs_run == 2 and np.isfinite(log[:, 1]).all()
    assert not torch.is_autocast_enabled("cpu")  # autocast left no state behind
