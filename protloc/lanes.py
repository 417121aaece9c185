"""The model's evidence (protloc.evidence) as regions the figures draw as lanes.

A signal peptide is drawn as a signal peptide (its type and cleavage site named), never as a
membrane helix: TMHMM helices explained by the signal peptide's h-region are left out, as
:attr:`protloc.evidence.Evidence.membrane_helices` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evidence import Evidence, TopologySummary, evidence
from .regions import Region


def evidence_regions(sequence: str, ev: Evidence | None = None) -> list[Region]:
    """Signal peptide, cleavage site, lipobox, TMHMM membrane helices and sortase anchors,
    1-based and inclusive, in sequence order."""
    ev = ev or evidence(sequence)
    seq = sequence.upper()
    out: list[Region] = []
    sp = ev.signal_peptide
    if sp is not None:
        cut = sp.cleavage
        out.append(Region("signal peptide", 1, cut, seq[:cut],
                          note=f"{sp.kind} signal peptide, cleaved after residue {cut}"))
        out.append(Region("cleavage site", cut, cut, seq[cut - 1 : cut + 1],
                          note=f"cut between residues {cut} and {cut + 1} ({seq[cut - 1 : cut + 1]})"))
        if sp.kind == "lipoprotein":
            start = max(1, cut - 2)
            out.append(Region("lipobox", start, cut + 1, seq[start - 1 : cut + 1],
                              note=f"lipobox; Cys{cut + 1} is lipidated"))
    for start, end in ev.membrane_helices:
        out.append(Region("TM helix", start + 1, end, seq[start:end], note="TMHMM 2.0 helix"))
    for start, end in ev.anchors:
        out.append(Region("LPXTG anchor", start + 1, end, seq[start:end],
                          note="sortase motif before a C-terminal hydrophobic stretch"))
    return sorted(out, key=lambda r: (r.start, r.kind))


def topology_words(summary: TopologySummary, in_signal_peptide: int = 0) -> str:
    """TMHMM 2.0's summary in a sentence for the app (numbers only, no user text).
    ``in_signal_peptide``: how many of TMHMM's helices are a signal peptide's h-region."""
    n = summary.helices
    helices = {0: "no membrane helix", 1: "1 membrane helix"}.get(n, f"{n} membrane helices")
    if in_signal_peptide:
        which = "it is" if n == 1 else f"{in_signal_peptide} of them is"
        helices += f" ({which} the signal peptide's h-region, drawn as the signal peptide)"
    words = (
        f"TMHMM 2.0: {helices} on its most likely path; expected residues in membrane helices "
        f"{summary.expected_tm_residues:.1f} ({summary.expected_first_60:.1f} of them in the "
        "first 60)."
    )
    if n:  # topology means little for a protein without a helix
        words += (" Probability that the N-terminus is inside (cytoplasmic side): "
                  f"{summary.prob_n_in:.2f}.")
    # TMHMM prints its warning for any protein; on a multi-pass one the first helix is a helix,
    # and a helix already drawn as the signal peptide needs no warning
    if summary.possible_signal_peptide and n <= 1 and not in_signal_peptide:
        words += (" TMHMM's warning: over 10 expected helix residues in the first 60, possibly "
                  "an N-terminal signal peptide rather than a membrane helix.")
    return words


@dataclass
class EvidenceView:
    """What the app draws of one protein's evidence: the lanes, TMHMM's membrane posterior
    per residue and TMHMM's summary in words."""

    regions: list[Region]
    membrane: np.ndarray
    words: str


def evidence_view(sequence: str) -> EvidenceView:
    """TMHMM as its model file defines it (protloc.evidence.exact_tmhmm), not pyTMHMM's
    decoding that the trained streams read: the two differ in a few C-terminal helix ends."""
    ev = evidence(sequence, exact=True)
    in_signal_peptide = len(ev.topology.helices) - len(ev.membrane_helices)
    words = topology_words(TopologySummary.of(ev.topology), in_signal_peptide)
    return EvidenceView(evidence_regions(sequence, ev), ev.topology.posteriors[:, 1], words)
