"""The ``evidence-v1`` stream: TMHMM 2.0 topology, signal-peptide type and cleavage site,
sortase anchors and the C-terminal aromatic, per residue (columns:
:data:`protloc.evidence.EVIDENCE_COLUMNS`). No weights; TMHMM's model file ships in
``pytmhmm-binaries``. About 0.1 s per 400-residue protein on one core (the HMM's forward and
backward passes), so it is cached like the language-model streams."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..evidence import EVIDENCE_DIM, evidence_matrix
from .base import Embedder, check_sequences

EVIDENCE_ID = "evidence-v1"


class EvidenceEmbedder(Embedder):
    kind = "evidence"

    def __init__(self) -> None:
        self.id = EVIDENCE_ID
        self.dim = EVIDENCE_DIM

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id}

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        return [evidence_matrix(seq) for seq in check_sequences(sequences)]
