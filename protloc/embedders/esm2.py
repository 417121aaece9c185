"""ESM-2 per-residue embeddings through fair-esm.

Loading, and why it is done here rather than by fair-esm's own helpers:

* fair-esm's ``load_model_and_alphabet_local`` calls ``torch.load(path)`` with the default
  ``weights_only``. Since torch 2.6 that default is ``True`` and the official ``.pt`` files are
  refused, because their ``cfg`` pickles an ``argparse.Namespace``. The default can also be
  flipped back to ``False`` by the environment variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``.
* fair-esm's hub path goes through ``torch.hub.load_state_dict_from_url``, whose ``weights_only``
  parameter defaults to ``False``: it would unpickle whatever the download contains.

So :func:`load_esm_checkpoint` does exactly what ``load_model_and_alphabet_local`` does (read the
file and the optional co-located ``<name>-contact-regression.pt``, then
``esm.pretrained.load_model_and_alphabet_core``) but with ``torch.load(weights_only=True)`` spelled
out and only ``argparse.Namespace`` allowlisted (:func:`esm_safe_globals`). Anything else in the
pickle (a function call, an unknown class) is refused with a :class:`UserError`. Hub models are
downloaded by :func:`load_esm_hub` into the torch hub cache (``$TORCH_HOME/hub/checkpoints``, the
same place fair-esm uses) with a network timeout, then loaded through the same safe path. The
contact-regression file is not needed for embeddings and is not downloaded.

Long proteins: ESM-2 was trained on crops of at most 1022 residues (+ BOS/EOS). A protein longer
than ``window`` residues is cut into ``n = ceil((L - overlap) / (window - overlap))`` windows of
exactly ``window`` residues, spread evenly from the N- to the C-terminus (consecutive windows
overlap by at least ``overlap`` residues). Stitching takes each residue from the window in which it
is furthest from an edge: every overlap is cut at its midpoint, the left half coming from the left
window and the right half from the right window. Unlike averaging, this never mixes in a
representation computed next to an artificial window edge (where context is missing), and each
residue's vector is one the model actually produced. A residue covered by a single window gets
exactly that window's vector.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import re
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from ..errors import UserError
from .base import (
    Embedder,
    check_sequences,
    length_sorted_batches,
    offline_requested,
    pick_device,
    resolve_half,
)

DEFAULT_ESM_MODEL = "esm2_t33_650M_UR50D"
DEFAULT_WINDOW = 1022
DEFAULT_OVERLAP = 256
ESM_MODEL_URL = "https://dl.fbaipublicfiles.com/fair-esm/models/{name}.pt"
DOWNLOAD_TIMEOUT_S = 30.0

#: The only non-tensor globals allowed in an ESM checkpoint: official files store their
#: configuration as ``argparse.Namespace`` (ESM-1 ``args``, ESM-2 ``cfg["model"]``).
ESM_SAFE_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


@contextmanager
def esm_safe_globals() -> Iterator[None]:
    """Allowlist :data:`ESM_SAFE_GLOBALS` for ``torch.load(weights_only=True)`` in this block.

    Also makes fair-esm's own ``esm.pretrained.load_model_and_alphabet_local`` work under
    torch >= 2.6 (as long as ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is not set).
    """
    with torch.serialization.safe_globals(list(ESM_SAFE_GLOBALS)):
        yield


def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load`` on CPU with ``weights_only=True`` and only :data:`ESM_SAFE_GLOBALS` allowed."""
    try:
        with esm_safe_globals():
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).strip().splitlines()
        reason = next((line for line in detail if "Unsupported" in line or "GLOBAL" in line), "")
        raise UserError(
            f"Refusing to load {path}: it contains Python objects other than weights and an "
            f"argparse.Namespace, which could run code when loaded. {reason.strip()} "
            "Use an official fair-esm checkpoint."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UserError(f"Cannot read the checkpoint {path}: {exc}") from None


def load_esm_checkpoint(path: str | os.PathLike) -> tuple[torch.nn.Module, Any]:
    """Load a fair-esm ``.pt`` checkpoint safely; returns ``(model, alphabet)``.

    Same semantics as ``esm.pretrained.load_model_and_alphabet_local``: the model name (which
    selects the ESM-2 or ESM-1 format) is the file's stem, and ``<stem>-contact-regression.pt``
    next to it is used when present (it is optional here; only contact prediction needs it).
    """
    import esm

    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"ESM weights file not found: {path}")
    data = safe_torch_load(path)
    if not isinstance(data, dict) or "model" not in data:
        raise UserError(f"{path} is not a fair-esm checkpoint (no 'model' entry).")
    name = path.stem
    regression_path = path.with_name(f"{name}-contact-regression.pt")
    regression = safe_torch_load(regression_path) if regression_path.is_file() else None
    # fair-esm picks the ESM-2 format by the name prefix; a renamed ESM-2 file still has "cfg".
    core_name = name if name.startswith("esm2") or "cfg" not in data else f"esm2_{name}"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Regression weights not found")
            model, alphabet = esm.pretrained.load_model_and_alphabet_core(
                core_name, data, regression
            )
    except (KeyError, AttributeError, ValueError, RuntimeError, TypeError) as exc:
        raise UserError(f"{path} is not a usable fair-esm ESM checkpoint: {exc}") from None
    return model, alphabet


def esm_hub_path(model_name: str) -> Path:
    """Where fair-esm/torch hub keep a downloaded model: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / f"{model_name}.pt"


def load_esm_hub(model_name: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> tuple[torch.nn.Module, Any]:
    """Load a named fair-esm model from the torch hub cache, downloading it if needed."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", model_name):
        raise UserError(f"Invalid ESM model name {model_name!r} (expected e.g. {DEFAULT_ESM_MODEL}).")
    path = esm_hub_path(model_name)
    if not path.is_file():
        hint = (
            f"Download {model_name}.pt (from {ESM_MODEL_URL.format(name=model_name)}) on a "
            "machine with internet access and pass its path as the ESM weights path "
            f"(weights_path=...), or copy it to {path.parent} (set TORCH_HOME to use another "
            "cache directory)."
        )
        if offline_requested():
            raise UserError(f"ESM model {model_name} is not in the local cache and offline mode is set. {hint}")
        _download(ESM_MODEL_URL.format(name=model_name), path, timeout, model_name, hint)
    return load_esm_checkpoint(path)


def _download(url: str, dest: Path, timeout: float, model_name: str, hint: str) -> None:
    """Stream ``url`` to ``dest`` atomically; any network failure becomes a UserError."""
    from tqdm.auto import tqdm

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (fixed https URL)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise UserError(f"Unknown ESM model {model_name!r}: {url} does not exist.") from None
        raise UserError(f"Could not download ESM model {model_name} ({exc}). {hint}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise UserError(f"Could not download ESM model {model_name} ({exc}). {hint}") from None
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        total = int(response.headers.get("Content-Length") or 0) or None
        with os.fdopen(fd, "wb") as fh, response, tqdm(
            total=total, unit="B", unit_scale=True, file=sys.stderr, desc=f"downloading {model_name}"
        ) as bar:
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                fh.write(block)
                bar.update(len(block))
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise UserError(f"Download of ESM model {model_name} failed ({exc}). {hint}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def plan_windows(length: int, window: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Windows for a protein of ``length`` residues: ``(start, end, keep_start, keep_end)``.

    ``[start, end)`` is embedded; residues ``[keep_start, keep_end)`` of the result are kept.
    The kept ranges tile ``[0, length)`` exactly (see the module docstring).
    """
    if length <= window:
        return [(0, length, 0, length)]
    n = math.ceil((length - overlap) / (window - overlap))
    starts = [(k * (length - window)) // (n - 1) for k in range(n)]
    cuts = [0] + [(starts[k + 1] + starts[k] + window) // 2 for k in range(n - 1)] + [length]
    return [(s, s + window, cuts[k], cuts[k + 1]) for k, s in enumerate(starts)]


class ESM2Embedder(Embedder):
    """Per-residue representations of one ESM-2 layer, BOS/EOS stripped: shape (L, embed_dim).

    ``id`` is ``<model name>-L<layer>`` (e.g. ``esm2_t33_650M_UR50D-L33``), with
    ``-w<window>o<overlap>`` appended when the windowing differs from 1022/256. With
    ``weights_path`` the model name is the file's stem (as in fair-esm, which recognises the
    architecture from it). ``half=None`` means float16 on CUDA; on CPU/MPS it is always float32.
    ``token_budget`` bounds padded tokens (incl. BOS/EOS) per forward pass.
    """

    kind = "esm2"

    def __init__(
        self,
        model_name: str = DEFAULT_ESM_MODEL,
        weights_path: str | os.PathLike | None = None,
        repr_layer: int | None = None,
        device: str | torch.device | None = None,
        token_budget: int = 8192,
        window: int = DEFAULT_WINDOW,
        overlap: int = DEFAULT_OVERLAP,
        half: bool | None = None,
        max_batch: int = 64,
    ) -> None:
        _check_window(window, overlap, token_budget)
        device_ = pick_device(device)  # fail on a bad device before loading gigabytes
        if weights_path is not None:
            model, alphabet = load_esm_checkpoint(weights_path)
            name = Path(weights_path).expanduser().stem
        else:
            model, alphabet = load_esm_hub(model_name)
            name = model_name
        self._setup(
            model, alphabet, name, repr_layer, device_, token_budget, window, overlap, half, max_batch
        )
        self.weights_path = str(weights_path) if weights_path is not None else None

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        alphabet: Any,
        name: str = "esm2-custom",
        repr_layer: int | None = None,
        device: str | torch.device | None = None,
        token_budget: int = 8192,
        window: int = DEFAULT_WINDOW,
        overlap: int = DEFAULT_OVERLAP,
        half: bool | None = None,
        max_batch: int = 64,
    ) -> "ESM2Embedder":
        """Wrap an already built fair-esm model (tests, notebooks)."""
        _check_window(window, overlap, token_budget)
        self = cls.__new__(cls)
        self._setup(
            model, alphabet, name, repr_layer, pick_device(device), token_budget, window,
            overlap, half, max_batch,
        )
        self.weights_path = None
        return self

    def _setup(
        self, model, alphabet, name, repr_layer, device, token_budget, window, overlap, half,
        max_batch,
    ) -> None:
        self.model_name = name
        self.device = device
        self.half = resolve_half(half, device)
        self.token_budget = int(token_budget)
        self.window = int(window)
        self.overlap = int(overlap)
        self.max_batch = int(max_batch)
        num_layers = getattr(model, "num_layers", None)
        if num_layers is None:
            num_layers = len(model.layers)
        layer = num_layers if repr_layer is None else int(repr_layer)
        if layer < 0:
            layer += num_layers + 1
        if not 0 <= layer <= num_layers:
            raise UserError(f"repr_layer {repr_layer} is out of range for {name} (0..{num_layers}).")
        self.repr_layer = layer
        self.num_layers = num_layers
        self.dim = int(getattr(model, "embed_dim", None) or model.embed_tokens.embedding_dim)
        self.alphabet = alphabet
        model = model.eval().to(device)
        self.model = model.half() if self.half else model.float()
        self.id = f"{name}-L{layer}"
        if (self.window, self.overlap) != (DEFAULT_WINDOW, DEFAULT_OVERLAP):
            self.id += f"-w{self.window}o{self.overlap}"
        # Characters -> token ids in one table lookup; anything unknown becomes X.
        x_idx = alphabet.get_idx("X")
        table = np.full(256, x_idx, dtype=np.int64)
        for tok, idx in alphabet.tok_to_idx.items():
            if len(tok) == 1 and tok.isalpha():
                table[ord(tok)] = idx
        self._token_table = table
        self._bos = alphabet.cls_idx if alphabet.prepend_bos else None
        self._eos = alphabet.eos_idx if alphabet.append_eos else None
        self._pad = alphabet.padding_idx

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "kind": self.kind,
            "id": self.id,
            "model_name": self.model_name,
            "repr_layer": self.repr_layer,
            "window": self.window,
            "overlap": self.overlap,
        }
        if self.weights_path is not None:
            spec["weights_path"] = self.weights_path
        return spec

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        seqs = check_sequences(sequences)
        fragments: list[str] = []
        plans: list[list[tuple[int, int, int, int, int]]] = []  # (frag, start, end, keep_lo, keep_hi)
        for seq in seqs:
            plan = []
            if seq:
                for start, end, lo, hi in plan_windows(len(seq), self.window, self.overlap):
                    plan.append((len(fragments), start, end, lo, hi))
                    fragments.append(seq[start:end])
            plans.append(plan)
        reps = self._embed_fragments(fragments)
        out = []
        for seq, plan in zip(seqs, plans):
            emb = np.empty((len(seq), self.dim), dtype=np.float32)
            for frag, start, _end, lo, hi in plan:
                emb[lo:hi] = reps[frag][lo - start : hi - start]
            out.append(emb)
        return out

    def _embed_fragments(self, fragments: list[str]) -> list[np.ndarray]:
        extra = int(self._bos is not None) + int(self._eos is not None)
        offset = int(self._bos is not None)
        lengths = [len(f) + extra for f in fragments]
        out: list[np.ndarray] = [None] * len(fragments)  # type: ignore[list-item]
        for batch in length_sorted_batches(lengths, self.token_budget, self.max_batch):
            width = max(lengths[i] for i in batch)
            tokens = np.full((len(batch), width), self._pad, dtype=np.int64)
            for row, i in enumerate(batch):
                raw = np.frombuffer(fragments[i].encode("ascii", errors="replace"), dtype=np.uint8)
                n = len(raw)
                tokens[row, offset : offset + n] = self._token_table[raw]
                if self._bos is not None:
                    tokens[row, 0] = self._bos
                if self._eos is not None:
                    tokens[row, offset + n] = self._eos
            with torch.inference_mode():
                result = self.model(
                    torch.from_numpy(tokens).to(self.device), repr_layers=[self.repr_layer]
                )
                rep = result["representations"][self.repr_layer].float().cpu().numpy()
            for row, i in enumerate(batch):
                n = len(fragments[i])
                out[i] = np.ascontiguousarray(rep[row, offset : offset + n], dtype=np.float32)
        return out


def _check_window(window: int, overlap: int, token_budget: int) -> None:
    if window < 1:
        raise UserError(f"window must be >= 1 residue, got {window}.")
    if not 0 <= overlap < window:
        raise UserError(f"overlap must be >= 0 and smaller than window ({window}), got {overlap}.")
    if token_budget < 1:
        raise UserError(f"token_budget must be >= 1, got {token_budget}.")
