"""Hand-made per-residue features: an embedder with no weights, no network and no torch.

``FeatureEmbedder`` (id ``features-v1``, dim 57) concatenates these blocks, in this order:

=================  ====  =====================================================================
block              dim   content (all roughly in [-2, 2])
=================  ====  =====================================================================
one-hot            21    20 standard amino acids (``ACDEFGHIKLMNPQRSTVWY``) + X
blosum62           20    the residue's BLOSUM62 row against the 20 standard residues, / 4
scales             8     z-scored over the 20 residues: Kyte-Doolittle hydrophobicity, side-chain
                         volume (Zamyatnin), Chou-Fasman helix / sheet / turn propensity,
                         flexibility (Bhaskaran-Ponnuswamy), polarity (Grantham); plus the
                         charge at pH 7 (D, E -1; K, R +1; H +0.1), not z-scored
windows            4     centred moving averages of hydrophobicity (Kyte-Doolittle / 4.5) and of
                         charge over 7 and 19 residues (19 ~ a transmembrane helix or a signal
                         peptide's h-region; 7 ~ two helix turns); windows are truncated at the
                         termini and average the residues they cover
position           4     relative position i/(L-1); exp(-i/30) (N-terminal proximity: signal
                         peptides, lipoboxes); exp(-(L-1-i)/30) (C-terminal proximity: sorting
                         signals, beta-barrel final strands); log10(L)/3 (protein length, 1 at
                         1000 residues)
=================  ====  =====================================================================

Unknown residues (X and any letter outside the 20) get neutral values: the X one-hot column, the
mean BLOSUM62 row, z-score 0 for every scale, charge 0. Ambiguity codes are averaged (B = D/N,
Z = E/Q, J = I/L, one-hot split 0.5/0.5) and the rare amino acids map to their parents
(U selenocysteine -> C, O pyrrolysine -> K).

Changing any value here changes the output: bump the version in :data:`FEATURES_ID`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import UserError
from ..regions import KYTE_DOOLITTLE, centred_means
from .base import Embedder, check_sequences
from .motifs import MOTIF_DIM, motif_features

FEATURES_ID = "features-v1"

#: The 20 standard amino acids, in one-hot column order.
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"

# --- published scales, in AMINO_ACIDS order (Kyte-Doolittle: protloc.regions) ------------------
# Net side-chain charge at pH 7 (Henderson-Hasselbalch, His pKa ~6.0 -> +0.1).
_CHARGE = dict(D=-1.0, E=-1.0, K=1.0, R=1.0, H=0.1)
# Side-chain (residue) volume in cubic angstroms, Zamyatnin 1972.
_VOLUME = dict(
    A=88.6, C=108.5, D=111.1, E=138.4, F=189.9, G=60.1, H=153.2, I=166.7, K=168.6, L=166.7,
    M=162.9, N=114.1, P=112.7, Q=143.8, R=173.4, S=89.0, T=116.1, V=140.0, W=227.8, Y=193.6,
)
# Chou-Fasman conformational parameters x100 (helix, sheet, turn), Chou & Fasman 1978.
_CHOU_FASMAN = dict(
    A=(142, 83, 66), C=(70, 119, 119), D=(101, 54, 146), E=(151, 37, 74), F=(113, 138, 60),
    G=(57, 75, 156), H=(100, 87, 95), I=(108, 160, 47), K=(114, 74, 101), L=(121, 130, 59),
    M=(145, 105, 60), N=(67, 89, 156), P=(57, 55, 152), Q=(111, 110, 98), R=(98, 93, 95),
    S=(77, 75, 143), T=(83, 119, 96), V=(106, 170, 50), W=(108, 137, 96), Y=(69, 147, 114),
)
# Average flexibility index, Bhaskaran & Ponnuswamy 1988.
_FLEXIBILITY = dict(
    A=0.360, C=0.350, D=0.510, E=0.500, F=0.310, G=0.540, H=0.320, I=0.460, K=0.470, L=0.370,
    M=0.300, N=0.460, P=0.510, Q=0.490, R=0.530, S=0.510, T=0.440, V=0.390, W=0.310, Y=0.420,
)
# Polarity, Grantham 1974.
_POLARITY = dict(
    A=8.1, C=5.5, D=13.0, E=12.3, F=5.2, G=9.0, H=10.4, I=5.2, K=11.3, L=4.9,
    M=5.7, N=11.6, P=8.0, Q=10.5, R=10.5, S=9.2, T=8.6, V=5.9, W=5.4, Y=6.2,
)

WINDOWS: tuple[int, ...] = (7, 19)
POSITION_DECAY = 30.0

#: (block name, dimension) in output order.
FEATURE_BLOCKS: tuple[tuple[str, int], ...] = (
    ("onehot", 21),
    ("blosum62", 20),
    ("scales", 8),
    ("windows", 2 * len(WINDOWS)),
    ("position", 4),
)
FEATURE_DIM = sum(dim for _, dim in FEATURE_BLOCKS)
BLOCK_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURE_BLOCKS)


#: Blocks outside ``features-v1``, appended after the v1 columns when asked for by name
#: (``blocks: [..., motifs]``); the id then lists every block, so caches and checkpoints of
#: ``features-v1`` are untouched. See :mod:`protloc.embedders.motifs`.
EXTRA_BLOCKS: tuple[tuple[str, int], ...] = (("motifs", MOTIF_DIM),)
ALL_BLOCK_NAMES: tuple[str, ...] = BLOCK_NAMES + tuple(name for name, _ in EXTRA_BLOCKS)


def _check_blocks(blocks: Sequence[str] | None) -> tuple[str, ...]:
    """The requested blocks in output order (v1 when None); UserError on unknown or empty."""
    if blocks is None:
        return BLOCK_NAMES
    if isinstance(blocks, str):
        blocks = blocks.split("+")
    unknown = sorted(set(blocks) - set(ALL_BLOCK_NAMES))
    if unknown or not blocks:
        raise UserError(
            f"Unknown feature block(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(ALL_BLOCK_NAMES)}."
        )
    return tuple(name for name in ALL_BLOCK_NAMES if name in blocks)


def _block_columns(blocks: tuple[str, ...]) -> np.ndarray:
    columns, start = [], 0
    for name, dim in FEATURE_BLOCKS:
        if name in blocks:
            columns.extend(range(start, start + dim))
        start += dim
    return np.array(columns, dtype=np.int64)

_SCALE_NAMES = (
    "hydrophobicity", "charge", "volume", "helix", "sheet", "turn", "flexibility", "polarity",
)


def feature_names() -> list[str]:
    """One name per output column, in order (for plots and debugging)."""
    names = [f"onehot_{a}" for a in AMINO_ACIDS + "X"]
    names += [f"blosum62_{a}" for a in AMINO_ACIDS]
    names += list(_SCALE_NAMES)
    names += [f"{what}_w{w}" for what in ("hydrophobicity", "charge") for w in WINDOWS]
    names += ["rel_position", "n_term_proximity", "c_term_proximity", "log_length"]
    assert len(names) == FEATURE_DIM
    return names


def _zscore(values: dict[str, float]) -> np.ndarray:
    arr = np.array([values[a] for a in AMINO_ACIDS], dtype=np.float64)
    return (arr - arr.mean()) / arr.std()


def _build_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (code lookup over bytes, static per-code features, window hydrophobicity, charge).

    Codes: 0-19 the standard residues, 20 X, 21 B, 22 Z, 23 J.
    """
    from Bio.Align import substitution_matrices

    n_std = len(AMINO_ACIDS)
    static = np.zeros((24, 21 + 20 + 8), dtype=np.float64)
    # one-hot
    static[np.arange(n_std), np.arange(n_std)] = 1.0
    static[20, 20] = 1.0
    # BLOSUM62
    blosum = substitution_matrices.load("BLOSUM62")
    rows = np.array([[blosum[a, b] for b in AMINO_ACIDS] for a in AMINO_ACIDS]) / 4.0
    static[:n_std, 21:41] = rows
    static[20, 21:41] = rows.mean(axis=0)
    # scales
    helix, sheet, turn = (
        {a: v[k] for a, v in _CHOU_FASMAN.items()} for k in range(3)
    )
    scales = np.stack(
        [
            _zscore(KYTE_DOOLITTLE),
            np.array([_CHARGE.get(a, 0.0) for a in AMINO_ACIDS]),
            _zscore(_VOLUME),
            _zscore(helix),
            _zscore(sheet),
            _zscore(turn),
            _zscore(_FLEXIBILITY),
            _zscore(_POLARITY),
        ],
        axis=1,
    )
    static[:n_std, 41:49] = scales
    static[20, 41:49] = 0.0  # neutral: z-score 0, charge 0

    hydro = np.array([KYTE_DOOLITTLE[a] for a in AMINO_ACIDS]) / 4.5
    charge = np.array([_CHARGE.get(a, 0.0) for a in AMINO_ACIDS])
    hydro = np.concatenate([hydro, [hydro.mean()], np.zeros(3)])
    charge = np.concatenate([charge, [0.0], np.zeros(3)])

    idx = {a: i for i, a in enumerate(AMINO_ACIDS)}
    for code, (a, b) in ((21, "DN"), (22, "EQ"), (23, "IL")):
        static[code] = (static[idx[a]] + static[idx[b]]) / 2
        hydro[code] = (hydro[idx[a]] + hydro[idx[b]]) / 2
        charge[code] = (charge[idx[a]] + charge[idx[b]]) / 2

    lookup = np.full(256, 20, dtype=np.int64)  # anything unknown -> X
    for a, i in idx.items():
        lookup[ord(a)] = lookup[ord(a.lower())] = i
    for letter, code in (("B", 21), ("Z", 22), ("J", 23), ("U", idx["C"]), ("O", idx["K"])):
        lookup[ord(letter)] = lookup[ord(letter.lower())] = code
    return lookup, static.astype(np.float32), hydro, charge


class FeatureEmbedder(Embedder):
    """Weight-free per-residue features (see the module docstring for the 57 columns)."""

    kind = "features"

    def __init__(self, blocks: Sequence[str] | None = None) -> None:
        self.blocks = _check_blocks(blocks)
        self._columns = _block_columns(self.blocks)
        whole = self.blocks == BLOCK_NAMES
        # A subset (for ablations and two-stream models) gets its own id, so its cache entries
        # and checkpoints never mix with the full feature set's.
        self.id = FEATURES_ID if whole else f"{FEATURES_ID}:{'+'.join(self.blocks)}"
        self._motifs = "motifs" in self.blocks
        self.dim = len(self._columns) + (MOTIF_DIM if self._motifs else 0)
        self._lookup, self._static, self._hydro, self._charge = _build_tables()

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind, "id": self.id}
        if self.blocks != BLOCK_NAMES:
            spec["blocks"] = list(self.blocks)
        return spec

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        sequences = check_sequences(sequences)
        full = [self._embed_one(seq) for seq in sequences]
        if self.blocks == BLOCK_NAMES:
            return full
        out = [a[:, self._columns] for a in full]
        if self._motifs:
            out = [np.concatenate([a, motif_features(seq)], axis=1) for a, seq in zip(out, sequences)]
        return [np.ascontiguousarray(a) for a in out]

    def _embed_one(self, seq: str) -> np.ndarray:
        n = len(seq)
        out = np.empty((n, FEATURE_DIM), dtype=np.float32)
        if n == 0:
            return out
        raw = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
        codes = self._lookup[raw]
        n_static = self._static.shape[1]
        out[:, :n_static] = self._static[codes]
        col = n_static
        hydro, charge = self._hydro[codes], self._charge[codes]
        for values in (hydro, charge):
            for window in WINDOWS:
                out[:, col] = centred_means(values, window)
                col += 1
        pos = np.arange(n, dtype=np.float64)
        out[:, col] = pos / (n - 1) if n > 1 else 0.0
        out[:, col + 1] = np.exp(-pos / POSITION_DECAY)
        out[:, col + 2] = np.exp(-(n - 1 - pos) / POSITION_DECAY)
        out[:, col + 3] = np.log10(n) / 3.0
        return out
