"""On-disk embedding cache: one safetensors file per (embedder id, sequence).

Layout: ``<root>/<safe embedder id>/<sha256[:2]>/<sha256 of the sequence>.safetensors``. Each file
holds one tensor ``"embedding"`` of shape (L, dim) plus metadata (embedder id, sequence, dtype).
Writes go to a temporary file in the same directory followed by ``os.replace``, so a reader (or an
interrupted run) never sees half a file, and a rerun simply skips what is already there.
The default root is ``$PROTLOC_CACHE`` or ``~/.cache/protloc/embeddings``.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .base import Embedder, check_sequences

CACHE_FORMAT = "protloc-embedding-v1"
_DTYPES = {"float32": np.float32, "float16": np.float16}


def default_cache_root() -> Path:
    """``$PROTLOC_CACHE`` if set, else ``~/.cache/protloc/embeddings``."""
    env = os.environ.get("PROTLOC_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "protloc" / "embeddings"


def safe_embedder_id(embedder_id: str) -> str:
    """A directory name for an embedder id. Ids that need changing get a short hash suffix so
    that two ids never share a directory."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder_id).strip("._") or "embedder"
    if safe != embedder_id:
        safe += "-" + hashlib.sha256(embedder_id.encode("utf-8")).hexdigest()[:8]
    return safe


def sequence_hash(sequence: str) -> str:
    return hashlib.sha256(sequence.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Per-residue embeddings on disk. ``get`` returns float32 whatever the stored ``dtype``."""

    def __init__(self, root: str | os.PathLike | None = None, dtype: str = "float32") -> None:
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        self.root = Path(root).expanduser() if root is not None else default_cache_root()
        self.dtype = dtype
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r}, dtype={self.dtype!r})"

    def path(self, embedder_id: str, sequence: str) -> Path:
        digest = sequence_hash(sequence)
        return self.root / safe_embedder_id(embedder_id) / digest[:2] / f"{digest}.safetensors"

    def contains(self, embedder_id: str, sequence: str) -> bool:
        """Whether an entry exists (no read, counters unchanged)."""
        return self.path(embedder_id, sequence).is_file()

    def get(self, embedder_id: str, sequence: str) -> np.ndarray | None:
        """The cached (L, dim) float32 array, or None. Unreadable or mismatching files are misses."""
        from safetensors import safe_open

        path = self.path(embedder_id, sequence)
        arr = None
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                if meta.get("sequence", sequence) == sequence and "embedding" in fh.keys():
                    arr = fh.get_tensor("embedding")
        except FileNotFoundError:
            pass
        except Exception:  # truncated / foreign file: recompute and overwrite
            arr = None
        if arr is None or arr.ndim != 2 or arr.shape[0] != len(sequence):
            self.misses += 1
            return None
        self.hits += 1
        return np.ascontiguousarray(arr, dtype=np.float32)

    def put(self, embedder_id: str, sequence: str, embedding: np.ndarray) -> np.ndarray:
        """Store atomically; returns the array as it will be read back (float32, rounded through
        float16 when the cache stores float16)."""
        from safetensors.numpy import save_file

        arr = np.ascontiguousarray(embedding, dtype=_DTYPES[self.dtype])
        if arr.ndim != 2 or arr.shape[0] != len(sequence):
            raise ValueError(
                f"embedding shape {arr.shape} does not match a sequence of {len(sequence)} residues"
            )
        path = self.path(embedder_id, sequence)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}.", suffix=".tmp")
        os.close(fd)
        try:
            save_file(
                {"embedding": arr},
                tmp,
                metadata={
                    "format": CACHE_FORMAT,
                    "embedder_id": embedder_id,
                    "sequence": sequence,
                    "dtype": self.dtype,
                },
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return arr.astype(np.float32)


class CachedEmbedder(Embedder):
    """An embedder that reads from / writes to an :class:`EmbeddingCache`.

    Same ``id``, ``dim`` and ``spec()`` as the wrapped embedder. ``embed`` computes only the cache
    misses (each distinct sequence once, in a single call to the inner embedder).
    ``last_computed`` is the number of sequences the last call computed.
    """

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.inner = embedder
        self.cache = cache
        self.id = embedder.id
        self.dim = embedder.dim
        self.kind = embedder.kind
        self.last_computed = 0

    def spec(self) -> dict[str, Any]:
        return self.inner.spec()

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        seqs = check_sequences(sequences)
        found: dict[str, np.ndarray] = {}
        missing: dict[str, None] = {}  # ordered set
        for seq in seqs:
            if seq in found or seq in missing:
                continue
            arr = self.cache.get(self.id, seq)
            if arr is not None and arr.shape[1] == self.dim:
                found[seq] = arr
            else:
                missing[seq] = None
        self.last_computed = len(missing)
        if missing:
            computed = self.inner.embed(list(missing))
            for seq, emb in zip(missing, computed):
                _check_output(self.inner, seq, emb)
                found[seq] = self.cache.put(self.id, seq, emb)
        out, used = [], set()
        for seq in seqs:
            out.append(found[seq] if seq not in used else found[seq].copy())
            used.add(seq)
        return out


def _check_output(embedder: Embedder, seq: str, emb: np.ndarray) -> None:
    if emb.shape != (len(seq), embedder.dim):
        raise RuntimeError(
            f"{embedder.id} returned shape {emb.shape} for a sequence of {len(seq)} residues "
            f"(expected ({len(seq)}, {embedder.dim}))"
        )


def embed_records(
    sequences_by_id: Mapping[str, str] | Iterable[tuple[str, str]],
    embedder: Embedder,
    cache: EmbeddingCache,
    progress: bool = True,
    chunk: int = 64,
) -> dict[str, int]:
    """Fill ``cache`` with the embeddings of all records; resumable.

    Sequences already in the cache are skipped, distinct sequences are embedded once, shortest
    first, ``chunk`` sequences per call to the embedder, each chunk written before the next starts
    (an interrupted run loses at most one chunk). A tqdm bar counting residues goes to stderr.

    Returns counts: ``records`` (input records), ``unique`` (distinct non-empty sequences),
    ``computed`` and ``cached`` (distinct sequences embedded now / found in the cache), ``empty``
    (records with an empty sequence, skipped).
    """
    from tqdm.auto import tqdm

    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    if isinstance(embedder, CachedEmbedder):
        embedder = embedder.inner
    items = list(sequences_by_id.items()) if isinstance(sequences_by_id, Mapping) else list(sequences_by_id)
    seqs = check_sequences([seq for _, seq in items])
    unique = list(dict.fromkeys(s for s in seqs if s))
    pending = sorted((s for s in unique if not cache.contains(embedder.id, s)), key=len)
    counts = {
        "records": len(items),
        "unique": len(unique),
        "computed": 0,
        "cached": len(unique) - len(pending),
        "empty": sum(1 for s in seqs if not s),
    }
    with tqdm(
        total=sum(len(s) for s in pending),
        unit="aa",
        unit_scale=True,
        file=sys.stderr,
        disable=not progress,
        desc=f"embedding {len(pending)} sequences ({embedder.id})",
    ) as bar:
        for start in range(0, len(pending), chunk):
            part = pending[start : start + chunk]
            for seq, emb in zip(part, embedder.embed(part)):
                _check_output(embedder, seq, emb)
                cache.put(embedder.id, seq, emb)
            counts["computed"] += len(part)
            bar.update(sum(len(s) for s in part))
    return counts
