"""The ``evidence-v1`` and ``evidence-v2`` streams: TMHMM 2.0 topology, signal-peptide type and
cleavage site, sortase anchors and the C-terminal aromatic, per residue (columns:
:data:`protloc.evidence.EVIDENCE_COLUMNS`). No weights; TMHMM's model file ships in
``pytmhmm-binaries``. About 0.1 s per 400-residue protein on one core (the HMM's forward and
backward passes), so it is cached like the language-model streams. The two versions differ only
in the signal-peptidase I site rule (:data:`protloc.evidence.CLEAVAGE_BY_STREAM`): v1's A-X-A,
which the shipped UniRep models read, and v2's von Heijne rule, which finds far more signal
peptides."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import UserError
from ..evidence import CLEAVAGE_BY_STREAM, EVIDENCE_DIM, evidence_matrix
from .base import Embedder, check_sequences

EVIDENCE_ID = "evidence-v1"  # what an evidence spec without a version means (older manifests)


class EvidenceEmbedder(Embedder):
    kind = "evidence"

    def __init__(self, version: int = 1) -> None:
        self.id = f"evidence-v{version}"
        if self.id not in CLEAVAGE_BY_STREAM:
            raise UserError(f"no evidence stream {self.id!r}; known: "
                            f"{', '.join(CLEAVAGE_BY_STREAM)}")
        self.version = version
        self.dim = EVIDENCE_DIM

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind, "id": self.id}
        if self.version != 1:
            spec["version"] = self.version
        return spec

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        cleavage = CLEAVAGE_BY_STREAM[self.id]
        return [evidence_matrix(seq, cleavage=cleavage) for seq in check_sequences(sequences)]
