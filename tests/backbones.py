"""Tiny randomly initialised backbones shaped like the real ones (no downloads), shared by the
embedder tests, the reproduce end-to-end test and the benchmarks.

* :func:`tiny_esm2` / :func:`save_official_checkpoint`: a fair-esm ESM-2 and the released ``.pt``
  layout (fairseq-style state dict, ``cfg["model"]`` as an ``argparse.Namespace``).
* :func:`build_tokenizer` / :func:`build_model` / :func:`save_prostt5_dir`: a T5 encoder with a
  sentencepiece vocabulary built in code, shaped like ProstT5's (one piece per residue,
  ``<AA2fold>`` prefix), optionally saved as a ``save_pretrained`` folder.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import torch

from benchmarks._common import LETTERS, build_tokenizer  # noqa: F401  (shared with the benchmarks)


def tiny_esm2(seed: int = 0, num_layers: int = 2, embed_dim: int = 32, heads: int = 4):
    import esm

    torch.manual_seed(seed)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(
        num_layers=num_layers, embed_dim=embed_dim, attention_heads=heads, alphabet=alphabet
    )
    return model.eval(), alphabet


def save_official_checkpoint(model, path: Path, regression: bool = True) -> Path:
    """Write ``model`` the way the released ESM-2 ``.pt`` files are laid out: a fairseq-style
    state dict (``encoder.sentence_encoder.`` / ``encoder.`` prefixes) and ``cfg["model"]`` as an
    ``argparse.Namespace``; contact-regression weights in ``<stem>-contact-regression.pt``."""
    cfg = argparse.Namespace(
        encoder_layers=model.num_layers,
        encoder_embed_dim=model.embed_dim,
        encoder_ffn_embed_dim=4 * model.embed_dim,
        encoder_attention_heads=model.attention_heads,
        token_dropout=True,
        max_positions=1024,
    )
    state, reg = {}, {}
    for key, value in model.state_dict().items():
        if key.startswith("contact_head.regression"):
            reg[key] = value.clone()
        elif key.startswith("lm_head"):
            state[f"encoder.{key}"] = value.clone()
        else:
            state[f"encoder.sentence_encoder.{key}"] = value.clone()
    torch.save({"model": state, "cfg": {"model": cfg}, "args": None}, path)
    if regression:
        torch.save({"model": reg}, path.with_name(f"{path.stem}-contact-regression.pt"))
    return path


def build_model(vocab_size: int, seed: int = 0, d_model: int = 16, d_kv: int = 8, d_ff: int = 32,
                num_layers: int = 1, num_heads: int = 2):
    """A randomly initialised T5 encoder (ReLU feed-forward, as ProstT5's)."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.T5Config(
        vocab_size=vocab_size, d_model=d_model, d_kv=d_kv, d_ff=d_ff, num_layers=num_layers,
        num_heads=num_heads, decoder_start_token_id=0,
    )
    return transformers.T5EncoderModel(config).eval()


def save_prostt5_dir(directory: Path, seed: int = 0, **sizes) -> Path:
    """A tiny ProstT5-like encoder + tokenizer folder as ``save_pretrained`` writes it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    model = build_model(len(tokenizer), seed=seed, **sizes)
    tokenizer.save_pretrained(directory)
    model.save_pretrained(directory)
    return directory
