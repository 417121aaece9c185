"""ProstT5 encoder embeddings (amino-acid mode) through transformers.

ProstT5 is a T5 encoder-decoder; only the encoder is used. Input preparation follows the model
card: upper-case residues (lower case means 3Di structure tokens to ProstT5), the rare residues
U, Z, O, B (and anything else outside the 20 + X) replaced by X, residues separated by spaces and
the prefix ``<AA2fold>`` prepended. The tokenizer then yields ``<AA2fold>``, one token per residue
and ``</s>``; the prefix and end tokens are stripped so that row ``i`` is residue ``i`` (the token
count is asserted). Half precision is used on CUDA only.

transformers is imported lazily, so importing :mod:`protloc.embedders` stays cheap.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import UserError
from .base import (
    Embedder,
    check_sequences,
    length_sorted_batches,
    offline_requested,
    pick_device,
    resolve_half,
)

DEFAULT_PROSTT5_MODEL = "Rostlab/ProstT5"
AA_PREFIX = "<AA2fold>"
_NON_STANDARD = re.compile(r"[^ACDEFGHIKLMNPQRSTVWYX]")


def load_prostt5(model_name: str = DEFAULT_PROSTT5_MODEL, local_path: str | os.PathLike | None = None):
    """Return ``(T5EncoderModel, T5Tokenizer)`` from a local directory or the Hugging Face hub.

    A local directory is read with ``local_files_only=True``. A hub name is first looked up in
    the local Hugging Face cache, then (unless HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE /
    PROTLOC_OFFLINE is set) downloaded; huggingface_hub's own timeouts apply. Failures become a
    :class:`UserError` that says how to work offline.
    """
    try:
        from transformers import T5EncoderModel, T5Tokenizer
    except ImportError as exc:  # pragma: no cover - transformers is a pinned dependency
        raise UserError(f"ProstT5 needs transformers and sentencepiece: {exc}") from None

    if local_path is not None:
        path = Path(local_path).expanduser()
        if not path.is_dir():
            raise UserError(f"ProstT5 directory not found: {path}")
        attempts = [(str(path), True)]
    else:
        attempts = [(model_name, True)]
        if not offline_requested():
            attempts.append((model_name, False))
    errors = []
    for source, local_only in attempts:
        try:
            tokenizer = T5Tokenizer.from_pretrained(
                source, do_lower_case=False, legacy=True, local_files_only=local_only
            )
            model = T5EncoderModel.from_pretrained(source, local_files_only=local_only)
            return model, tokenizer
        except Exception as exc:  # transformers raises OSError, ValueError, HTTP errors...
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    where = f"the directory {local_path}" if local_path is not None else f"{model_name!r}"
    raise UserError(
        f"Could not load ProstT5 from {where} ({errors[-1]}). Without internet access, download "
        f"the model (e.g. `huggingface-cli download {DEFAULT_PROSTT5_MODEL} --local-dir DIR`) on "
        "another machine and pass that directory as the ProstT5 local path (local_path=DIR), or "
        "pre-fill the Hugging Face cache (HF_HOME)."
    )


class ProstT5Embedder(Embedder):
    """Last encoder layer of ProstT5 in amino-acid mode: shape (L, d_model=1024 for ProstT5).

    ``id`` is ``<last part of model_name>-AA`` (``ProstT5-AA``); a local copy of the same model
    shares the id. ``token_budget`` bounds padded tokens (incl. prefix and ``</s>``) per pass.
    """

    kind = "prostt5"

    def __init__(
        self,
        model_name: str = DEFAULT_PROSTT5_MODEL,
        local_path: str | os.PathLike | None = None,
        device: Any = None,
        token_budget: int = 4096,
        half: bool | None = None,
        max_batch: int = 64,
    ) -> None:
        if token_budget < 1:
            raise UserError(f"token_budget must be >= 1, got {token_budget}.")
        device_ = pick_device(device)
        model, tokenizer = load_prostt5(model_name, local_path)
        self._setup(model, tokenizer, model_name, device_, token_budget, half, max_batch)
        self.local_path = str(local_path) if local_path is not None else None

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        name: str = DEFAULT_PROSTT5_MODEL,
        device: Any = None,
        token_budget: int = 4096,
        half: bool | None = None,
        max_batch: int = 64,
    ) -> "ProstT5Embedder":
        """Wrap an already built ``T5EncoderModel`` and ``T5Tokenizer`` (tests, notebooks)."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, name, pick_device(device), token_budget, half, max_batch)
        self.local_path = None
        return self

    def _setup(self, model, tokenizer, name, device, token_budget, half, max_batch) -> None:
        self.model_name = name
        self.device = device
        self.half = resolve_half(half, device)
        self.token_budget = int(token_budget)
        self.max_batch = int(max_batch)
        self.tokenizer = tokenizer
        model = model.eval().to(device)
        self.model = model.half() if self.half else model.float()
        self.dim = int(model.config.d_model)
        self.id = f"{name.rstrip('/').split('/')[-1]}-AA"
        prefix_id = tokenizer.convert_tokens_to_ids(AA_PREFIX)
        if prefix_id is None or prefix_id == tokenizer.unk_token_id:
            raise UserError(f"The ProstT5 tokenizer for {name} has no {AA_PREFIX} token.")
        self._prefix_id = prefix_id

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind, "id": self.id, "model_name": self.model_name}
        if self.local_path is not None:
            spec["local_path"] = self.local_path
        return spec

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        import torch

        seqs = check_sequences(sequences)
        out: list[np.ndarray] = [np.empty((0, self.dim), dtype=np.float32) for _ in seqs]
        todo = [i for i, s in enumerate(seqs) if s]
        lengths = [len(seqs[i]) + 2 for i in todo]
        for batch in length_sorted_batches(lengths, self.token_budget, self.max_batch):
            items = [todo[b] for b in batch]
            texts = [f"{AA_PREFIX} " + " ".join(_NON_STANDARD.sub("X", seqs[i])) for i in items]
            enc = self.tokenizer(
                texts, add_special_tokens=True, padding="longest", return_tensors="pt"
            )
            ids, mask = enc["input_ids"], enc["attention_mask"]
            for row, i in enumerate(items):
                n_tokens = int(mask[row].sum())
                if n_tokens != len(seqs[i]) + 2 or int(ids[row, 0]) != self._prefix_id:
                    raise RuntimeError(
                        f"ProstT5 tokenizer produced {n_tokens} tokens for {len(seqs[i])} residues "
                        f"(expected {AA_PREFIX} + one token per residue + </s>)."
                    )
            with torch.inference_mode():
                hidden = self.model(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
                ).last_hidden_state
                hidden = hidden.float().cpu().numpy()
            for row, i in enumerate(items):
                n = len(seqs[i])
                out[i] = np.ascontiguousarray(hidden[row, 1 : 1 + n], dtype=np.float32)
        return out
