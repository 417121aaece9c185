"""ESM2Embedder with a tiny randomly initialised fair-esm ESM-2 (no downloads)."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import urllib.error
from pathlib import Path

import esm
import numpy as np
import pytest
import torch

from protloc.embedders import ESM2Embedder, make_embedder
from protloc.embedders.esm2 import (
    esm_hub_path,
    esm_safe_globals,
    load_esm_checkpoint,
    plan_windows,
)
from protloc.errors import UserError
from backbones import save_official_checkpoint, tiny_esm2

RNG = np.random.default_rng(7)
AA = list("ACDEFGHIKLMNPQRSTVWY")


def random_protein(n: int) -> str:
    return "".join(RNG.choice(AA, size=n))


@pytest.fixture(scope="module")
def tiny():
    return tiny_esm2()


@pytest.fixture(scope="module")
def embedder(tiny):
    model, alphabet = tiny
    return ESM2Embedder.from_model(model, alphabet, name="esm2_t2_tiny", device="cpu")


def test_identity(embedder):
    assert embedder.id == "esm2_t2_tiny-L2"
    assert embedder.dim == 32
    spec = embedder.spec()
    assert json.loads(json.dumps(spec)) == spec
    assert spec["kind"] == "esm2" and spec["repr_layer"] == 2


def test_alignment_various_lengths_and_rare_residues(embedder):
    seqs = ["M", "MK", random_protein(37), "MKUZOBXJ*", random_protein(300), "", "mktay"]
    out = embedder.embed(seqs)
    assert [o.shape for o in out] == [(len(s), 32) for s in seqs]
    assert all(o.dtype == np.float32 and o.flags.c_contiguous for o in out)
    assert all(np.isfinite(o).all() for o in out)
    # lower case is upper-cased; unknown letters (J, *) are embedded as X
    assert np.allclose(out[-1], embedder.embed(["MKTAY"])[0], atol=1e-6)
    assert np.allclose(embedder.embed(["MKJ"])[0], embedder.embed(["MKX"])[0], atol=1e-6)


def test_matches_fair_esm_directly(tiny, embedder):
    model, alphabet = tiny
    seq = random_protein(50)
    _, _, tokens = alphabet.get_batch_converter()([("p", seq)])
    with torch.no_grad():
        ref = model(tokens, repr_layers=[2])["representations"][2][0, 1:-1].numpy()
    assert np.allclose(embedder.embed([seq])[0], ref, atol=1e-5)


def test_repr_layer_choice(tiny):
    model, alphabet = tiny
    emb = ESM2Embedder.from_model(model, alphabet, name="esm2_t2_tiny", repr_layer=1)
    assert emb.id == "esm2_t2_tiny-L1"
    assert ESM2Embedder.from_model(model, alphabet, name="x", repr_layer=-1).repr_layer == 2
    seq = random_protein(20)
    assert not np.allclose(emb.embed([seq])[0], ESM2Embedder.from_model(model, alphabet).embed([seq])[0])
    with pytest.raises(UserError, match="out of range"):
        ESM2Embedder.from_model(model, alphabet, repr_layer=5)


def test_batched_equals_one_by_one(tiny):
    model, alphabet = tiny
    seqs = [random_protein(n) for n in (5, 80, 33, 120, 7, 64, 64, 1)]
    big = ESM2Embedder.from_model(model, alphabet, token_budget=100_000)
    small = ESM2Embedder.from_model(model, alphabet, token_budget=150, max_batch=3)
    batched, few = big.embed(seqs), small.embed(seqs)
    single = [big.embed([s])[0] for s in seqs]
    for b, f, s in zip(batched, few, single):
        np.testing.assert_allclose(b, s, atol=1e-4)
        np.testing.assert_allclose(f, s, atol=1e-4)


@pytest.mark.parametrize("length", [51, 100, 130, 1000, 2001])
@pytest.mark.parametrize("window,overlap", [(50, 10), (50, 0), (40, 39), (1022, 256)])
def test_plan_windows_tiles(length, window, overlap):
    plan = plan_windows(length, window, overlap)
    if length <= window:
        assert plan == [(0, length, 0, length)]
        return
    assert plan[0][0] == 0 and plan[-1][1] == length
    assert all(end - start == window for start, end, _, _ in plan)
    assert [lo for _, _, lo, _ in plan][1:] == [hi for _, _, _, hi in plan][:-1]
    assert plan[0][2] == 0 and plan[-1][3] == length
    for (s1, e1, _, _), (s2, _, _, _) in zip(plan, plan[1:]):
        assert e1 - s2 >= overlap  # consecutive windows overlap at least as asked
    for start, end, lo, hi in plan:
        assert start <= lo < hi <= end


def test_windowing_long_protein(tiny):
    model, alphabet = tiny
    seq = random_protein(130)
    emb = ESM2Embedder.from_model(model, alphabet, name="esm2_t2_tiny", window=50, overlap=10)
    assert emb.id == "esm2_t2_tiny-L2-w50o10"
    out = emb.embed([seq])[0]
    assert out.shape == (130, 32)
    plan = plan_windows(130, 50, 10)
    assert plan == [(0, 50, 0, 45), (40, 90, 45, 85), (80, 130, 85, 130)]
    direct = ESM2Embedder.from_model(model, alphabet).embed([seq[s:e] for s, e, _, _ in plan])
    # residues 50..79 are covered by the middle window only
    np.testing.assert_allclose(out[50:80], direct[1][10:40], atol=1e-5)
    # every residue comes from the window where it is furthest from an edge
    for (start, _, lo, hi), win in zip(plan, direct):
        np.testing.assert_allclose(out[lo:hi], win[lo - start : hi - start], atol=1e-5)
    # a short protein is not windowed: same result as without windowing
    short = random_protein(50)
    np.testing.assert_allclose(
        emb.embed([short])[0], ESM2Embedder.from_model(model, alphabet).embed([short])[0], atol=1e-5
    )
    with pytest.raises(UserError, match="overlap"):
        ESM2Embedder.from_model(model, alphabet, window=50, overlap=50)


def test_no_half_precision_on_cpu():
    model, alphabet = tiny_esm2()
    emb = ESM2Embedder.from_model(model, alphabet, device="cpu", half=True)
    assert emb.half is False
    assert next(emb.model.parameters()).dtype == torch.float32
    assert emb.embed(["MKT"])[0].dtype == np.float32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_half_precision_on_cuda():
    model, alphabet = tiny_esm2()
    seqs = [random_protein(n) for n in (30, 200, 7)]
    ref = ESM2Embedder.from_model(model, alphabet, device="cpu").embed(seqs)
    gpu = ESM2Embedder.from_model(tiny_esm2()[0], alphabet, device="cuda")
    assert gpu.half and next(gpu.model.parameters()).dtype == torch.float16
    for a, b in zip(gpu.embed(seqs), ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=0.05, rtol=0.05)


# --- loading checkpoints ---------------------------------------------------------------------


@pytest.mark.parametrize("regression", [True, False])
def test_local_official_format_loads_with_weights_only(tmp_path, tiny, embedder, regression):
    model, _ = tiny
    path = save_official_checkpoint(model, tmp_path / "esm2_t2_tiny.pt", regression=regression)
    emb = ESM2Embedder(weights_path=path, device="cpu")
    assert emb.id == "esm2_t2_tiny-L2" == embedder.id
    seqs = [random_protein(40), "MKUX"]
    for a, b in zip(emb.embed(seqs), embedder.embed(seqs)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    spec = emb.spec()
    assert spec["weights_path"] == str(path)
    rebuilt = make_embedder(json.loads(json.dumps(spec)), device="cpu")
    assert rebuilt.id == emb.id
    np.testing.assert_allclose(rebuilt.embed(seqs)[0], emb.embed(seqs)[0], atol=1e-6)


@pytest.mark.skipif(
    bool(os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")), reason="weights_only forced off"
)
def test_fair_esm_loader_needs_and_accepts_allowlist(tmp_path, tiny):
    """fair-esm's own load_model_and_alphabet_local (default weights_only=True under torch>=2.6)
    refuses the official format, and works inside esm_safe_globals()."""
    model, _ = tiny
    path = save_official_checkpoint(model, tmp_path / "esm2_t2_tiny.pt")
    with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
        esm.pretrained.load_model_and_alphabet_local(str(path))
    with esm_safe_globals():
        loaded, alphabet = esm.pretrained.load_model_and_alphabet_local(str(path))
    assert isinstance(alphabet, esm.data.Alphabet)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


class _Payload:
    """Pickles as a call to os.makedirs: running it would create ``self.target``."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.makedirs, (self.target,))


def test_malicious_checkpoint_is_refused(tmp_path, tiny):
    model, _ = tiny
    marker = tmp_path / "pwned"
    path = tmp_path / "esm2_t2_evil.pt"
    state = {f"encoder.sentence_encoder.{k}": v for k, v in model.state_dict().items()}
    cfg = argparse.Namespace(encoder_layers=2, encoder_embed_dim=32,
                             encoder_attention_heads=4, token_dropout=True)
    torch.save({"model": state, "cfg": {"model": cfg}, "extra": _Payload(str(marker))}, path)
    with pytest.raises(UserError, match="Refusing to load"):
        ESM2Embedder(weights_path=path, device="cpu")
    with pytest.raises(UserError, match="Refusing to load"):
        load_esm_checkpoint(path)
    assert not marker.exists()


def test_bad_local_paths(tmp_path):
    with pytest.raises(UserError, match="not found"):
        ESM2Embedder(weights_path=tmp_path / "nope.pt", device="cpu")
    junk = tmp_path / "esm2_junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError):
        ESM2Embedder(weights_path=junk, device="cpu")
    plain = tmp_path / "esm2_plain.pt"
    torch.save({"weights": torch.zeros(3)}, plain)
    with pytest.raises(UserError, match="not a fair-esm checkpoint"):
        ESM2Embedder(weights_path=plain, device="cpu")


def test_hub_name_uses_torch_home_cache(tmp_path, monkeypatch, tiny, embedder):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PROTLOC_OFFLINE", "1")
    path = esm_hub_path("esm2_t2_tiny")
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "esm2_t2_tiny.pt"
    path.parent.mkdir(parents=True)
    save_official_checkpoint(tiny[0], path, regression=False)
    emb = make_embedder({"id": "esm2_t2_tiny-L2"}, device="cpu")
    assert emb.id == "esm2_t2_tiny-L2"
    np.testing.assert_allclose(emb.embed(["MKT"])[0], embedder.embed(["MKT"])[0], atol=1e-6)


def test_hub_offline_fails_fast_with_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PROTLOC_OFFLINE", "1")
    with pytest.raises(UserError, match="weights_path") as info:
        ESM2Embedder(model_name="esm2_t6_8M_UR50D", device="cpu")
    assert "TORCH_HOME" in str(info.value)


def test_hub_network_failure_becomes_user_error(tmp_path, monkeypatch):
    for var in ("PROTLOC_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    calls = []

    def no_network(url, timeout=None):
        calls.append((url, timeout))
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    with pytest.raises(UserError, match="Could not download ESM model esm2_t6_8M_UR50D"):
        ESM2Embedder(model_name="esm2_t6_8M_UR50D", device="cpu")
    assert calls and calls[0][1] is not None and calls[0][1] <= 60  # a timeout is always set
    assert not list((tmp_path / "torch").rglob("*.part"))
    with pytest.raises(UserError, match="Invalid ESM model name"):
        ESM2Embedder(model_name="../../etc/passwd", device="cpu")
