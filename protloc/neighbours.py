"""Homology evidence: the nearest labelled proteins of a query in a reference set shipped with a
checkpoint (``reference.fasta.gz``), found by SWORD's heuristic filter and Smith-Waterman
alignment (``pyswrd``, installed from PyPI; no system BLAST).

The top hit may also vote in the probabilities (:func:`vote`), with a weight chosen on
validation folds in cross-validation (:mod:`protloc.homology_mix`; the manifest's
``homology.weight``, 0 or absent: evidence only). Identity here is pyswrd's: identical positions
over the alignment's length (local alignment); coverage is the share of the query aligned.

The reference set holds only proteins from sources whose licences allow redistribution
(:data:`REDISTRIBUTABLE`): PSORTb 3.0's database (GPL-2+), LocTree3's Swiss-Prot set (GPL-3.0)
and DeepSecE (MIT). DeepLocPro's (CC BY-NC-SA) and the mPLoc sets (no licence) are left out.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .classes import class_index

REFERENCE_FILE = "reference.fasta.gz"
REDISTRIBUTABLE = ("psortb", "loctree3", "deepsece")
MAX_EVALUE = 1e-5


@dataclass(frozen=True)
class Neighbour:
    id: str
    label: str
    source: str
    identity: float  # identical positions / alignment length
    coverage: float  # aligned share of the query
    evalue: float


@dataclass
class ReferenceSet:
    ids: list[str]
    labels: list[str]
    sources: list[str]
    sequences: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: Sequence[bool]) -> "ReferenceSet":
        pick = [i for i, k in enumerate(keep) if k]
        return ReferenceSet(*([column[i] for i in pick] for column in
                              (self.ids, self.labels, self.sources, self.sequences)))


def write_reference(path: Path, ids, labels, sources, sequences) -> None:
    """FASTA (gzip) with ``label=`` and ``source=`` in each header; labels use ``_`` for spaces.
    Written with a fixed gzip mtime so that the same set gives the same bytes."""
    lines = []
    for pid, label, source, seq in zip(ids, labels, sources, sequences):
        lines.append(f">{pid} label={label.replace(' ', '_')} source={source}\n{seq}\n")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write("".join(lines).encode())


def read_reference(path: Path) -> ReferenceSet:
    from Bio import SeqIO

    ids, labels, sources, seqs = [], [], [], []
    with gzip.open(path, "rt") as handle:
        for record in SeqIO.parse(handle, "fasta"):
            fields = dict(f.split("=", 1) for f in record.description.split()[1:] if "=" in f)
            ids.append(record.id)
            labels.append(fields.get("label", "").replace("_", " "))
            sources.append(fields.get("source", ""))
            seqs.append(str(record.seq))
    return ReferenceSet(ids, labels, sources, seqs)


def nearest(
    queries: Sequence[str], reference: ReferenceSet, n: int = 5, max_evalue: float = MAX_EVALUE,
    threads: int = 1,
) -> list[list[Neighbour]]:
    """Up to ``n`` neighbours per query, best E-value first."""
    import pyswrd

    found: list[list[Neighbour]] = [[] for _ in queries]
    if not queries or not len(reference):
        return found
    hits = pyswrd.search(list(queries), reference.sequences, max_evalue=max_evalue,
                         max_alignments=n, threads=threads)
    for hit in hits:
        t = hit.target_index
        found[hit.query_index].append(Neighbour(
            reference.ids[t], reference.labels[t], reference.sources[t],
            round(float(hit.result.identity()), 4),
            round(float(hit.result.coverage("query")), 4), float(hit.evalue)))
    for row in found:
        row.sort(key=lambda nb: nb.evalue)
    return found


def vote(probs: np.ndarray, top: Sequence[Neighbour | None], weight: float) -> np.ndarray:
    """Each row's top hit adds ``weight * identity`` to its label's probability, renormalised;
    rows without a hit (None) and ``weight == 0`` leave the probabilities as they are."""
    out = np.array(probs, dtype=float, copy=True)
    for i, hit in enumerate(top):
        if hit is not None and weight > 0:
            out[i, class_index(hit.label)] += weight * hit.identity
            out[i] /= out[i].sum()
    return out
