"""Biological evidence per residue: TMHMM 2.0 topology, signal-peptide type and cleavage site,
cell-wall anchoring. The model reads it as a stream (``evidence-v1``) and the app draws it as lanes.

TMHMM is the real TMHMM 2.0 model (Krogh et al. 2001) shipped in the ``pytmhmm-binaries`` wheel
(MIT); its Viterbi path gives helices and its posteriors give per-residue inside / membrane /
outside probabilities. Signal peptides are called by textbook rules on top of it (no trained
signal-peptide predictor installs from PyPI):

* a **Sec** signal peptide: a positively charged n-region, a hydrophobic h-region of 7-15
  residues starting within the first 25, and a signal-peptidase I site 3-12 residues after the
  h-region (von Heijne's rule: small residues at -3 and -1, no proline from -3 to +1; the
  ``evidence-v1`` stream keeps its stricter A-X-A rule, see :data:`CLEAVAGE_BY_STREAM`);
* a **lipoprotein** signal peptide: the same, with a lipobox ``[LVI][ASTVI][GAS]C`` whose Cys
  (the +1 residue after cleavage by LspA) lies at residue 15-35;
* a **twin-arginine (Tat)** signal peptide: ``[ST]?RR.[FGAVML][LITMVF]`` in the n-region
  before the h-region, then as Sec.

A TMHMM helix that is really an h-region is the usual confusion between a signal peptide and an
N-terminal membrane anchor; both lanes are kept and the model weighs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from . import regions
from .regions import DEFAULT_CLEAVAGE, KYTE_DOOLITTLE

#: Per-residue columns of :func:`evidence_matrix`, in order.
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "tm_inside", "tm_membrane", "tm_outside",  # TMHMM posteriors
    "tm_helix",  # 1 inside a TMHMM (Viterbi) helix
    "tm_count",  # number of TMHMM helices not explained by a signal peptide, / 4 (at most 3)
    "sp_sec", "sp_lipo", "sp_tat",  # 1 over the signal peptide, by type
    "cleavage",  # 1 on the residue before the predicted cleavage site
    "lpxtg",  # 1 on a sortase motif followed by a C-terminal hydrophobic stretch and tail
    "c_aromatic",  # 1 on every residue when the protein ends in F or W (beta-barrel signature)
)
EVIDENCE_DIM = len(EVIDENCE_COLUMNS)

SP_TYPES = ("none", "Sec", "lipoprotein", "Tat")

#: The signal-peptidase I site rule (:data:`protloc.regions.CLEAVAGE_RULES`) of each evidence
#: stream. v1's A-X-A rule misses most signal peptides (it calls one on 46% of Gram-negative
#: periplasmic proteins, v2's rule on 70%); v1 stays as it was because trained models read it.
#: The app's lanes use the default, v2's.
CLEAVAGE_BY_STREAM = {"evidence-v1": "axa", "evidence-v2": "von-heijne"}

_LIPOBOX = re.compile(r"(?=([LVI][ASTVI][GAS]C))")
_TAT = re.compile(r"(?=([ST]?RR.[FGAVML][LITMVF]))")
_LPXTG = re.compile(r"(?=(LP.[TAS][GNAS]))")


@dataclass
class Topology:
    """TMHMM's answer for one sequence."""

    path: str  # a letter per residue: i (inside), M (membrane), o / O (outside, short / long loop)
    # (L, 3): inside, membrane, outside; from tmhmm(), pyTMHMM's skewed values (the streams'
    # inputs), from exact_tmhmm() the exact ones
    posteriors: np.ndarray

    @property
    def helices(self) -> list[tuple[int, int]]:
        """(start, end) of each helix, 0-based, end exclusive."""
        return [m.span() for m in re.finditer("M+", self.path)]


@dataclass(frozen=True)
class TopologySummary:
    """The four numbers of TMHMM 2.0's long output: "Number of predicted TMHs", "Exp number
    of AAs in TMHs", "Exp number, first 60 AAs" and "Total prob of N-in". The expected counts
    sum the membrane posterior (:func:`exact_tmhmm`) over residues, so a helix the most
    likely path leaves out (or merges with its neighbour) still shows in them."""

    helices: int
    expected_tm_residues: float
    expected_first_60: float
    prob_n_in: float

    @classmethod
    def of(cls, topology: Topology) -> "TopologySummary":
        """From :func:`exact_tmhmm`'s answer (pyTMHMM's, from :func:`tmhmm`, is skewed)."""
        posteriors = topology.posteriors
        membrane = posteriors[:, 1].astype(float)
        return cls(helices=len(topology.helices), expected_tm_residues=float(membrane.sum()),
                   expected_first_60=float(membrane[:60].sum()),
                   prob_n_in=float(posteriors[0, 0]) if len(posteriors) else 0.0)

    @property
    def possible_signal_peptide(self) -> bool:
        """TMHMM's own warning: over 10 expected helix residues in the first 60, so an
        N-terminal helix may be a signal peptide instead."""
        return self.expected_first_60 > 10.0


@dataclass
class SignalPeptide:
    kind: str  # one of SP_TYPES[1:]
    cleavage: int  # residues 1..cleavage are the signal peptide (cleavage after this residue)
    h_region: tuple[int, int]  # 0-based, end exclusive


@dataclass
class Evidence:
    """Everything the app shows and the model reads, for one sequence."""

    topology: Topology
    signal_peptide: SignalPeptide | None
    anchors: list[tuple[int, int]] = field(default_factory=list)  # LPXTG motifs, 0-based spans

    @property
    def membrane_helices(self) -> list[tuple[int, int]]:
        """TMHMM helices, without the one that is a signal peptide's h-region."""
        sp = self.signal_peptide
        return [h for h in self.topology.helices if sp is None or h[0] >= sp.cleavage]


@lru_cache(maxsize=1)
def _tmhmm_model():
    try:
        from pyTMHMM.api import DEFAULT_MODEL
        from pyTMHMM.model import parse
    except ImportError as exc:  # pragma: no cover - a dependency of protloc
        from .errors import UserError

        raise UserError(
            "TMHMM 2.0 is not installed: pip install pytmhmm-binaries (it ships the model file)"
        ) from exc
    _, model = parse(DEFAULT_MODEL)
    labels, names = model[4], model[5]
    groups = np.zeros((len(names), 3))
    for state, label in labels.items():
        groups[state, "imo".index(label.lower())] = 1.0
    return model, groups


def tmhmm(sequence: str) -> Topology:
    """TMHMM 2.0 Viterbi path and per-residue posteriors as pyTMHMM computes them (the model
    file is parsed once): the evidence streams' inputs. Its posteriors are skewed by a bug in
    pyTMHMM's backward pass; :func:`exact_tmhmm` has the exact ones."""
    from pyTMHMM.hmm import backward, forward, viterbi

    model, groups = _tmhmm_model()
    seq = _tmhmm_alphabet(sequence)
    _, path = viterbi(seq, *model)
    forward_table, constants = forward(seq, *model)
    posterior = forward_table * backward(seq, constants, *model)
    grouped = posterior @ groups  # states summed per label, as pyTMHMM.predict does, vectorised
    grouped /= np.maximum(grouped.sum(axis=1, keepdims=True), 1e-300)
    return Topology(path=path, posteriors=grouped.astype(np.float32))


def exact_tmhmm(sequence: str) -> Topology:
    """TMHMM 2.0 as its model file defines it: the most probable state path (Viterbi) and each
    residue's label posteriors (scaled forward-backward; rows sum to 1 by construction), with
    the file's end rule (no sequence ends inside a membrane helix: the helix states say
    ``end 0``) and its wildcards (X, B, Z and any other letter emit with probability 1 in
    every state, as unknown). What the app draws and :class:`TopologySummary` sums.

    Written here because pyTMHMM 1.3.6 (as tmhmm.py before it), which :func:`tmhmm` and the
    evidence streams use, drops the end rule, reads unknown letters as alanine here, picks the
    last state of its Viterbi path from the second-to-last residue (C-terminal helix ends move
    in a few per cent of proteins) and, in its backward pass, multiplies by the current
    residue's emission where the next residue's belongs (posteriors dip at charged residues
    inside helices; MalE's expected helix residues in its first 60: 10.1 there, 8.8 here).
    The streams keep pyTMHMM's values because trained models read them."""
    initial, trans, emit, charmap, labels, groups, end = _exact_model()
    x = [charmap.get(c, emit.shape[1] - 1) for c in sequence.upper()]
    path = viterbi_path(initial, trans, emit, x, end)
    letters = "".join(labels[state] for state in path)  # as pyTMHMM: O = long outside loop
    posteriors = state_posteriors(initial, trans, emit, x, end) @ groups
    return Topology(path=letters, posteriors=posteriors)


def state_posteriors(initial: np.ndarray, trans: np.ndarray, emit: np.ndarray,
                     x: Sequence[int], end: np.ndarray | None = None) -> np.ndarray:
    """(L, states) posterior of each state at each position of the symbol sequence ``x``;
    ``end``: 1 for the states a sequence may end in, 0 for the others (None: all may)."""
    n = len(x)
    forward = np.empty((n, len(initial)))
    scale = np.empty(n)
    for i in range(n):
        f = (initial if i == 0 else forward[i - 1] @ trans) * emit[:, x[i]]
        scale[i] = f.sum()
        forward[i] = f / scale[i]
    backward = np.ones_like(forward)
    if n and end is not None:
        backward[-1] = end / (forward[-1] @ end)
    for i in range(n - 2, -1, -1):
        backward[i] = trans @ (emit[:, x[i + 1]] * backward[i + 1]) / scale[i + 1]
    return forward * backward


def viterbi_path(initial: np.ndarray, trans: np.ndarray, emit: np.ndarray, x: Sequence[int],
                 end: np.ndarray | None = None) -> list[int]:
    """The most probable state path (log space), ending in a state ``end`` allows."""
    with np.errstate(divide="ignore"):
        log_trans = np.log(trans)
        score = np.log(initial) + np.log(emit[:, x[0]]) if len(x) else np.zeros(0)
        back = np.zeros((len(x), len(initial)), dtype=np.int64)
        for i in range(1, len(x)):
            candidates = score[:, None] + log_trans
            back[i] = candidates.argmax(axis=0)
            score = candidates.max(axis=0) + np.log(emit[:, x[i]])
        if end is not None and len(x):
            score = score + np.log(end)
    path = [int(score.argmax())] if len(x) else []
    for i in range(len(x) - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]


@lru_cache(maxsize=1)
def _exact_model():
    """pyTMHMM's parse of the model file, with what it drops: a wildcard emission column (1 in
    every state) and the end rule (0 for the states the file marks ``end 0``)."""
    from pyTMHMM.api import DEFAULT_MODEL

    model, groups = _tmhmm_model()
    initial, trans, emit, charmap, labels, names = model
    emit = np.hstack([emit, np.ones((len(initial), 1))])
    text = open(DEFAULT_MODEL, encoding="utf-8").read()
    closed = {m.group(1) for m in re.finditer(r"^(\S+)\s*\{(.*?)\}", text, re.M | re.S)
              if re.search(r"\bend\s+0\s*;", m.group(2))}
    end = np.array([0.0 if names[i] in closed else 1.0 for i in range(len(names))])
    return initial, trans, emit, charmap, labels, groups, end


def _tmhmm_alphabet(sequence: str) -> str:
    # TMHMM's emission alphabet is the 20 amino acids; unknown letters read as the commonest
    # residue of its training set would bias nothing much, but X must not crash the HMM.
    return re.sub(r"[^ACDEFGHIKLMNPQRSTVWY]", "A", sequence.upper())


def signal_peptide(
    sequence: str, topology: Topology | None = None, cleavage: str = DEFAULT_CLEAVAGE
) -> SignalPeptide | None:
    """Type and cleavage site of an N-terminal signal peptide.

    The n-, h- and c-regions come from :func:`protloc.regions.signal_peptide` (the project's one
    signal-peptide rule); this adds the type. A lipobox whose Cys lies at residue 15-35, at or
    after the h-region, makes it a lipoprotein cleaved before that Cys; a twin-arginine motif
    before the h-region makes it Tat; otherwise Sec. Without a lipobox or a signal-peptidase I
    site, or when the TMHMM helix runs well past the site, it is an uncleaved signal anchor:
    not a signal peptide.
    """
    seq = sequence.upper()
    region = regions.signal_peptide(seq, cleavage)
    if region is None:
        return None
    h_first, h_last = region.parts["h"]  # 1-based inclusive
    h_region = (h_first - 1, h_last)
    for match in _LIPOBOX.finditer(seq[:36]):
        cys = match.start(1) + 3  # 0-based index of the Cys = residues before the cut
        if 14 <= cys <= 34 and cys >= h_last - 2:
            return SignalPeptide("lipoprotein", cys, h_region)
    if "c" not in region.parts:
        return None
    cleavage = region.parts["c"][1]
    if topology is not None and _helix_runs_past(topology, cleavage):
        return None
    tat = any(m.start(1) < h_first + 1 for m in _TAT.finditer(seq[:40]))
    return SignalPeptide("Tat" if tat else "Sec", cleavage, h_region)


def _helix_runs_past(topology: Topology, cleavage: int) -> bool:
    return any(s < cleavage < e and e - cleavage > 6 for s, e in topology.helices)


def sortase_anchors(sequence: str) -> list[tuple[int, int]]:
    """LPXTG-like motifs in the last 60 residues followed by a hydrophobic stretch (Gram-positive
    cell-wall anchoring: motif, ~20 hydrophobic residues, a positively charged tail)."""
    seq = sequence.upper()
    n = len(seq)
    spans = []
    for match in _LPXTG.finditer(seq):
        start = match.start(1)
        tail = [KYTE_DOOLITTLE.get(a, 0.0) for a in seq[start + 5 : start + 35]]
        hydrophobic = len(tail) >= 12 and np.convolve(tail, np.ones(12) / 12, "valid").max() >= 1.0
        if start >= n - 60 and hydrophobic:
            spans.append((start, start + 5))
    return spans


def evidence(sequence: str, cleavage: str = DEFAULT_CLEAVAGE, exact: bool = False) -> Evidence:
    """``exact``: TMHMM as its model file defines it (:func:`exact_tmhmm`, what the app
    shows) instead of pyTMHMM's decoding (what the trained streams read)."""
    topology = exact_tmhmm(sequence) if exact else tmhmm(sequence)
    return Evidence(topology, signal_peptide(sequence, topology, cleavage),
                    sortase_anchors(sequence))


def evidence_matrix(
    sequence: str, ev: Evidence | None = None, cleavage: str = DEFAULT_CLEAVAGE
) -> np.ndarray:
    """(L, EVIDENCE_DIM) float32, columns as :data:`EVIDENCE_COLUMNS`."""
    ev = ev or evidence(sequence, cleavage)
    n = len(sequence)
    out = np.zeros((n, EVIDENCE_DIM), dtype=np.float32)
    out[:, 0:3] = ev.topology.posteriors
    out[:, 3] = [c == "M" for c in ev.topology.path]
    out[:, 4] = min(len(ev.membrane_helices) / 4.0, 3.0)
    sp = ev.signal_peptide
    if sp is not None:
        out[: sp.cleavage, 5 + SP_TYPES.index(sp.kind) - 1] = 1.0
        out[sp.cleavage - 1, 8] = 1.0
    for start, end in ev.anchors:
        out[start:end, 9] = 1.0
    out[:, 10] = float(sequence[-1:].upper() in ("F", "W"))
    return out
