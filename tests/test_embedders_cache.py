"""EmbeddingCache, CachedEmbedder and embed_records."""

from __future__ import annotations

import hashlib
import json
import struct

import esm
import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from protloc.embedders import (
    CachedEmbedder,
    ESM2Embedder,
    EmbeddingCache,
    FeatureEmbedder,
    default_cache_root,
    embed_records,
)
from protloc.embedders.base import Embedder
from protloc.embedders.cache import safe_embedder_id


class CountingEmbedder(Embedder):
    """Wraps an embedder and records every call."""

    kind = "counting"

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    def spec(self):
        return self.inner.spec()

    def embed(self, sequences):
        self.calls.append(list(sequences))
        return self.inner.embed(sequences)

    @property
    def computed(self) -> int:
        return sum(len(c) for c in self.calls)


SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "ACDEFGHIKLMNPQRSTVWY", "MKX", "GGGGSGGGGS" * 5]


@pytest.fixture
def counting():
    return CountingEmbedder(FeatureEmbedder())


def test_second_call_computes_nothing(tmp_path, counting):
    cache = EmbeddingCache(tmp_path)
    cached = CachedEmbedder(counting, cache)
    assert (cached.id, cached.dim, cached.spec()) == (counting.id, counting.dim, counting.spec())
    first = cached.embed(SEQS + [SEQS[0]])  # a duplicate is computed once
    assert counting.calls == [SEQS]  # misses computed in one call
    assert cached.last_computed == 4 and cache.misses == 4 and cache.hits == 0
    second = cached.embed(SEQS + [SEQS[0]])
    assert len(counting.calls) == 1 and cached.last_computed == 0
    assert cache.hits == 4
    for a, b in zip(first, second):
        assert a.dtype == b.dtype == np.float32
        assert np.array_equal(a, b)
    for seq, arr in zip(SEQS, second):
        assert np.array_equal(arr, FeatureEmbedder().embed([seq])[0])
    # a new sequence alongside cached ones: only it is computed
    cached.embed(["MPEPTIDE"] + SEQS)
    assert counting.calls[-1] == ["MPEPTIDE"]
    # a fresh cache object over the same directory sees the files
    assert CachedEmbedder(counting, EmbeddingCache(tmp_path)).embed(SEQS) and len(counting.calls) == 2


def test_files_are_safetensors_in_documented_layout(tmp_path, counting):
    cache = EmbeddingCache(tmp_path)
    CachedEmbedder(counting, cache).embed(SEQS[:1])
    digest = hashlib.sha256(SEQS[0].encode()).hexdigest()
    path = tmp_path / "features-v1" / digest[:2] / f"{digest}.safetensors"
    assert cache.path("features-v1", SEQS[0]) == path and path.is_file()
    tensors = load_file(str(path))
    assert list(tensors) == ["embedding"]
    assert tensors["embedding"].shape == (len(SEQS[0]), counting.dim)
    header_len = struct.unpack("<Q", path.read_bytes()[:8])[0]
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert header["embedding"]["dtype"] == "F32"
    assert header["__metadata__"]["embedder_id"] == "features-v1"
    assert header["__metadata__"]["sequence"] == SEQS[0]
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".safetensors"]


def test_float16_option(tmp_path, counting):
    cache = EmbeddingCache(tmp_path, dtype="float16")
    cached = CachedEmbedder(counting, cache)
    first = cached.embed(SEQS)
    second = cached.embed(SEQS)
    assert len(counting.calls) == 1
    exact = FeatureEmbedder().embed(SEQS)
    for a, b, c in zip(first, second, exact):
        assert a.dtype == np.float32 and np.array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-3, atol=1e-3)
    stored = load_file(str(cache.path(counting.id, SEQS[0])))["embedding"]
    assert stored.dtype == np.float16
    with pytest.raises(ValueError):
        EmbeddingCache(tmp_path, dtype="int8")


def test_get_put_and_corruption(tmp_path):
    cache = EmbeddingCache(tmp_path)
    assert cache.get("x", "MK") is None and cache.misses == 1
    with pytest.raises(ValueError, match="does not match"):
        cache.put("x", "MK", np.zeros((3, 4)))
    cache.put("x", "MK", np.ones((2, 4)))
    assert not cache.contains("x", "MKT") and cache.contains("x", "MK")
    np.testing.assert_array_equal(cache.get("x", "MK"), np.ones((2, 4), np.float32))
    cache.path("x", "MK").write_bytes(b"\x00garbage")
    assert cache.get("x", "MK") is None  # unreadable file: a miss, recomputed later
    counting = CountingEmbedder(FeatureEmbedder())
    cache.path(counting.id, "MKT").parent.mkdir(parents=True, exist_ok=True)
    cache.path(counting.id, "MKT").write_bytes(b"truncated")
    out = CachedEmbedder(counting, cache).embed(["MKT"])
    assert counting.calls == [["MKT"]] and out[0].shape == (3, counting.dim)
    assert cache.get(counting.id, "MKT") is not None


def test_safe_embedder_id_and_default_root(tmp_path, monkeypatch):
    assert safe_embedder_id("esm2_t33_650M_UR50D-L33") == "esm2_t33_650M_UR50D-L33"
    odd = safe_embedder_id("Rostlab/ProstT5 AA")
    assert "/" not in odd and " " not in odd and odd != safe_embedder_id("Rostlab_ProstT5_AA")
    monkeypatch.setenv("PROTLOC_CACHE", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
    assert EmbeddingCache().root == tmp_path / "c"
    monkeypatch.delenv("PROTLOC_CACHE")
    assert default_cache_root().parts[-3:] == (".cache", "protloc", "embeddings")


def test_embed_records_resumable(tmp_path, counting, capsys):
    cache = EmbeddingCache(tmp_path)
    records = {f"p{i}": s for i, s in enumerate(SEQS)}
    records["dup"] = SEQS[0]
    records["empty"] = ""
    first = embed_records(list(records.items())[:2], counting, cache, progress=False)
    assert first == {"records": 2, "unique": 2, "computed": 2, "cached": 0, "empty": 0, "damaged": 0}
    counts = embed_records(records, counting, cache, progress=True, chunk=1)
    assert counts == {"records": 6, "unique": 4, "computed": 2, "cached": 2, "empty": 1, "damaged": 0}
    assert counting.calls[1:] == [[s] for s in sorted(SEQS[2:], key=len)]  # chunk=1, shortest first
    assert "embedding 2 sequences" in capsys.readouterr().err
    again = embed_records(records, CachedEmbedder(counting, cache), cache, progress=False)
    assert again["computed"] == 0 and again["cached"] == 4 and len(counting.calls) == 3
    for seq in SEQS:
        assert cache.get(counting.id, seq) is not None


def test_cached_esm2_identical_arrays(tmp_path):
    torch.manual_seed(0)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(num_layers=2, embed_dim=32, attention_heads=4, alphabet=alphabet)
    inner = CountingEmbedder(ESM2Embedder.from_model(model, alphabet, name="esm2_t2_tiny"))
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path))
    first = cached.embed(SEQS)
    second = cached.embed(SEQS)
    assert len(inner.calls) == 1
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert (tmp_path / "esm2_t2_tiny-L2").is_dir()
