"""protloc.structure: PDB/mmCIF reading (plain or gzip), limits, residue mapping, the viewer."""

from __future__ import annotations

from pathlib import Path

import pytest

from pages import examples
from protloc import structure as structures

ROOT = Path(__file__).resolve().parent.parent


def _pdb(sequence: str, chain: str = "A", first: int = 1) -> str:
    from test_app import helix_pdb

    text = helix_pdb(sequence, chain)
    if first != 1:
        lines = []
        for line in text.splitlines():
            if line.startswith("ATOM"):
                number = int(line[22:26]) + first - 1
                line = line[:22] + f"{number:>4}" + line[26:]
            lines.append(line)
        text = "\n".join(lines) + "\n"
    return text


def test_read_pdb_and_map_by_residue_number():
    seq = examples.EXAMPLES["Outer membrane"].sequence
    parsed = structures.read_structure(_pdb(seq[:40]).encode(), "model.pdb")
    assert parsed.format == "pdb" and [c.id for c in parsed.chains] == ["A"]
    chain = parsed.chains[0]
    assert chain.sequence == seq[:40] and chain.residues[0][0] == 1
    mapping = structures.map_residues(chain, seq)
    assert mapping.identical == mapping.compared == 40 and mapping.identity == 1.0
    assert mapping.positions[1] == 0 and mapping.positions[40] == 39
    assert any("has 40 residues" in m and "346" in m for m in mapping.messages)


def test_mapping_says_when_numbering_does_not_fit():
    seq = examples.EXAMPLES["Outer membrane"].sequence
    shifted = structures.read_structure(_pdb(seq[21:61], first=400), "mature.pdb").chains[0]
    mapping = structures.map_residues(shifted, seq)
    assert mapping.compared == 0 and len(mapping.outside) == 40
    assert any("outside" in m for m in mapping.messages)
    assert any("nothing is coloured" in m for m in mapping.messages)
    other = structures.read_structure(_pdb("W" * 30), "x.pdb").chains[0]
    assert any("same amino acid" in m for m in structures.map_residues(other, seq).messages)


def test_read_mmcif(tmp_path):
    import io

    from Bio.PDB import MMCIFIO, PDBParser

    pdb = PDBParser(QUIET=True).get_structure("x", io.StringIO(_pdb("MKKTAIAIAV", "B")))
    out = io.StringIO()
    writer = MMCIFIO()
    writer.set_structure(pdb)
    writer.save(out)
    parsed = structures.read_structure(out.getvalue().encode(), "model.cif")
    assert parsed.format == "cif"
    assert parsed.chains[0].id == "B" and parsed.chains[0].sequence == "MKKTAIAIAV"
    assert structures.structure_format("upload", out.getvalue()) == "cif"


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b"HEADER nothing\nEND\n", "no atoms"),
        (b"\x1f\x8b\x08broken", "damaged"),
        (
            b"HETATM    1  O   HOH A   1       0.000   0.000   0.000  1.00 20.00           O\n",
            "no protein chain",
        ),
    ],
)
def test_unreadable_structures_give_a_message(data, expected):
    with pytest.raises(structures.StructureError, match=expected):
        structures.read_structure(data, "bad.pdb")


def test_structure_view_is_offline_and_coloured():
    parsed = structures.read_structure(_pdb("MKKTAIAIAVALAG"), "m.pdb")
    library = (ROOT / "assets" / "3Dmol-min.js").read_text(encoding="utf-8")
    page = structures.structure_view_html(parsed, "A", {1: "#800026", 2: "#ffffcc"}, library)
    assert "cdn.jsdelivr" not in page and "https://" not in page.split("<script>", 2)[2][:2000]
    assert library[:200] in page and "window.$3Dmolpromise = Promise.resolve()" in page
    assert "#800026" in page and '"chain": "A"' in page
    grey = structures.structure_view_html(parsed, None, {}, "/*lib*/")
    assert "#800026" not in grey and "#d9d9d9" in grey


def test_vendored_3dmol_matches_the_py3dmol_pin():
    from importlib.metadata import version

    readme = (ROOT / "assets" / "README.md").read_text()
    assert version("py3Dmol") in readme and "BSD-3-Clause" in readme
    assert (ROOT / "assets" / "3Dmol-LICENSE.txt").is_file()
    assert "3dmol" in (ROOT / "assets" / "3Dmol-min.js").read_text(encoding="utf-8")[:2000].lower()


def test_attention_colours_run_pale_to_dark():
    colours = structures.attention_colours([0.0, 0.5, 1.0])
    assert len(colours) == 3 and all(c.startswith("#") and len(c) == 7 for c in colours)
    assert colours[0] != colours[-1]
    assert structures.attention_colours([]) == []
    assert len(set(structures.attention_colours([2.0, 2.0]))) == 1


def test_gzip_is_decompressed_as_a_capped_stream(monkeypatch):
    """A small .gz that expands past the limit is refused after reading at most limit + 1 bytes
    (the old code gunzipped the whole upload before checking its size)."""
    import gzip

    monkeypatch.setattr(structures, "MAX_STRUCTURE_BYTES", 20_000)
    bomb = gzip.compress(b"A" * 5_000_000)
    asked = []
    real = gzip.GzipFile.read

    def spy(self, size=-1):
        asked.append(size)
        return real(self, size)

    monkeypatch.setattr(gzip.GzipFile, "read", spy)
    monkeypatch.setattr(gzip, "decompress", lambda *a, **k: pytest.fail("whole-archive gunzip"))
    with pytest.raises(structures.StructureError, match="expands to more than"):
        structures.read_structure(bomb, "bomb.pdb.gz")
    assert asked and all(0 < size <= 20_001 for size in asked)
    ok = structures.read_structure(gzip.compress(_pdb("MKKTAIAIAV").encode()), "m.pdb.gz")
    assert ok.chains[0].sequence == "MKKTAIAIAV"


@pytest.mark.parametrize("cut", [10, 40, -8])
def test_damaged_gzip_is_one_plain_line(cut):
    """A truncated or corrupted .gz: one line naming the file only, no zlib text, no path."""
    import gzip

    good = gzip.compress(_pdb("MKKTAIAIAVALAG").encode())
    bad = good[:cut] if cut > 0 else good[:cut] + b"\x00" * 8
    with pytest.raises(structures.StructureError) as info:
        structures.read_structure(bad, "/srv/uploads/tmp123/model.pdb.gz")
    message = str(info.value)
    assert "'model.pdb.gz'" in message and "damaged" in message
    assert "/srv" not in message and "\n" not in message
    for zlib_words in ("Error -3", "invalid", "CRC", "Compressed file ended", "zlib"):
        assert zlib_words not in message
