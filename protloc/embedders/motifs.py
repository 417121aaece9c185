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
tm                     1 on helix centres (:func:`protloc.regions.membrane_centres`: the
                       19-residue mean Kyte-Doolittle hydropathy is >= 1.6)
tm_segments            number of membrane segments (runs of helix centres) starting beyond
                       the first 30 residues (signal peptides are not counted), / 4, at most
                       2; on every residue
n_hydrophobic          highest 11-residue mean hydrophobicity within residues 1-40, / 4.5
                       (a signal peptide's h-region); on every residue
c_aromatic             1 on every residue when the last residue is F or W (the C-terminal
                       aromatic of outer-membrane beta-barrels)
=====================  ===================================================================

The hydropathy table and the membrane rule are those of :mod:`protloc.regions`, so the app's
membrane lanes and these columns agree.
"""

from __future__ import annotations

import re

import numpy as np

from ..regions import SIGNAL_REGION, hydropathy, membrane_centres, runs

MOTIF_NAMES: tuple[str, ...] = (
    "lipobox", "tat", "axa", "lpxtg", "tm", "tm_segments", "n_hydrophobic", "c_aromatic",
)
MOTIF_DIM = len(MOTIF_NAMES)

# (column, pattern, where the match may lie: (first, last) 1-based residue of the anchor,
# negative numbers counted from the C-terminus), anchor = index in the match that is checked.
_PATTERNS = (
    (0, re.compile(r"(?=([LVI][ASTVI][GAS]C))"), 3, (12, 40)),
    (1, re.compile(r"(?=(RR.[FGAVML][LITMVF]))"), 0, (2, 40)),
    (2, re.compile(r"(?=(A.A))"), 2, (12, 45)),
    (3, re.compile(r"(?=(LP.[TAS][GNA]))"), 0, (-60, -1)),
)


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
    centres = membrane_centres(seq)
    out[:, 4] = centres
    segments = sum(1 for first, _ in runs(centres) if first >= SIGNAL_REGION)
    out[:, 5] = min(segments / 4.0, 2.0)
    out[:, 6] = hydropathy(seq, 11)[: min(n, 40)].max() / 4.5
    out[:, 7] = float(seq[-1] in "FW")
    return out
