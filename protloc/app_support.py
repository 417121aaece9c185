"""Helpers for the web app that need no Streamlit: examples, sequence regions, structures, results.

Everything here is plain Python (numpy, Biopython, py3Dmol) so it can be unit-tested and reused;
``app.py`` and ``pages/`` only arrange it on screen.

Sequence regions (1-based, inclusive positions, as biologists count residues):

* Hydrophobicity: Kyte & Doolittle (1982) scale, averaged over a centred window
  (:func:`kyte_doolittle`); X counts as 0.
* Transmembrane-like segments (:func:`transmembrane_segments`): every 19-residue window whose
  mean hydropathy exceeds 1.6 (Kyte & Doolittle's own rule for membrane-spanning helices);
  overlapping windows are merged into one segment.
* N-terminal signal-peptide-like region (:func:`signal_peptide_like`): the most hydrophobic
  10-residue window within the first :data:`SP_SEARCH` residues must have mean hydropathy
  >= :data:`H_THRESHOLD`; it is extended over neighbouring strongly hydrophobic residues
  (KD >= 1.8) and trimmed of hydrophilic ends to give the h-region. The n-region before it must
  be 1-:data:`N_MAX` residues with net positive charge (K + R - D - E >= 1). The first A-X-A
  motif within :data:`C_MAX` residues after the h-region is reported as a possible cleavage
  site. A heuristic, not SignalP: on the DeepLocPro proteins in ../shared/data it fires on about
  80% of periplasmic and outer-membrane proteins and 4% of cytoplasmic ones, and also on the
  first transmembrane helix of membrane proteins (a signal anchor; ``note`` says so when the
  h-region is also transmembrane-like and no A-X-A motif follows).
* Top-attended regions (:func:`top_attended_regions`): the non-overlapping windows of
  :data:`TOP_WINDOW` residues holding the largest share of the mean attention.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .classes import CLASSES, canonical_label
from .errors import UserError
from .predictor import DEFAULT_CHECKPOINT, available_checkpoints

# ------------------------------------------------------------------------------- settings

#: Environment variable naming a folder of checkpoint sets (each a folder with manifest.json).
CHECKPOINTS_ENV = "PROTLOC_CHECKPOINTS"
#: Where the app looks for checkpoint sets when the variable is unset.
DEFAULT_CHECKPOINT_ROOT = DEFAULT_CHECKPOINT.parent

#: Most sequences the app predicts in one batch (the CLI takes up to 10,000).
APP_BATCH_LIMIT = 1_000
#: Most sequences on the single-prediction page (more: use the Batch page).
SINGLE_PAGE_LIMIT = 10
#: Upload size limit in MB; must match ``server.maxUploadSize`` in .streamlit/config.toml.
MAX_UPLOAD_MB = 20
#: File name endings the Batch page reads (FASTA text, or gzip-compressed FASTA).
FASTA_UPLOAD_TYPES: tuple[str, ...] = ("fasta", "fa", "faa", "fas", "fsa", "txt", "gz")
#: File name endings the Structure page reads (PDB or mmCIF text, or gzip-compressed).
STRUCTURE_UPLOAD_TYPES: tuple[str, ...] = ("pdb", "ent", "cif", "mmcif", "gz")


def check_upload_name(name: str, allowed: Sequence[str]) -> None:
    """Refuse an uploaded file whose name does not end in one of ``allowed`` (without dots).

    Streamlit filters by extension in the browser and again on the server; this check states
    the rule in the library, so the pages cannot drift from it, with a message for the user.
    The content is still checked by the parsers (a binary file named .fasta is refused there).
    """
    suffixes = [s.lower() for s in Path(name).suffixes]
    if "\0" in name or not suffixes or suffixes[-1].lstrip(".") not in allowed:
        listed = ", ".join(f".{ext}" for ext in allowed)
        raise UserError(f"{name!r} is not an accepted file type; upload one of: {listed}.")


def checkpoint_root() -> Path:
    """The folder of checkpoint sets: ``$PROTLOC_CHECKPOINTS`` if set, else ``checkpoints/``."""
    value = os.environ.get(CHECKPOINTS_ENV, "").strip()
    return Path(value) if value else DEFAULT_CHECKPOINT_ROOT


def checkpoint_sets(root: str | os.PathLike | None = None) -> list[Path]:
    """Checkpoint sets under ``root`` (default :func:`checkpoint_root`), ``default`` first."""
    return available_checkpoints(checkpoint_root() if root is None else Path(root))


# ------------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    label: str  # expected class (a name in CLASSES)
    name: str
    organism: str
    group: str  # organism group for the predictor
    accession: str
    source: str
    sequence: str
    short: str = ""  # gene-style short name for buttons

    def fasta(self) -> str:
        header = f">{self.accession} {self.name} [{self.organism}]"
        lines = [self.sequence[i : i + 60] for i in range(0, len(self.sequence), 60)]
        return "\n".join([header, *lines])


# Sequences are copied from the labelled sets in ../shared/data (see ``source``), which are
# UniProtKB/Swiss-Prot sequences; tests/test_app_support.py re-checks them when PROTLOC_DATA
# is set. These proteins (or close homologues) are in the training data of most localization
# predictors, so they demonstrate the app; they do not test it.
_GROEL = (
    "MAAKDVKFGNDARVKMLRGVNVLADAVKVTLGPKGRNVVLDKSFGAPTITKDGVSVAREIELEDKFENMGAQMVKEVASK"
    "ANDAAGDGTTTATVLAQAIITEGLKAVAAGMNPMDLKRGIDKAVTAAVEELKALSVPCSDSKAIAQVGTISANSDETVGK"
    "LIAEAMDKVGKEGVITVEDGTGLQDELDVVEGMQFDRGYLSPYFINKPETGAVELESPFILLADKKISNIREMLPVLEAV"
    "AKAGKPLLIIAEDVEGEALATLVVNTMRGIVKVAAVKAPGFGDRRKAMLQDIATLTGGTVISEEIGMELEKATLEDLGQA"
    "KRVVINKDTTTIIDGVGEEAAIQGRVAQIRQQIEEATSDYDREKLQERVAKLAGGVAVIKVGAATEVEMKEKKARVEDAL"
    "HATRAAVEEGVVAGGGVALIRVASKLADLRGQNEDQNVGIKVALRAMEAPLRQIVLNCGEEPSVVANTVKGGDGNYGYNA"
    "ATEEYGNMIDMGILDPTKVTRSALQYAASVAGLMITTECMVTDLPKNDAADLGAAGGMGGMGGMGGMM"
)
_LACY = (
    "MYYLKNTNFWMFGLFFFFYFFIMGAYFPFFPIWLHDINHISKSDTGIIFAAISLFSLLFQPLFGLLSDKLGLRKYLLWII"
    "TGMLVMFAPFFIFIFGPLLQYNILVGSIVGGIYLGFCFNAGAPAVEAFIEKVSRRSNFEFGRARMFGCVGWALCASIVGI"
    "MFTINNQFVFWLGSGCALILAVLLFFAKTDAPSSATVANAVGANHSAFSLKLALELFRQPKLWFLSLYVIGVSCTYDVFD"
    "QQFANFFTSFFATGEQGTRVFGYVTTMGELLNASIMFFAPLIINRIGGKNALLLAGTIMSVRIIGSSFATSALEVVILKT"
    "LHMFEVPFLLVGCFKYITSQFEVRFSATIYLVCFCFFKQLAMIFMSVLAGNMYESIGFQGAYLVLGLVALGFTLISVFTL"
    "SGPGPLSLLRRQVNEVA"
)
_MALE = (
    "MKIKTGARILALSALTTMMFSASALAKIEEGKLVIWINGDKGYNGLAEVGKKFEKDTGIKVTVEHPDKLEEKFPQVAATG"
    "DGPDIIFWAHDRFGGYAQSGLLAEITPDKAFQDKLYPFTWDAVRYNGKLIAYPIAVEALSLIYNKDLLPNPPKTWEEIPA"
    "LDKELKAKGKSALMFNLQEPYFTWPLIAADGGYAFKYENGKYDIKDVGVDNAGAKAGLTFLVDLIKNKHMNADTDYSIAE"
    "AAFNKGETAMTINGPWAWSNIDTSKVNYGVTVLPTFKGQPSKPFVGVLSAGINAASPNKELAKEFLENYLLTDEGLEAVN"
    "KDKPLGAVALKSYEEELAKDPRIAATMENAQKGEIMPNIPQMSAFWYAVRTAVINAASGRQTVDEALKDAQTRITK"
)
_OMPA = (
    "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"
    "RMPYKGSVENGAYKAQGVQLTAKLGYPITDDLDIYTRLGGMVWRADTKSNVYGKNHDTGVSPVFAGGVEYAITPEIATRL"
    "EYQWTNNIGDAHTIGTRPDNGMLSLGVSYRFGQGEAAPVVAPAPAPAPEVQTKHFTLKSDVLFNFNKATLKPEGQAALDQ"
    "LYSQLSNLDPKDGSVVVLGYTDRIGSDAYNQGLSERRAQSVVDYLISKGIPADKISARGMGESNPVTGNTCDNVKQRAAL"
    "IDCLAPDRRVEIEVKGIKDVVTQPQA"
)
_HLYA = (
    "MPKLNRCAIAIFTILSAISSPTLLANINEPSGEAADIISQVADSHAIKYYNAADWQAEDNALPSLAELRDLVINQQKRVL"
    "VDFSQISDAEGQAEMQAQFRKAYGVGFANQFIVITEHKGELLFTPFDQAEEVDPQLLEAPRTARLLARSGFASPAPANSE"
    "TNTLPHVAFYISVNRAISDEECTFNNSWLWKNEKGSRPFCKDANISLIYRVNLERSLQYGIVGSATPDAKIVRISLDDDS"
    "TGAGIHLNDQLGYRQFGASYTTLDAYFREWSTDAIAQDYRFVFNASNNKAQILKTFPVDNINEKFERKEVSGFELGVTGG"
    "VEVSGDGPKAKLEARASYTQSRWLTYNTQDYRIERNAKNAQAVSFTWNRQQYATAESLLNRSTDALWVNTYPVDVNRISP"
    "LSYASFVPKMDVIYKASATETGSTDFIIDSSVNIRPIYNGAYKHYYVVGAHQSYHGFEDTPRRRITKSASFTVDWDHPVF"
    "TGGRPVNLQLASFNNRCIQVDAQGRLAANTCDSQQSAQSFIYDQLGRYVSASNTKLCLDGEALDALQPCNQNLTQRWEWR"
    "KGTDELTNVYSGESLGHDKQTGELGLYASSNDAVSLRTITAYTDVFNAQESSPILGYTQGKMNQQRVGQDHRLYVRAGAA"
    "IDALGSASDLLVGGNGGSLSSVDLSGVKSITATSGDFQYGGQQLVALTFTYQDGRQQTVGSKAYVTNAHEDRFDLPAAAK"
    "ITQLKIWSDDWLVKGVQFDLN"
)
_M6 = (
    "MAKNNTNRHYSLRKLKKGTASVAVALSVIGAGLVVNTNEVSARVFPRGTVENPDKARELLNKYDVENSMLQANNDKLTTE"
    "NNNLTDQNKNLTTENKNLTDQNKNLTTENKNLTDQNKNLTTENKELKAEENRLTTENKGLTKKLSEAEEEAANKERENKE"
    "AIGTLKKTLDETVKDKIAKEQESKETIGTLKKTLDETVKDKIAKEQESKETIGTLKKTLDETVKDKIAKEQESKETIGTL"
    "KKILDETVKDKIAREQKSKQDIGALKQELAKKDEGNKVSEASRKGLRRDLDASREAKKQVEKDLANLTAELDKVKEEKQI"
    "SDASRQGLRRDLDASREAKKQVEKALEEANSKLAALEKLNKELEESKKLTEKEKAELQAKLEAEAKALKEQLAKQAEELA"
    "KLRAGKASDSQTPDAKPGNKVVPGKGQAPQAGTKPNQNKAPMKETKRQLPSTGETANPFFTAAALTVMATAGVAAVVKRK"
    "EEN"
)

EXAMPLES: dict[str, Example] = {
    "Cytoplasmic": Example(
        "Cytoplasmic",
        "GroEL chaperonin (GroL)",
        "Escherichia coli K-12",
        "negative",
        "P0A6F5",
        "Gneg-mPLoc / DeepLocPro sets (accession P0A6F5), identical to Swiss-Prot CH60_ECOLI",
        _GROEL,
        short="GroEL",
    ),
    "Cytoplasmic membrane": Example(
        "Cytoplasmic membrane",
        "Lactose permease (LacY)",
        "Escherichia coli K-12",
        "negative",
        "P02920",
        "LocTree3 Swiss-Prot set, entry LACY_ECOLI (also PSORTb 3.0 database)",
        _LACY,
        short="LacY",
    ),
    "Periplasmic": Example(
        "Periplasmic",
        "Maltose-binding protein (MalE)",
        "Escherichia coli K-12",
        "negative",
        "P0AEX9",
        "Gneg-mPLoc / DeepLocPro sets (accession P0AEX9), identical to MALE_ECOLI",
        _MALE,
        short="MalE",
    ),
    "Outer membrane": Example(
        "Outer membrane",
        "Outer membrane protein A (OmpA)",
        "Escherichia coli K-12",
        "negative",
        "P0A910",
        "LocTree3 Swiss-Prot set, entry OMPA_ECOLI (also PSORTb 3.0 database)",
        _OMPA,
        short="OmpA",
    ),
    "Extracellular": Example(
        "Extracellular",
        "Hemolysin / cytolysin (HlyA)",
        "Vibrio cholerae",
        "negative",
        "P09545",
        "Gneg-mPLoc / DeepLocPro sets (accession P09545), identical to HLYA_VIBCH",
        _HLYA,
        short="HlyA",
    ),
    "Cell wall & surface": Example(
        "Cell wall & surface",
        "M protein, serotype 6 (LPSTG sortase anchor)",
        "Streptococcus pyogenes",
        "positive",
        "P08089",
        "PSORTb 3.0 database (Cellwall, GI 126670; Swiss-Prot M6_STRPY)",
        _M6,
        short="M6 protein",
    ),
}


# --------------------------------------------------------------------------- hydropathy

#: Kyte & Doolittle (1982) hydropathy index; X (unknown) counts as 0.
KYTE_DOOLITTLE: dict[str, float] = {
    "A": 1.8,
    "R": -4.5,
    "N": -3.5,
    "D": -3.5,
    "C": 2.5,
    "Q": -3.5,
    "E": -3.5,
    "G": -0.4,
    "H": -3.2,
    "I": 4.5,
    "L": 3.8,
    "K": -3.9,
    "M": 1.9,
    "F": 2.8,
    "P": -1.6,
    "S": -0.8,
    "T": -0.7,
    "W": -0.9,
    "Y": -1.3,
    "V": 4.2,
    "X": 0.0,
}

TM_WINDOW = 19
TM_THRESHOLD = 1.6
SP_SEARCH = 35
H_WINDOW = 10
H_THRESHOLD = 1.8
N_MAX = 25
C_MAX = 12
_CORE = 1.8
TOP_WINDOW = 7


def hydropathy_values(sequence: str) -> np.ndarray:
    """Per-residue Kyte-Doolittle values (unknown letters count as 0)."""
    return np.array([KYTE_DOOLITTLE.get(aa, 0.0) for aa in sequence.upper()], dtype=float)


def window_means(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of every full window: element i covers values[i : i + window]."""
    values = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError("window must be at least 1")
    if len(values) < window:
        return np.zeros(0)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    return (sums[window:] - sums[:-window]) / window


def kyte_doolittle(sequence: str, window: int = 9) -> np.ndarray:
    """Window-averaged hydropathy, one value per residue (centred window; NaN where it does
    not fit at the ends). Sequences shorter than the window give all NaN."""
    means = window_means(hydropathy_values(sequence), window)
    out = np.full(len(sequence), np.nan)
    if len(means):
        offset = (window - 1) // 2
        out[offset : offset + len(means)] = means
    return out


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


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) 0-based index pairs of the True runs in a boolean array."""
    runs, start = [], None
    for i, flag in enumerate(mask):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def _covered(means: np.ndarray, threshold: float, window: int, length: int) -> np.ndarray:
    """Residues covered by at least one window whose mean exceeds ``threshold``."""
    covered = np.zeros(length, dtype=bool)
    for i in np.flatnonzero(means > threshold):
        covered[i : i + window] = True
    return covered


def transmembrane_segments(
    sequence: str, window: int = TM_WINDOW, threshold: float = TM_THRESHOLD
) -> list[Region]:
    """Transmembrane-like segments: merged 19-residue windows with mean hydropathy > 1.6."""
    seq = sequence.upper()
    means = window_means(hydropathy_values(seq), window)
    covered = _covered(means, threshold, window, len(seq))
    regions = []
    for first, last in _runs(covered):
        inside = means[first : last - window + 2]
        regions.append(
            Region(
                "transmembrane-like",
                first + 1,
                last + 1,
                seq[first : last + 1],
                score=round(float(inside.max()), 2) if len(inside) else None,
                note=f"{window}-residue Kyte-Doolittle mean up to "
                f"{float(inside.max()):.2f} (> {threshold})"
                if len(inside)
                else "",
            )
        )
    return regions


def signal_peptide_like(sequence: str) -> Region | None:
    """An N-terminal signal-peptide-like region (n-region + h-region [+ c-region]) or None.

    See the module docstring for the rule. ``parts`` holds the n-, h- and (when an A-X-A
    motif follows) c-regions as 1-based inclusive (start, end) pairs; the region ends at the
    possible cleavage site, or at the end of the h-region when there is none.
    """
    seq = sequence.upper()
    means = window_means(hydropathy_values(seq[:SP_SEARCH]), H_WINDOW)
    if not len(means):
        return None
    best = int(np.argmax(means))
    if means[best] < H_THRESHOLD:
        return None
    first, last = best, best + H_WINDOW - 1
    while first > 0 and KYTE_DOOLITTLE.get(seq[first - 1], 0.0) >= _CORE:
        first -= 1
    while last + 1 < len(seq) and KYTE_DOOLITTLE.get(seq[last + 1], 0.0) >= _CORE:
        last += 1
    while first < last and KYTE_DOOLITTLE.get(seq[first], 0.0) < 0:
        first += 1
    while last > first and KYTE_DOOLITTLE.get(seq[last], 0.0) < 0:
        last -= 1
    n_region = seq[:first]
    if not 1 <= len(n_region) <= N_MAX:
        return None
    charge = sum(n_region.count(a) for a in "KR") - sum(n_region.count(a) for a in "DE")
    if charge < 1:
        return None
    h_len = last - first + 1
    parts = {"n": (1, first), "h": (first + 1, last + 1)}
    cleave = _cleavage_site(seq, last + 1)
    end = last + 1
    note = f"n-region {first} residues, net charge +{charge}; h-region {h_len} residues"
    if cleave is not None:
        parts["c"] = (last + 2, cleave)
        end = cleave
        note += f"; A-X-A motif: possible cleavage after residue {cleave}"
    else:
        note += "; no A-X-A cleavage motif after the h-region"
    if cleave is None and any(
        tm.start <= last + 1 and tm.end >= first + 1 for tm in transmembrane_segments(seq[:80])
    ):
        note += (
            "; the stretch is also transmembrane-like and has no cleavage motif, so it may "
            "be an uncleaved signal anchor (a first transmembrane helix)"
        )
    score = float(np.mean(hydropathy_values(seq[first : last + 1])))
    return Region("signal-peptide-like", 1, end, seq[:end], round(score, 2), note, parts)


def _cleavage_site(seq: str, h_end: int) -> int | None:
    """First A-X-A motif within C_MAX residues after the h-region: the residue before the
    cleavage site (1-based), or None."""
    for site in range(h_end + 3, min(h_end + C_MAX, len(seq) - 1) + 1):
        if seq[site - 1] == "A" and seq[site - 3] == "A" and seq[site] != "P":
            return site
    return None


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


def sequence_regions(sequence: str) -> list[Region]:
    """Signal-peptide-like region (if any) and transmembrane-like segments, by position."""
    regions = transmembrane_segments(sequence)
    sp = signal_peptide_like(sequence)
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


def attention_colours(values: Sequence[float], colorscale: str = "YlOrRd") -> list[str]:
    """One hex colour per value, scaled from the smallest (pale) to the largest (dark red)."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    arr = np.asarray(values, dtype=float)
    if not len(arr):
        return []
    low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
    scaled = np.zeros_like(arr) if high <= low else (arr - low) / (high - low)
    scaled = np.nan_to_num(scaled, nan=0.0)
    out = []
    for colour in sample_colorscale(colorscale, [float(x) for x in scaled]):
        r, g, b = unlabel_rgb(colour) if colour.startswith("rgb") else _hex_rgb(colour)
        out.append(f"#{int(round(r)):02x}{int(round(g)):02x}{int(round(b)):02x}")
    return out


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


# ---------------------------------------------------------------------------- structures


class StructureError(ValueError):
    """An uploaded structure cannot be read; ``args[0]`` is the message for the user."""


@dataclass
class StructureChain:
    id: str
    residues: list[tuple[int, str, str]]  # (residue number, insertion code, one-letter code)

    @property
    def sequence(self) -> str:
        return "".join(aa for _, _, aa in self.residues)


@dataclass
class Structure:
    format: str  # "pdb" or "cif" (3Dmol.js format names)
    text: str
    chains: list[StructureChain]


@dataclass
class ResidueMapping:
    """Structure residues matched to sequence positions by residue number."""

    chain: str
    positions: dict[int, int]  # structure residue number -> 0-based sequence index
    identical: int
    compared: int
    outside: list[int]  # structure residue numbers with no sequence position
    messages: list[str]

    @property
    def identity(self) -> float:
        return self.identical / self.compared if self.compared else 0.0


_MAX_STRUCTURE_BYTES = 50 * 2**20


def structure_format(filename: str, text: str) -> str:
    """``"cif"`` for mmCIF (by extension or content), else ``"pdb"``."""
    name = filename.lower().removesuffix(".gz")
    if name.endswith((".cif", ".mmcif")):
        return "cif"
    if name.endswith((".pdb", ".ent")):
        return "pdb"
    head = text.lstrip()[:2000]
    return "cif" if head.startswith("data_") or "\n_atom_site." in head else "pdb"


def read_structure(data: bytes | str, filename: str = "structure.pdb") -> Structure:
    """Parse PDB or mmCIF text (gzip allowed) into its protein chains (first model only)."""
    import gzip
    import warnings

    from Bio.PDB import MMCIFParser, PDBParser
    from Bio.PDB.Polypeptide import is_aa
    from Bio.SeqUtils import seq1

    if isinstance(data, bytes):
        if data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise StructureError(f"'{filename}' looks gzip-compressed but is damaged ({exc}).")
        if len(data) > _MAX_STRUCTURE_BYTES:
            raise StructureError(f"'{filename}' is larger than 50 MB; upload one chain or model.")
        if b"\x00" in data:
            raise StructureError(f"'{filename}' is a binary file, not PDB or mmCIF text.")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    else:
        text = data
    if not text.strip():
        raise StructureError(f"'{filename}' is empty.")
    fmt = structure_format(filename, text)
    parser = MMCIFParser(QUIET=True) if fmt == "cif" else PDBParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parser.get_structure("upload", io.StringIO(text))
    except Exception as exc:  # Biopython raises many types on malformed files
        kind = "mmCIF" if fmt == "cif" else "PDB"
        raise StructureError(f"'{filename}' could not be read as {kind}: {exc}") from None
    models = list(parsed)
    if not models:
        raise StructureError(f"'{filename}' has no atoms: is it a PDB or mmCIF coordinate file?")
    chains = []
    for chain in models[0]:
        residues = []
        for residue in chain:
            hetflag, number, icode = residue.id
            if hetflag.strip() and hetflag != "H_MSE":
                continue
            if not is_aa(residue, standard=False):
                continue
            letter = seq1(residue.get_resname(), custom_map={"MSE": "M"}) or "X"
            residues.append((int(number), icode.strip(), letter[:1]))
        if residues:
            chains.append(StructureChain(str(chain.id).strip() or "_", residues))
    if not chains:
        raise StructureError(f"'{filename}' has no protein chain (no amino-acid residues).")
    return Structure(fmt, text, chains)


def map_residues(chain: StructureChain, sequence: str) -> ResidueMapping:
    """Match a chain to a sequence by residue number (residue n = sequence position n)."""
    seq = sequence.upper()
    positions: dict[int, int] = {}
    outside: list[int] = []
    identical = compared = 0
    for number, icode, letter in chain.residues:
        if icode:
            continue  # insertion codes have no sequence position of their own
        if 1 <= number <= len(seq):
            positions[number] = number - 1
            compared += 1
            identical += letter == seq[number - 1]
        else:
            outside.append(number)
    messages = []
    n_struct = len(chain.residues)
    if n_struct != len(seq):
        messages.append(
            f"Chain {chain.id} has {n_struct:,} residues with coordinates; the sequence has "
            f"{len(seq):,}. Residues are matched by residue number, so missing loops or termini "
            "are simply uncoloured."
        )
    if outside:
        messages.append(
            f"{len(outside):,} structure residues are numbered outside 1-{len(seq):,} and stay "
            "grey (the structure may use a different numbering, e.g. without the signal peptide)."
        )
    if compared and identical / compared < 0.9:
        messages.append(
            f"Only {identical:,} of {compared:,} matched residues ({identical / compared:.0%}) "
            "have the same amino acid as the sequence: the numbering or the protein differs, so "
            "the colours may not belong to these residues."
        )
    if not compared:
        messages.append(
            "No structure residue number falls inside the sequence: nothing is coloured."
        )
    return ResidueMapping(chain.id, positions, identical, compared, outside, messages)


def structure_view_html(
    structure: Structure,
    chain: str | None,
    residue_colours: Mapping[int, str],
    js_library: str,
    width: int | str = "100%",
    height: int = 520,
    style: str = "cartoon",
    default_colour: str = "#d9d9d9",
) -> str:
    """A self-contained HTML page showing the structure with py3Dmol, 3Dmol.js inlined.

    ``residue_colours`` maps residue numbers of ``chain`` to colours; other residues are
    ``default_colour`` and other chains are lighter. ``js_library`` is the text of
    3Dmol-min.js: nothing is fetched from the network.
    """
    import py3Dmol

    view = py3Dmol.view(width=width, height=height, js="3Dmol-min.js (inlined)")
    view.addModel(structure.text, structure.format)
    view.setStyle(
        {}, {style: {"color": "#f0f0f0"}} if chain else {style: {"color": default_colour}}
    )
    if chain:
        view.setStyle({"chain": chain}, {style: {"color": default_colour}})
        by_colour: dict[str, list[int]] = {}
        for number, colour in residue_colours.items():
            by_colour.setdefault(colour, []).append(int(number))
        for colour, numbers in by_colour.items():
            view.setStyle({"chain": chain, "resi": sorted(numbers)}, {style: {"color": colour}})
    view.setBackgroundColor("white")
    view.zoomTo()
    body = view.write_html()
    library = js_library.replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head>"
        "<body style='margin:0'>"
        f"<script>{library}</script>"
        "<script>window.$3Dmolpromise = Promise.resolve();</script>"
        f"{body}</body></html>"
    )


# ------------------------------------------------------------------- cross-validation results

#: File written by ``protloc evaluate`` into a checkpoint set.
RESULTS_FILE = "results.json"

_METRIC_ALIASES = {
    "accuracy": ("accuracy", "acc", "test_accuracy"),
    "macro_f1": ("macro_f1", "f1_macro", "macro-f1", "f1", "test_f1"),
    "mcc": ("mcc", "test_mcc"),
    "coverage": ("coverage",),
    "n": ("n", "n_total", "support"),
}
_PEER_KEYS = ("deeplocpro", "psortb", "loctree", "mploc", "peer")
_CONTAINER_KEYS = (
    "predictors",
    "results",
    "evaluations",
    "comparison",
    "peers",
    "models",
    "baselines",
    "references",
)


@dataclass
class Evaluation:
    """One predictor's cross-validation figures, each None when ``results.json`` lacks it."""

    name: str
    overall: dict[str, float | None]
    confusion: tuple[list[str], np.ndarray] | None = None
    per_class: list[dict[str, Any]] | None = None
    per_fold: list[dict[str, Any]] | None = None
    fold_mean: dict[str, float | None] | None = None
    fold_sd: dict[str, float | None] | None = None
    reliability: list[dict[str, Any]] | None = None
    ece: float | None = None
    n: int | None = None
    coverage: float | None = None


@dataclass
class CVReport:
    """What the CV results page shows; every part may be missing."""

    path: Path
    main: Evaluation | None  # this model, all held-out proteins
    comparison: list[Evaluation]  # predictors side by side on one common set (benchmark)
    comparison_n: int | None
    comparison_notes: list[str]
    reference: Evaluation | None  # the reference study as found in results.json
    reference_caveat: str
    notes: list[str]
    raw: Any


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) or math.isinf(out) else out


def _metric(block: Mapping[str, Any], name: str) -> float | None:
    for key in _METRIC_ALIASES[name]:
        if key in block:
            value = block[key]
            if isinstance(value, Mapping):  # {"mean": .., "std": ..}
                value = value.get("mean", value.get("value"))
            return _num(value)
    return None


def _looks_like_evaluation(block: Any) -> bool:
    if not isinstance(block, Mapping):
        return False
    keys = set(block)
    return (
        bool(keys & {"overall", "confusion_matrix", "per_class", "per_fold", "calibration"})
        or sum(1 for m in ("accuracy", "macro_f1", "mcc") if _metric(block, m) is not None) >= 2
    )


def _class_name(label: Any) -> str | None:
    if isinstance(label, (int, np.integer)) and 0 <= int(label) < len(CLASSES):
        return CLASSES[int(label)]
    if isinstance(label, str):
        return label if label in CLASSES else canonical_label(label)
    return None


def _confusion(block: Any) -> tuple[list[str], np.ndarray] | None:
    if isinstance(block, Mapping):
        labels = block.get("labels") or block.get("classes") or list(CLASSES)
        matrix = block.get("matrix") or block.get("values")
    else:
        labels, matrix = list(CLASSES), block
    try:
        arr = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        return None
    names = [_class_name(label) or str(label) for label in labels]
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] != len(names):
        return None
    return names, arr


def _per_class(block: Any) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = []
    if isinstance(block, Mapping):  # {"Cytoplasmic": {...}, ...}
        block = [{"class": k, **v} for k, v in block.items() if isinstance(v, Mapping)]
    if not isinstance(block, list):
        return None
    for item in block:
        if not isinstance(item, Mapping):
            continue
        name = _class_name(item.get("class", item.get("label", item.get("name"))))
        if name is None:
            continue
        row: dict[str, Any] = {"class": name}
        for key in ("precision", "recall", "f1", "mcc", "support"):
            value = _num(item.get(key, item.get("f1_score") if key == "f1" else None))
            row[key] = int(value) if key == "support" and value is not None else value
        rows.append(row)
    return rows or None


def _per_fold(block: Any) -> tuple[list[dict], dict | None, dict | None]:
    if isinstance(block, Mapping):
        folds = block.get("folds")
        mean, sd = block.get("mean"), block.get("sd", block.get("std"))
    else:
        folds, mean, sd = block, None, None
    if not isinstance(folds, list):
        return [], None, None
    rows = []
    for k, fold in enumerate(folds):
        if not isinstance(fold, Mapping):
            continue
        row = {"fold": fold.get("partition", fold.get("fold", fold.get("test_fold", k)))}
        for name in ("accuracy", "macro_f1", "mcc", "coverage", "n"):
            row[name] = _metric(fold, name)
        rows.append(row)
    if rows and mean is None:
        mean, sd = {}, {}
        for name in ("accuracy", "macro_f1", "mcc"):
            vals = [r[name] for r in rows if r[name] is not None]
            mean[name] = float(np.mean(vals)) if vals else None
            sd[name] = float(np.std(vals)) if vals else None
    clean = lambda d: {k: _num(v) for k, v in d.items()} if isinstance(d, Mapping) else None  # noqa: E731
    return rows, clean(mean), clean(sd)


def _reliability(block: Any) -> tuple[list[dict], float | None]:
    if not isinstance(block, Mapping):
        return [], None
    bins = []
    for b in block.get("bins") or []:
        if not isinstance(b, Mapping):
            continue
        bins.append(
            {
                "lower": _num(b.get("lower")),
                "upper": _num(b.get("upper")),
                "count": int(_num(b.get("count")) or 0),
                "mean_confidence": _num(b.get("mean_confidence", b.get("confidence"))),
                "accuracy": _num(b.get("accuracy")),
            }
        )
    return bins, _num(block.get("ece"))


def parse_evaluation(name: str, block: Mapping[str, Any]) -> Evaluation:
    """Read one predictor's block, keeping whatever is recognisable and skipping the rest."""
    overall_block = block.get("overall") if isinstance(block.get("overall"), Mapping) else block
    overall = {m: _metric(overall_block, m) for m in ("accuracy", "macro_f1", "mcc")}
    ev = Evaluation(name=name, overall=overall)
    ev.n = int(_num(block.get("n")) or 0) or None
    ev.coverage = _num(block.get("coverage"))
    if "confusion_matrix" in block:
        ev.confusion = _confusion(block["confusion_matrix"])
    if "per_class" in block:
        ev.per_class = _per_class(block["per_class"])
    if "per_fold" in block:
        rows, mean, sd = _per_fold(block["per_fold"])
        ev.per_fold, ev.fold_mean, ev.fold_sd = rows or None, mean, sd
    if "calibration" in block:
        bins, ece = _reliability(block["calibration"])
        ev.reliability, ev.ece = bins or None, ece
    return ev


def _candidates(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    found: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in doc.items():
        if key in _CONTAINER_KEYS and isinstance(value, Mapping):
            found += [(str(k), v) for k, v in value.items() if _looks_like_evaluation(v)]
        elif key in _CONTAINER_KEYS and isinstance(value, list):
            for item in value:
                if _looks_like_evaluation(item):
                    found.append((str(item.get("name", item.get("predictor", key))), item))
        elif _looks_like_evaluation(value) and key not in ("overall", "abstain_as_wrong"):
            found.append((str(key), value))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if isinstance(v, str) and v.strip()]
    return []


_OWN_KEYS = ("protloc", "model", "ours", "this_model", "all")
_REFERENCE_KEYS = ("reference_study", "reference", "seed", "seed_study")


def load_cv_results(checkpoint_dir: str | os.PathLike, model_name: str = "") -> CVReport | None:
    """Read ``results.json`` of a checkpoint set; None when the file is absent.

    The schema is not final, so this reads defensively. Understood: the output of
    ``protloc evaluate`` (``all``: this model on every held-out protein; ``benchmark``:
    ``{"n", "predictors": {name: result}, "notes"}``; ``reference_study``; ``notes``), a bare
    :func:`protloc.metrics.evaluate_predictions` result, or a mapping of predictor name to such
    results (the model under its name, ``protloc`` or ``model``; DeepLocPro and PSORTb as peers).
    Anything unrecognised is skipped. Unreadable files raise :class:`ValueError` with a message
    for the user.
    """
    path = Path(checkpoint_dir) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid JSON ({exc}).") from None
    if not isinstance(doc, Mapping):
        raise ValueError(f"{path.name} does not hold a JSON object; nothing to show.")
    label = model_name or "this model"
    notes = _strings(doc.get("notes")) + _strings(doc.get("note")) + _strings(doc.get("group_rule"))

    main: Evaluation | None = None
    if any(k in doc for k in ("overall", "confusion_matrix")):
        main = parse_evaluation(label, doc)
    elif _looks_like_evaluation(doc.get("all")):
        main = parse_evaluation(label, doc["all"])

    reference: Evaluation | None = None
    caveat = REFERENCE_CAVEAT
    for key in _REFERENCE_KEYS:
        if _looks_like_evaluation(doc.get(key)):
            reference = parse_evaluation("Reference study", doc[key])
            caveat = (
                _strings(doc[key].get("caveat"))[0] if _strings(doc[key].get("caveat")) else caveat
            )
            break

    comparison: list[Evaluation] = []
    comparison_n: int | None = None
    comparison_notes: list[str] = []
    bench = doc.get("benchmark")
    if isinstance(bench, Mapping) and isinstance(bench.get("predictors"), Mapping):
        for name, block in bench["predictors"].items():
            if _looks_like_evaluation(block):
                shown = label if str(name).lower() in _OWN_KEYS else str(name)
                comparison.append(parse_evaluation(shown, block))
        comparison_n = int(_num(bench.get("n")) or 0) or None
        comparison_notes = _strings(bench.get("notes"))
    else:
        skip = set(_REFERENCE_KEYS) | {"all", "benchmark"}
        candidates = [(k, b) for k, b in _candidates(doc) if k not in skip]
        if main is None:
            for key, block in candidates:
                if key.lower() in _OWN_KEYS or key == model_name:
                    main = parse_evaluation(label, block)
                    break
        peers = [(k, b) for k, b in candidates if any(p in k.lower() for p in _PEER_KEYS)]
        if peers:
            comparison = ([main] if main is not None else []) + [
                parse_evaluation(k, b) for k, b in peers
            ]
    if main is None and not comparison:
        notes.insert(0, f"{path.name} holds no figures this page recognises.")
    return CVReport(
        path, main, comparison, comparison_n, comparison_notes, reference, caveat, notes, doc
    )


# ---------------------------------------------------------------- the reference study's figures

#: Caveat shown with every figure of the reference study.
REFERENCE_CAVEAT = (
    "The reference study (ESM-2 650M + ProstT5 fusion network) reports these figures on "
    "stratified random folds of equal size (2,307/2,306 proteins), not on homology partitions: "
    "close homologues of a test protein can sit in its training folds, so the figures are "
    "optimistic and not comparable with homology-partitioned cross-validation such as "
    "DeepLocPro's or ours."
)

# Rows = true, columns = predicted, in CLASSES order, recomputed from the study's published
# per-fold predictions (../shared/reference/seed_results/fold_k_results.json; its class index
# order is Cytoplasmic, Cytoplasmic membrane, Extracellular, Periplasmic, Outer membrane,
# Cell wall, reordered here). tests/test_app_support.py checks it against those files.
REFERENCE_STUDY: dict[str, Any] = {
    "name": "Reference study (fusion network, random folds)",
    "n": 11_531,
    "per_fold": [
        {"fold": 0, "accuracy": 0.9376, "macro_f1": 0.8348, "mcc": 0.8942},
        {"fold": 1, "accuracy": 0.9271, "macro_f1": 0.7985, "mcc": 0.8769},
        {"fold": 2, "accuracy": 0.9271, "macro_f1": 0.8383, "mcc": 0.8764},
        {"fold": 3, "accuracy": 0.9358, "macro_f1": 0.8251, "mcc": 0.8914},
        {"fold": 4, "accuracy": 0.9315, "macro_f1": 0.7960, "mcc": 0.8835},
    ],
    "mean": {"accuracy": 0.9318, "macro_f1": 0.8185, "mcc": 0.8845},
    "sd": {"accuracy": 0.0043, "macro_f1": 0.0179, "mcc": 0.0073},
    "confusion_matrix": [
        [6669, 46, 20, 29, 24, 0],
        [125, 2228, 34, 32, 29, 7],
        [31, 20, 459, 16, 31, 0],
        [79, 38, 26, 540, 28, 6],
        [57, 26, 28, 17, 819, 7],
        [6, 8, 2, 1, 13, 30],
    ],
}

#: DeepLocPro's own held-out predictions on its 1,131 benchmark proteins (mean of 4 inner
#: models, organism-group rule applied): see protloc.reference. Not the same proteins as any
#: cross-validation above, so shown as context only.
DEEPLOCPRO_BENCHMARK = {"n": 1_131, "accuracy": 0.777, "macro_f1": 0.733, "mcc": 0.716}


def reference_evaluation() -> Evaluation:
    """The reference study's figures as an :class:`Evaluation` (per-class from its matrix)."""
    cm = np.asarray(REFERENCE_STUDY["confusion_matrix"], dtype=float)
    per_class = []
    for j, name in enumerate(CLASSES):
        tp = cm[j, j]
        precision = tp / cm[:, j].sum() if cm[:, j].sum() else 0.0
        recall = tp / cm[j].sum() if cm[j].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "class": name,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "mcc": None,
                "support": int(cm[j].sum()),
            }
        )
    return Evaluation(
        name=REFERENCE_STUDY["name"],
        overall=dict(REFERENCE_STUDY["mean"]),
        confusion=(list(CLASSES), cm),
        per_class=per_class,
        per_fold=[dict(f) for f in REFERENCE_STUDY["per_fold"]],
        fold_mean=dict(REFERENCE_STUDY["mean"]),
        fold_sd=dict(REFERENCE_STUDY["sd"]),
        n=REFERENCE_STUDY["n"],
    )


# ----------------------------------------------------------------------------- misc


def iter_predicted(records: Iterable, predictions: Iterable) -> list[tuple[Any, Any]]:
    """(record, prediction) pairs for the records that were predicted, in input order."""
    return [(r, p) for r, p in zip(records, predictions) if p is not None]
