"""The model's evidence (protloc.evidence) as regions the figures draw as lanes.

A signal peptide is drawn as a signal peptide (its type and cleavage site named), never as a
membrane helix: TMHMM helices explained by the signal peptide's h-region are left out, as
:attr:`protloc.evidence.Evidence.membrane_helices` does.
"""

from __future__ import annotations

from .evidence import Evidence, evidence
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
