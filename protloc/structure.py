"""Protein structures for the attention view: reading PDB or mmCIF (plain or gzip), size limits,
mapping structure residues to sequence positions, and colouring them by attention.

Gzip input is decompressed as a stream that stops at :data:`MAX_STRUCTURE_BYTES`, so a small
upload that expands to gigabytes is refused without being expanded in memory; a damaged
archive gives one line naming the file (never the server's path or zlib's message).
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

#: Largest structure text read (after decompression), in bytes.
MAX_STRUCTURE_BYTES = 50 * 2**20


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


def structure_format(filename: str, text: str) -> str:
    """``"cif"`` for mmCIF (by extension or content), else ``"pdb"``."""
    name = filename.lower().removesuffix(".gz")
    if name.endswith((".cif", ".mmcif")):
        return "cif"
    if name.endswith((".pdb", ".ent")):
        return "pdb"
    head = text.lstrip()[:2000]
    return "cif" if head.startswith("data_") or "\n_atom_site." in head else "pdb"


def _display_name(filename: str) -> str:
    """The file's own name, never a folder on the server."""
    return Path(str(filename)).name or "upload"


def _decompress(data: bytes, name: str) -> bytes:
    """Gunzip at most MAX_STRUCTURE_BYTES + 1 bytes (a stream, never the whole archive)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            out = handle.read(MAX_STRUCTURE_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        raise StructureError(
            f"'{name}' looks gzip-compressed but is damaged or truncated; "
            "upload it again, or uncompressed."
        ) from None
    if len(out) > MAX_STRUCTURE_BYTES:
        raise StructureError(
            f"'{name}' expands to more than {MAX_STRUCTURE_BYTES // 2**20} MB; "
            "upload one chain or model."
        )
    return out


def _text(data: bytes | str, name: str) -> str:
    if isinstance(data, str):
        return data
    if data[:2] == b"\x1f\x8b":
        data = _decompress(data, name)
    if len(data) > MAX_STRUCTURE_BYTES:
        raise StructureError(
            f"'{name}' is larger than {MAX_STRUCTURE_BYTES // 2**20} MB; upload one chain or model."
        )
    if b"\x00" in data:
        raise StructureError(f"'{name}' is a binary file, not PDB or mmCIF text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_structure(data: bytes | str, filename: str = "structure.pdb") -> Structure:
    """Parse PDB or mmCIF text (gzip allowed) into its protein chains (first model only)."""
    import warnings

    from Bio.PDB import MMCIFParser, PDBParser

    name = _display_name(filename)
    text = _text(data, name)
    if not text.strip():
        raise StructureError(f"'{name}' is empty.")
    fmt = structure_format(name, text)
    parser = MMCIFParser(QUIET=True) if fmt == "cif" else PDBParser(QUIET=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parser.get_structure("upload", io.StringIO(text))
    except Exception as exc:  # Biopython raises many types on malformed files
        kind = "mmCIF" if fmt == "cif" else "PDB"
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise StructureError(f"'{name}' could not be read as {kind}: {detail}") from None
    models = list(parsed)
    if not models:
        raise StructureError(f"'{name}' has no atoms: is it a PDB or mmCIF coordinate file?")
    chains = [c for c in (_chain(chain) for chain in models[0]) if c.residues]
    if not chains:
        raise StructureError(f"'{name}' has no protein chain (no amino-acid residues).")
    return Structure(fmt, text, chains)


def _chain(chain) -> StructureChain:
    """Amino-acid residues of a Biopython chain (selenomethionine read as M)."""
    from Bio.PDB.Polypeptide import is_aa
    from Bio.SeqUtils import seq1

    residues = []
    for residue in chain:
        hetflag, number, icode = residue.id
        if hetflag.strip() and hetflag != "H_MSE":
            continue
        if not is_aa(residue, standard=False):
            continue
        letter = seq1(residue.get_resname(), custom_map={"MSE": "M"}) or "X"
        residues.append((int(number), icode.strip(), letter[:1]))
    return StructureChain(str(chain.id).strip() or "_", residues)


def map_residues(chain: StructureChain, sequence: str, offset: int = 0) -> ResidueMapping:
    """Match a chain to a sequence by residue number: residue n = sequence position
    n + ``offset`` (e.g. 21 for a structure numbered from the mature protein after a
    21-residue signal peptide)."""
    seq = sequence.upper()
    positions: dict[int, int] = {}
    outside: list[int] = []
    identical = compared = 0
    for number, icode, letter in chain.residues:
        if icode:
            continue  # insertion codes have no sequence position of their own
        position = number + offset
        if 1 <= position <= len(seq):
            positions[number] = position - 1
            compared += 1
            identical += letter == seq[position - 1]
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


def best_offset(chain: StructureChain, sequence: str, limit: int = 200) -> int:
    """The numbering offset (-``limit``..``limit``) under which most residues of ``chain``
    carry the sequence's amino acid; 0 when nothing matches better."""
    seq = sequence.upper()
    numbered = [(n, aa) for n, icode, aa in chain.residues if not icode]

    def identical(offset: int) -> int:
        return sum(1 for n, aa in numbered if 1 <= n + offset <= len(seq) and seq[n + offset - 1] == aa)

    scores = {k: identical(k) for k in range(-limit, limit + 1)}
    best = max(scores, key=lambda k: (scores[k], -abs(k)))
    return best if scores[best] > scores[0] else 0


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


# ------------------------------------------------------------------------ colours


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
