"""On-disk embedding cache: one safetensors file per (embedder id, sequence).

Layout: ``<root>/<safe embedder id>/<sha256[:2]>/<sha256 of the sequence>.safetensors``. Each file
holds one tensor ``"embedding"`` of shape (L, dim) plus metadata (embedder id, sequence, dtype).
Writes go to a temporary file in the same directory followed by ``os.replace``, so a reader (or an
interrupted run) never sees half a file, and a rerun simply skips what is already there; temporary
files a killed run left behind are removed once they are :data:`STALE_TMP_SECONDS` old.
The default root is ``$PROTLOC_CACHE`` or ``~/.cache/protloc/embeddings``.

Each entry stores the SHA-256 of its numbers (metadata ``sha256``). ``get`` checks it, the shape and
the sequence, so a damaged entry (truncated, or its numbers changed on disk) is a miss, recorded in
``EmbeddingCache.damaged`` and recomputed by its caller; ``contains`` checks the file's header and
size only (cheap: ``embed_records`` calls it for every sequence). Entries written before checksums
were stored are checked for shape and sequence only.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .base import Embedder, check_sequences

CACHE_FORMAT = "protloc-embedding-v1"
#: A temporary file this old was left by a killed run (a live write takes seconds).
STALE_TMP_SECONDS = 3600
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
        self.damaged: list[Path] = []  # entries found damaged (then recomputed by the caller)
        self._swept: set[Path] = set()  # folders already cleared of stale temporary files

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r}, dtype={self.dtype!r})"

    def path(self, embedder_id: str, sequence: str) -> Path:
        digest = sequence_hash(sequence)
        return self.root / safe_embedder_id(embedder_id) / digest[:2] / f"{digest}.safetensors"

    def contains(self, embedder_id: str, sequence: str) -> bool:
        """Whether a sound-looking entry exists: its header is read (safetensors checks the
        file's size against it), not its numbers; counters unchanged, damage recorded."""
        from safetensors import safe_open

        path = self.path(embedder_id, sequence)
        if not path.is_file():
            return False
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = fh.metadata() or {}
                shape = fh.get_slice("embedding").get_shape()
        except Exception:  # truncated or foreign file
            shape, meta = None, {}
        if shape is None or len(shape) != 2 or shape[0] != len(sequence) or \
                meta.get("sequence", sequence) != sequence:
            self._note_damaged(path)
            return False
        return True

    def get(self, embedder_id: str, sequence: str) -> np.ndarray | None:
        """The cached (L, dim) float32 array, or None. A damaged entry is a miss (and recorded)."""
        path = self.path(embedder_id, sequence)
        try:
            arr = _read_verified(path, sequence)
        except FileNotFoundError:
            arr = None
        except _Damaged:
            self._note_damaged(path)
            arr = None
        if arr is None:
            self.misses += 1
            return None
        self.hits += 1
        return np.ascontiguousarray(arr, dtype=np.float32)

    def _note_damaged(self, path: Path) -> None:
        if path not in self.damaged:
            self.damaged.append(path)

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
        self._sweep(path.parent)
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
                    "sha256": hashlib.sha256(arr.tobytes()).hexdigest(),
                },
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return arr.astype(np.float32)

    def _sweep(self, folder: Path) -> None:
        """Remove temporary files killed runs left in ``folder`` (once per folder and cache)."""
        if folder in self._swept:
            return
        self._swept.add(folder)
        cutoff = time.time() - STALE_TMP_SECONDS
        for tmp in folder.glob(".*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:  # another process removed or renamed it first
                pass


class _Damaged(Exception):
    """A cache file that exists but cannot be trusted."""


def _read_verified(path: Path, sequence: str) -> np.ndarray:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            arr = fh.get_tensor("embedding")
    except FileNotFoundError:
        raise
    except Exception as exc:  # truncated / foreign file
        raise _Damaged(str(exc)) from None
    if meta.get("sequence", sequence) != sequence or arr.ndim != 2 or arr.shape[0] != len(sequence):
        raise _Damaged("shape or sequence differs")
    digest = meta.get("sha256")
    if digest is not None and hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest() != digest:
        raise _Damaged("checksum differs")
    return arr


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
    (records with an empty sequence, skipped), ``damaged`` (entries found damaged, recomputed).
    """
    from tqdm.auto import tqdm

    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    if isinstance(embedder, CachedEmbedder):
        embedder = embedder.inner
    items = list(sequences_by_id.items()) if isinstance(sequences_by_id, Mapping) else list(sequences_by_id)
    seqs = check_sequences([seq for _, seq in items])
    unique = list(dict.fromkeys(s for s in seqs if s))
    damaged_before = len(cache.damaged)
    pending = sorted((s for s in unique if not cache.contains(embedder.id, s)), key=len)
    counts = {
        "records": len(items),
        "unique": len(unique),
        "computed": 0,
        "cached": len(unique) - len(pending),
        "empty": sum(1 for s in seqs if not s),
        "damaged": len(cache.damaged) - damaged_before,
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
