"""The embedder interface and helpers shared by every embedder.

An embedder turns protein sequences into per-residue feature matrices. The contract, relied on
by the cache, the fusion model and the checkpoint manifests:

* ``id`` is a stable string naming the embedder *and every setting that changes its output*
  (for example ``esm2_t33_650M_UR50D-L33``). It is the cache key and is written into checkpoint
  manifests, so two embedders with the same id must produce the same numbers (up to float
  precision: half precision on a GPU and float32 on a CPU share an id).
* ``dim`` is the width of every output row.
* ``embed(sequences)`` returns one ``float32`` array of shape ``(len(seq), dim)`` per input
  sequence, in input order, row ``i`` belonging to residue ``i``.
* ``spec()`` returns JSON-serialisable settings from which
  :func:`protloc.embedders.make_embedder` rebuilds an equivalent embedder. Run-time choices that do
  not change the output (device, batch size, precision) are not part of it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from ..errors import UserError

if TYPE_CHECKING:  # torch is imported lazily so that the feature embedder stays light
    import torch


class Embedder(ABC):
    """Per-residue embedder. Subclasses set :attr:`id` and :attr:`dim` in ``__init__``."""

    #: Short registry name used in specs (``"features"``, ``"esm2"``, ``"prostt5"``).
    kind: ClassVar[str] = ""
    #: Stable identifier, encodes every setting that changes the output.
    id: str
    #: Number of features per residue.
    dim: int

    @abstractmethod
    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        """One float32 array of shape ``(len(seq), dim)`` per sequence, in input order."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-serialisable settings; ``make_embedder(spec())`` rebuilds this embedder."""

    def embed_one(self, sequence: str) -> np.ndarray:
        """Convenience wrapper around :meth:`embed` for a single sequence."""
        return self.embed([sequence])[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, dim={self.dim})"


def check_sequences(sequences: Sequence[str]) -> list[str]:
    """Validate the argument of :meth:`Embedder.embed` and return it as upper-case strings.

    Nothing is stripped: every input character gets one output row (embedders read characters
    they do not know as X). A bare string is rejected: iterating over it would silently embed
    single letters.
    """
    if isinstance(sequences, (str, bytes)):
        raise TypeError("embed() takes a sequence of protein sequences, not a single string")
    out = []
    for seq in sequences:
        if not isinstance(seq, str):
            raise TypeError(f"protein sequences must be str, got {type(seq).__name__}")
        out.append(seq.upper())
    return out


def length_sorted_batches(
    lengths: Sequence[int], token_budget: int, max_batch: int | None = None
) -> list[list[int]]:
    """Group item indices into batches whose *padded* size stays within ``token_budget``.

    Items are sorted by length, longest first (so a batch that does not fit in memory fails at
    once rather than at the end of a long run), and added greedily while
    ``len(batch) * max_length_in_batch <= token_budget`` and ``len(batch) <= max_batch``.
    An item longer than the budget on its own gets a batch of its own. Ties keep input order.
    Every index appears exactly once.
    """
    if token_budget < 1:
        raise ValueError("token_budget must be >= 1")
    if max_batch is not None and max_batch < 1:
        raise ValueError("max_batch must be >= 1")
    order = sorted(range(len(lengths)), key=lambda i: (-int(lengths[i]), i))
    batches: list[list[int]] = []
    current: list[int] = []
    current_max = 0
    for idx in order:
        length = max(int(lengths[idx]), 1)
        new_max = max(current_max, length)
        fits = (len(current) + 1) * new_max <= token_budget
        room = max_batch is None or len(current) < max_batch
        if current and fits and room:
            current.append(idx)
            current_max = new_max
        else:
            if current:
                batches.append(current)
            current, current_max = [idx], length
    if current:
        batches.append(current)
    return batches


def pick_device(name: "str | torch.device | None" = None) -> "torch.device":
    """Resolve a device name.

    ``None``/``"auto"``: CUDA if available, else Apple MPS if available, else CPU. An explicit
    device that this machine cannot use raises :class:`~protloc.errors.UserError`.
    """
    import torch

    if name is None or (isinstance(name, str) and name.strip().lower() in ("", "auto")):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name.strip().lower() if isinstance(name, str) else name)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(
            f"Unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps."
        ) from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(
                f"Device {name!r} was requested but CUDA is not available (this torch "
                f"{torch.__version__} build has no CUDA support or no GPU is visible); "
                "use --device cpu or --device auto."
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise UserError(
                f"Device {name!r} was requested but only {count} CUDA device(s) are visible."
            )
        return device
    if device.type == "mps":
        if not _mps_available():
            raise UserError(
                f"Device {name!r} was requested but Apple MPS is not available on this machine; "
                "use --device cpu or --device auto."
            )
        return device
    raise UserError(f"Unsupported device {name!r}: use auto, cpu, cuda, cuda:N or mps.")


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    try:
        return bool(mps is not None and mps.is_available())
    except Exception:  # pragma: no cover - exotic builds
        return False


def resolve_half(half: bool | None, device: "torch.device") -> bool:
    """Half precision is used on CUDA only: ``None`` means "on CUDA yes", and a request for
    half precision on any other device is ignored (CPU kernels are slow and inaccurate in fp16).
    """
    if device.type != "cuda":
        return False
    return True if half is None else bool(half)


def offline_requested() -> bool:
    """True when the user asked for no network access (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE /
    PROTLOC_OFFLINE set to a true value). Read at call time, not import time."""
    import os

    for var in ("PROTLOC_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False
