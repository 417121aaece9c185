"""ProstT5Embedder with a tiny random T5 encoder and a sentencepiece vocabulary built in code."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from protloc.embedders import ProstT5Embedder, make_embedder
from protloc.errors import UserError
from backbones import LETTERS, build_model, build_tokenizer

transformers = pytest.importorskip("transformers")
spm = pytest.importorskip("sentencepiece")

RNG = np.random.default_rng(11)


def random_protein(n: int) -> str:
    return "".join(RNG.choice(list(LETTERS[:20]), size=n))


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    tokenizer = build_tokenizer(tmp_path_factory.mktemp("spm"))
    return build_model(len(tokenizer)), tokenizer


@pytest.fixture(scope="module")
def embedder(parts):
    model, tokenizer = parts
    return ProstT5Embedder.from_model(model, tokenizer, device="cpu")


def test_identity(embedder):
    assert embedder.id == "ProstT5-AA"
    assert embedder.dim == 16
    spec = embedder.spec()
    assert json.loads(json.dumps(spec)) == spec
    assert spec == {"kind": "prostt5", "id": "ProstT5-AA", "model_name": "Rostlab/ProstT5"}


def test_tokenization_is_one_token_per_residue(parts):
    _, tokenizer = parts
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("<AA2fold> M K X")["input_ids"])
    assert tokens == ["<AA2fold>", "▁M", "▁K", "▁X", "</s>"]


def test_alignment_various_lengths_and_rare_residues(embedder):
    seqs = ["M", "MK", random_protein(45), "MKUZOBXJ", random_protein(150), "", "mkt"]
    out = embedder.embed(seqs)
    assert [o.shape for o in out] == [(len(s), 16) for s in seqs]
    assert all(o.dtype == np.float32 and np.isfinite(o).all() for o in out)
    # U, Z, O, B (and other unknown letters) are read as X; lower case is upper-cased
    np.testing.assert_allclose(out[3], embedder.embed(["MKXXXXXX"])[0], atol=1e-6)
    np.testing.assert_allclose(out[-1], embedder.embed(["MKT"])[0], atol=1e-6)


def test_matches_model_directly(parts, embedder):
    model, tokenizer = parts
    seq = random_protein(30)
    enc = tokenizer(["<AA2fold> " + " ".join(seq)], return_tensors="pt")
    with torch.no_grad():
        ref = model(**enc).last_hidden_state[0, 1:-1].numpy()
    np.testing.assert_allclose(embedder.embed([seq])[0], ref, atol=1e-6)


def test_batched_equals_one_by_one(parts):
    model, tokenizer = parts
    seqs = [random_protein(n) for n in (3, 60, 17, 90, 1, 44, 44)]
    big = ProstT5Embedder.from_model(model, tokenizer, token_budget=100_000)
    small = ProstT5Embedder.from_model(model, tokenizer, token_budget=100, max_batch=2)
    single = [big.embed([s])[0] for s in seqs]
    for b, f, s in zip(big.embed(seqs), small.embed(seqs), single):
        np.testing.assert_allclose(b, s, atol=1e-4)
        np.testing.assert_allclose(f, s, atol=1e-4)


def test_no_half_precision_on_cpu(parts):
    _, tokenizer = parts
    emb = ProstT5Embedder.from_model(build_model(len(tokenizer)), tokenizer, device="cpu", half=True)
    assert emb.half is False
    assert next(emb.model.parameters()).dtype == torch.float32


def test_local_path_loading_and_spec_roundtrip(tmp_path, parts, embedder):
    model, tokenizer = parts
    directory = tmp_path / "prostt5"
    tokenizer.save_pretrained(directory)
    model.save_pretrained(directory)
    emb = ProstT5Embedder(local_path=directory, device="cpu")
    assert emb.id == "ProstT5-AA"
    seqs = [random_protein(25), "MUK"]
    for a, b in zip(emb.embed(seqs), embedder.embed(seqs)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    spec = emb.spec()
    assert spec["local_path"] == str(directory)
    rebuilt = make_embedder(json.loads(json.dumps(spec)), device="cpu")
    np.testing.assert_allclose(rebuilt.embed(seqs)[0], emb.embed(seqs)[0], atol=1e-6)


def test_offline_failure_is_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PROTLOC_OFFLINE", "1")
    with pytest.raises(UserError, match="local_path"):
        ProstT5Embedder(model_name="protloc-tests/no-such-model", device="cpu")
    with pytest.raises(UserError, match="not found"):
        ProstT5Embedder(local_path=tmp_path / "missing", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="Could not load ProstT5"):
        ProstT5Embedder(local_path=tmp_path / "empty", device="cpu")


def test_tokenizer_without_prefix_token_is_rejected(tmp_path):
    tokenizer = build_tokenizer(tmp_path, special=())
    with pytest.raises(UserError, match="<AA2fold>"):
        ProstT5Embedder.from_model(build_model(len(tokenizer)), tokenizer)
