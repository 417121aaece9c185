"""Embedding cache entries are verified when read (issue 16, case 12): a damaged entry is
recomputed and reported, never reused or counted as cached, and no temporary file stays."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest

import synthetic
from protloc.cli import main
from protloc.embedders import CachedEmbedder, EmbeddingCache, FeatureEmbedder, embed_records
from protloc.embedders import cache as cache_module

SEQ = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"


def flip_last_byte(path) -> None:
    """Damage the numbers only: the file still opens as safetensors, with the same size."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40
    path.write_bytes(bytes(data))


def test_an_entry_whose_numbers_changed_is_recomputed_and_reported(tmp_path) -> None:
    embedder = FeatureEmbedder()
    cache = EmbeddingCache(tmp_path)
    good = CachedEmbedder(embedder, cache).embed([SEQ])[0]
    path = cache.path(embedder.id, SEQ)
    flip_last_byte(path)
    cached = CachedEmbedder(embedder, cache)
    again = cached.embed([SEQ])[0]
    assert cached.last_computed == 1  # not reused
    np.testing.assert_array_equal(again, good)
    assert cache.damaged == [path]
    np.testing.assert_array_equal(cache.get(embedder.id, SEQ), good)  # rewritten, good again


def test_a_truncated_entry_is_not_counted_as_cached(tmp_path) -> None:
    embedder = FeatureEmbedder()
    cache = EmbeddingCache(tmp_path)
    embed_records({"p": SEQ}, embedder, cache, progress=False)
    path = cache.path(embedder.id, SEQ)
    path.write_bytes(path.read_bytes()[:-100])
    counts = embed_records({"p": SEQ}, embedder, cache, progress=False)
    assert counts["computed"] == 1 and counts["cached"] == 0 and counts["damaged"] == 1
    assert cache.get(embedder.id, SEQ) is not None


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch) -> None:
    cache = EmbeddingCache(tmp_path)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("safetensors.numpy.save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.put("x", SEQ, np.ones((len(SEQ), 3)))
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_stale_temporary_files_of_killed_runs_are_removed(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path)
    folder = cache.path("x", SEQ).parent
    folder.mkdir(parents=True)
    stale, fresh = folder / ".abc.stale.tmp", folder / ".abc.fresh.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"another process is writing this one")
    old = time.time() - 2 * cache_module.STALE_TMP_SECONDS
    os.utime(stale, (old, old))
    cache.put("x", SEQ, np.ones((len(SEQ), 3)))
    assert not stale.exists() and fresh.exists()


def test_predict_reports_recomputed_cache_entries(tmp_path) -> None:
    checkpoint = synthetic.write_random_checkpoint(tmp_path / "ckpt")
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">p\n{SEQ}\n")
    args = ["predict", "-f", str(fasta), "-o", str(tmp_path / "out"), "-m", str(checkpoint),
            "--cache", str(tmp_path / "cache")]
    assert main(args, stdout=io.StringIO(), stderr=io.StringIO()) == 0
    flip_last_byte(EmbeddingCache(tmp_path / "cache").path("features-v1", SEQ))
    err = io.StringIO()
    assert main(args, stdout=io.StringIO(), stderr=err) == 0
    assert "recomputed 1 damaged embedding cache entry" in err.getvalue()
