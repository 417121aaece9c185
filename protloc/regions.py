"""Sequence regions: the one hydropathy table and the one rule each for membrane segments and
signal peptides. The feature embedder, its ``motifs`` block and the app's lanes all use these.

Positions in :class:`Region` are 1-based and inclusive, as biologists count residues.

* Hydropathy: Kyte & Doolittle (1982), :data:`KYTE_DOOLITTLE`; X and any other letter count
  as 0. :func:`hydropathy` averages it over a centred window that is truncated at the termini
  (the window averages the residues it covers), so every residue has a value.
* Membrane segments: a residue is a *helix centre* when the :data:`TM_WINDOW`-residue hydropathy
  around it is >= :data:`TM_THRESHOLD` (Kyte & Doolittle's rule for membrane-spanning helices;
  :func:`membrane_centres`). Each run of centres is one segment (:func:`transmembrane_segments`),
  spanning the run plus half a window on each side, i.e. the residues of the windows that
  passed (cut midway where two segments would overlap). The ``motifs`` feature block marks the
  centres and counts the runs; the app draws the segments. Same rule, so the same count.
* Signal peptide (:func:`signal_peptide`): the most hydrophobic :data:`H_WINDOW`-residue window
  within the first :data:`SP_SEARCH` residues must have mean hydropathy >= :data:`H_THRESHOLD`;
  it is extended over neighbouring strongly hydrophobic residues (KD >= 1.8) and trimmed of
  hydrophilic ends to give the h-region. The n-region before it must be 1-:data:`N_MAX`
  residues with net positive charge (K + R - D - E >= 1). The best signal-peptidase I site
  within :data:`C_MAX` residues after the h-region is reported as a possible cleavage site, by
  one of two rules (:data:`CLEAVAGE_RULES`): ``von-heijne`` (the default: a small residue at
  -1, A G S C, and at -3, A V S T G I C L, no proline from -3 to +1; von Heijne 1983/1986)
  or ``axa`` (alanine at both, the stricter rule of ``evidence-v1``). A heuristic, not
  SignalP: with the von Heijne rule, on the dataset's Gram-negative proteins the typed call of
  :func:`protloc.evidence.signal_peptide` fires on 70% of periplasmic and 75% of outer-membrane
  proteins and 2% of cytoplasmic ones (A-X-A: 46%, 43%, 0%; ``docs/results/signal_peptides.md``).
  The h-region alone (without a cleavage site) also matches the first transmembrane helix of
  membrane proteins (a signal anchor; ``note`` says so when the h-region is also a membrane
  segment and no cleavage site follows).
* Top-attended regions (:func:`top_attended_regions`): the non-overlapping windows of
  :data:`TOP_WINDOW` residues holding the largest share of the mean attention.

Changing the table or the membrane rule changes the ``motifs`` features of shipped checkpoints:
bump the feature id in :mod:`protloc.embedders.features` if you do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

#: Kyte & Doolittle (1982) hydropathy index; X (unknown) counts as 0.
KYTE_DOOLITTLE: dict[str, float] = dict(
    A=1.8, C=2.5, D=-3.5, E=-3.5, F=2.8, G=-0.4, H=-3.2, I=4.5, K=-3.9, L=3.8,
    M=1.9, N=-3.5, P=-1.6, Q=-3.5, R=-4.5, S=-0.8, T=-0.7, V=4.2, W=-0.9, Y=-1.3, X=0.0,
)  # fmt: skip

TM_WINDOW = 19
TM_THRESHOLD = 1.6
#: Membrane segments whose centres start within this many residues may be signal peptides;
#: the motifs block does not count them as membrane segments.
SIGNAL_REGION = 30
SP_SEARCH = 35
H_WINDOW = 10
H_THRESHOLD = 1.8
N_MAX = 25
C_MAX = 12
#: Signal-peptidase I site rules: name -> (weights of the residues allowed at -1, at -3, how
#: many residues before the cut must be proline-free besides +1). Of the sites a rule allows,
#: the one with the largest weight sum wins (the earliest on a tie). Alanine is by far the
#: commonest residue at -1 and -3 (von Heijne 1983), so an A-X-A site beats a nearer S-X-G one.
CLEAVAGE_RULES: dict[str, tuple[dict[str, int], dict[str, int], int]] = {
    "von-heijne": (dict(A=3, G=2, S=2, C=1), dict(A=3, V=2, S=1, T=1, G=1, I=1, L=1, C=1), 3),
    "axa": (dict(A=1), dict(A=1), 0),  # evidence-v1's rule, kept as it was: the first A-X-A
}
DEFAULT_CLEAVAGE = "von-heijne"
_CORE = 1.8  # a strongly hydrophobic residue, extends the h-region
TOP_WINDOW = 7


# --------------------------------------------------------------------------- hydropathy


def hydropathy_values(sequence: str) -> np.ndarray:
    """Per-residue Kyte-Doolittle values (unknown letters count as 0)."""
    return np.array([KYTE_DOOLITTLE.get(aa, 0.0) for aa in sequence.upper()], dtype=np.float64)


def centred_means(values: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` values at every position, truncated at the ends."""
    values = np.asarray(values, dtype=np.float64)
    n, half = len(values), window // 2
    csum = np.concatenate([[0.0], np.cumsum(values)])
    pos = np.arange(n)
    lo, hi = np.maximum(pos - half, 0), np.minimum(pos + half + 1, n)
    return (csum[hi] - csum[lo]) / (hi - lo)


def hydropathy(sequence: str, window: int = 9) -> np.ndarray:
    """Kyte-Doolittle hydropathy averaged over a centred ``window``, one value per residue."""
    return centred_means(hydropathy_values(sequence), window)


def window_means(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of every full window: element i covers values[i : i + window]."""
    values = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError("window must be at least 1")
    if len(values) < window:
        return np.zeros(0)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) 0-based inclusive index pairs of the True runs in a boolean array."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return [(int(s), int(e) - 1) for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]


# ------------------------------------------------------------------------------ regions


@dataclass
class Region:
    """A stretch of the sequence; ``start`` and ``end`` are 1-based and inclusive."""

    kind: str
    start: int
    end: int
    residues: str
    score: float | None = None
    note: str = ""
    parts: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def as_row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "length": self.length,
            "residues": self.residues,
            "score": self.score,
            "note": self.note,
        }


def membrane_centres(sequence: str) -> np.ndarray:
    """True on residues whose 19-residue centred hydropathy is >= 1.6 (helix centres)."""
    return hydropathy(sequence, TM_WINDOW) >= TM_THRESHOLD


def transmembrane_segments(sequence: str) -> list[Region]:
    """One segment per run of helix centres, widened by half a window on each side."""
    seq = sequence.upper()
    means = hydropathy(seq, TM_WINDOW)
    centre_runs = runs(means >= TM_THRESHOLD)
    half = TM_WINDOW // 2
    regions = []
    for k, (first, last) in enumerate(centre_runs):
        lo, hi = max(0, first - half), min(len(seq) - 1, last + half)
        if k > 0:  # never overlap the previous segment: cut midway between the centre runs
            lo = max(lo, (centre_runs[k - 1][1] + first) // 2 + 1)
        if k + 1 < len(centre_runs):
            hi = min(hi, (last + centre_runs[k + 1][0]) // 2)
        best = float(means[first : last + 1].max())
        note = f"{TM_WINDOW}-residue Kyte-Doolittle mean up to {best:.2f} (>= {TM_THRESHOLD})"
        regions.append(
            Region("transmembrane-like", lo + 1, hi + 1, seq[lo : hi + 1], round(best, 2), note)
        )
    return regions


def signal_peptide(sequence: str, cleavage: str = DEFAULT_CLEAVAGE) -> Region | None:
    """An N-terminal signal-peptide-like region (n-region + h-region [+ c-region]) or None.

    See the module docstring for the rule. ``parts`` holds the n-, h- and (when a cleavage
    site by the ``cleavage`` rule follows) c-regions as 1-based inclusive (start, end) pairs;
    the region ends at the possible cleavage site, or at the end of the h-region when there is
    none.
    """
    seq = sequence.upper()
    h_region = _h_region(seq)
    if h_region is None:
        return None
    first, last = h_region
    n_region = seq[:first]
    charge = sum(n_region.count(a) for a in "KR") - sum(n_region.count(a) for a in "DE")
    if not 1 <= len(n_region) <= N_MAX or charge < 1:
        return None
    parts = {"n": (1, first), "h": (first + 1, last + 1)}
    cleave = _cleavage_site(seq, last + 1, cleavage)
    end = last + 1
    note = f"n-region {first} residues, net charge +{charge}; h-region {last - first + 1} residues"
    if cleave is not None:
        parts["c"] = (last + 2, cleave)
        end = cleave
        note += f"; {seq[cleave - 3:cleave]} (-3 to -1): possible cleavage after residue {cleave}"
    else:
        note += "; no signal-peptidase I site after the h-region"
        if any(tm.start <= last + 1 and tm.end >= first + 1 for tm in transmembrane_segments(seq[:80])):
            note += (
                "; the stretch is also transmembrane-like and has no cleavage motif, so it may "
                "be an uncleaved signal anchor (a first transmembrane helix)"
            )
    score = float(np.mean(hydropathy_values(seq[first : last + 1])))
    return Region("signal-peptide-like", 1, end, seq[:end], round(score, 2), note, parts)


def _h_region(seq: str) -> tuple[int, int] | None:
    """0-based (first, last) of the hydrophobic core near the N-terminus, or None."""
    means = window_means(hydropathy_values(seq[:SP_SEARCH]), H_WINDOW)
    if not len(means) or means.max() < H_THRESHOLD:
        return None
    first = int(np.argmax(means))
    last = first + H_WINDOW - 1
    kd = lambda i: KYTE_DOOLITTLE.get(seq[i], 0.0)  # noqa: E731
    while first > 0 and kd(first - 1) >= _CORE:
        first -= 1
    while last + 1 < len(seq) and kd(last + 1) >= _CORE:
        last += 1
    while first < last and kd(first) < 0:
        first += 1
    while last > first and kd(last) < 0:
        last -= 1
    return first, last


def _cleavage_site(seq: str, h_end: int, rule: str = DEFAULT_CLEAVAGE) -> int | None:
    """The best site by ``rule`` (:data:`CLEAVAGE_RULES`) within C_MAX residues after the
    h-region: the residue before the cleavage site (1-based), or None."""
    if rule not in CLEAVAGE_RULES:
        raise ValueError(f"cleavage rule must be one of {sorted(CLEAVAGE_RULES)}, not {rule!r}")
    minus1, minus3, no_proline = CLEAVAGE_RULES[rule]
    best, best_score = None, 0
    for site in range(h_end + 3, min(h_end + C_MAX, len(seq) - 1) + 1):
        allowed = seq[site - 1] in minus1 and seq[site - 3] in minus3
        if not allowed or "P" in seq[site - no_proline : site + 1]:
            continue
        score = minus1[seq[site - 1]] + minus3[seq[site - 3]]
        if score > best_score:
            best, best_score = site, score
    return best


def sequence_regions(sequence: str) -> list[Region]:
    """Signal peptide (if any) and membrane segments, by position."""
    regions = transmembrane_segments(sequence)
    sp = signal_peptide(sequence)
    if sp is not None:
        h_start, h_end = sp.parts["h"]
        for tm in regions:
            if tm.start <= h_end and tm.end >= h_start:
                tm.note += "; overlaps the signal-peptide-like h-region"
        regions.append(sp)
    return sorted(regions, key=lambda r: (r.start, r.kind))


# ---------------------------------------------------------------------------- attention


def mean_attention(attention: np.ndarray | None) -> np.ndarray | None:
    """Mean over heads of a (heads, length) attention array (None stays None)."""
    if attention is None:
        return None
    arr = np.asarray(attention, dtype=float)
    return arr if arr.ndim == 1 else arr.mean(axis=0)


def top_attended_regions(
    attention: Sequence[float], sequence: str, n: int = 5, window: int = TOP_WINDOW
) -> list[Region]:
    """The ``n`` non-overlapping ``window``-residue stretches with the most attention.

    ``score`` is the stretch's share of the protein's total attention (0-1); ``note`` says how
    that compares with an even spread.
    """
    values = np.asarray(attention, dtype=float)
    if values.ndim != 1 or len(values) != len(sequence):
        raise ValueError("attention must be one value per residue")
    total = float(values.sum())
    if not len(values) or total <= 0:
        return []
    window = max(1, min(window, len(values)))
    sums = window_means(values, window) * window
    taken = np.zeros(len(values), dtype=bool)
    regions: list[Region] = []
    for i in np.argsort(-sums, kind="stable"):
        if len(regions) == n:
            break
        if taken[i : i + window].any():
            continue
        taken[i : i + window] = True
        share = float(sums[i]) / total
        even = window / len(values)
        regions.append(
            Region(
                "attention",
                int(i) + 1,
                int(i) + window,
                sequence[i : i + window].upper(),
                round(share, 4),
                f"{share / even:.1f}× an even share",
            )
        )
    return sorted(regions, key=lambda r: -(r.score or 0.0))
