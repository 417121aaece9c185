"""Sorting-signal features: known localization motifs marked per residue, plus whole-protein
summaries repeated on every residue (the ``motifs`` feature block).

Why by hand: the offline model learns from one-hot residues, and motifs that decide a class but
are rare in the data (the LPXTG anchor of the ~1 % Cell wall & surface proteins, lipoboxes, Tat
signals) are hard for a small BiLSTM to discover from a few hundred examples. Each column is a
textbook rule, not a trained predictor:

=====================  ===================================================================
column                 value
=====================  ===================================================================
lipobox                1 on a lipobox ``[LVI][ASTVI][GAS]C`` whose Cys is at residue 12-40
                       (lipoprotein signal peptide; Sec/Lsp cleavage before the Cys)
tat                    1 on a twin-arginine motif ``RR.[FGAVML][LITMVF]`` within residues 2-40
axa                    1 on an ``A.A`` signal-peptidase I site whose last A is at residue 12-45
lpxtg                  1 on a sortase motif ``LP.[TAS][GNA]`` starting in the last 60 residues
                       (Gram-positive cell-wall anchoring)
tm                     1 where the 19-residue mean Kyte-Doolittle hydrophobicity is >= 1.6
                       (transmembrane-helix-like)
tm_segments            number of tm runs (helix centres) beyond the first 30 residues
                       (signal peptides are not counted), / 4, at most 2; on every residue
n_hydrophobic          highest 11-residue mean hydrophobicity within residues 1-40, / 4.5
                       (a signal peptide's h-region); on every residue
c_aromatic             1 on every residue when the last residue is F or W (the C-terminal
                       aromatic of outer-membrane beta-barrels)
=====================  ===================================================================
"""

from __future__ import annotations

import re

import numpy as np

MOTIF_NAMES: tuple[str, ...] = (
    "lipobox", "tat", "axa", "lpxtg", "tm", "tm_segments", "n_hydrophobic", "c_aromatic",
)
MOTIF_DIM = len(MOTIF_NAMES)

_KD = dict(
    A=1.8, C=2.5, D=-3.5, E=-3.5, F=2.8, G=-0.4, H=-3.2, I=4.5, K=-3.9, L=3.8,
    M=1.9, N=-3.5, P=-1.6, Q=-3.5, R=-4.5, S=-0.8, T=-0.7, V=4.2, W=-0.9, Y=-1.3,
)
# (column, pattern, where the match may lie: (first, last) 1-based residue of the anchor,
# negative numbers counted from the C-terminus), anchor = index in the match that is checked.
_PATTERNS = (
    (0, re.compile(r"(?=([LVI][ASTVI][GAS]C))"), 3, (12, 40)),
    (1, re.compile(r"(?=(RR.[FGAVML][LITMVF]))"), 0, (2, 40)),
    (2, re.compile(r"(?=(A.A))"), 2, (12, 45)),
    (3, re.compile(r"(?=(LP.[TAS][GNA]))"), 0, (-60, -1)),
)
TM_THRESHOLD = 1.6
TM_WINDOW = 19
TM_MIN_RUN = 1
SIGNAL_REGION = 30


def _hydrophobicity(seq: str) -> np.ndarray:
    return np.array([_KD.get(a, 0.0) for a in seq.upper()], dtype=np.float64)


def _window_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred mean, truncated at the ends (as features-v1's windows)."""
    n, half = len(values), window // 2
    csum = np.concatenate([[0.0], np.cumsum(values)])
    pos = np.arange(n)
    lo, hi = np.maximum(pos - half, 0), np.minimum(pos + half + 1, n)
    return (csum[hi] - csum[lo]) / (hi - lo)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True, end exclusive."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def motif_features(seq: str) -> np.ndarray:
    """(len(seq), MOTIF_DIM) float32 array, columns as in the module docstring."""
    seq = seq.upper()
    n = len(seq)
    out = np.zeros((n, MOTIF_DIM), dtype=np.float32)
    if n == 0:
        return out
    for column, pattern, anchor, (first, last) in _PATTERNS:
        lo = first if first > 0 else n + first + 1
        hi = last if last > 0 else n + last + 1
        for match in pattern.finditer(seq):
            start, end = match.start(1), match.end(1)
            if lo <= start + anchor + 1 <= hi:
                out[start:end, column] = 1.0
    hydro = _hydrophobicity(seq)
    tm = _window_mean(hydro, TM_WINDOW) >= TM_THRESHOLD
    out[:, 4] = tm
    segments = sum(1 for s, e in _runs(tm) if e - s >= TM_MIN_RUN and s >= SIGNAL_REGION)
    out[:, 5] = min(segments / 4.0, 2.0)
    out[:, 6] = _window_mean(hydro, 11)[: min(n, 40)].max() / 4.5
    out[:, 7] = float(seq[-1] in "FW")
    return out
