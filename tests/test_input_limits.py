"""Input limits while reading (issue 16, case 3): FASTA files, plain or gzip-compressed, are read
in pieces; each limit is checked as the pieces arrive, so a huge input is refused (or its
too-long record reported) without ever being held in memory."""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protloc import sequences
from protloc.sequences import InputError, parse_bytes, parse_text, read_fasta

PROTEIN = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"
#: Peak Python memory allowed while reading any input, however large (the pieces are 1 MiB).
MEMORY_BOUND = 48 * 2**20


def gzip_lines(path: Path, records: list[tuple[str, int]], width: int = 60) -> Path:
    """A gzip FASTA with records of ``residues`` residues each, written in pieces."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    line = (PROTEIN * (width // len(PROTEIN) + 1))[:width] + "\n"
    with open(path, "wb") as out:
        for name, residues in records:
            out.write(packer.compress(f">{name}\n".encode()))
            block = (line * 10_000).encode()
            full, rest = divmod(residues, width * 10_000)
            for _ in range(full):
                out.write(packer.compress(block))
            out.write(packer.compress((line * (rest // width)).encode()))
            out.write(packer.compress((line[: rest % width] + "\n").encode()))
        out.write(packer.flush())
    return path


def measured(read, *args):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = read(*args)
    except InputError as exc:
        result = exc
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak


def test_one_huge_gzip_sequence_is_a_record_error_read_in_bounded_memory(tmp_path) -> None:
    path = gzip_lines(tmp_path / "huge.fasta.gz", [("p0", 80), ("huge", 40_000_000), ("p2", 80)])
    records, seconds, peak = measured(read_fasta, path)
    assert [r.id for r in records] == ["p0", "huge", "p2"]
    assert records[0].ok and records[2].ok
    assert records[1].status == "error" and records[1].sequence == ""
    assert records[1].messages == [
        "The sequence is too long: 40,000,000 residues; the limit is 10,000 per sequence. "
        "Split it into domains or fragments to predict it."
    ]
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"


def test_one_huge_plain_single_line_sequence_is_read_in_bounded_memory(tmp_path) -> None:
    path = tmp_path / "huge.fasta"
    with open(path, "w") as out:
        out.write(">huge\n")
        for _ in range(30):
            out.write("A" * 2**20)
        out.write(f"\n>p\n{PROTEIN}\n")
    records, _, peak = measured(read_fasta, path)
    assert [r.status for r in records] == ["error", "ok"]
    assert f"{30 * 2**20:,} residues" in records[0].messages[0]
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"


class CountingReader(io.RawIOBase):
    """A binary stream of ``head`` then endless filler, counting the bytes handed out."""

    def __init__(self, head: bytes, filler: bytes) -> None:
        self.head, self.filler, self.given = head, filler, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.head[self.given :] or self.filler
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        self.given += n
        return n


def test_too_many_records_is_refused_as_soon_as_passed(monkeypatch) -> None:
    monkeypatch.setattr(sequences, "MAX_RECORDS", 50)
    stream = CountingReader(b"", f">p\n{PROTEIN}\n".encode() * 1000)
    with pytest.raises(InputError, match="more than 50 sequences"):
        sequences.parse_stream(io.BufferedReader(stream), "endless.fasta")
    assert stream.given <= 2 * 2**20  # stopped within the first pieces of an endless input


def test_too_many_residues_is_refused_as_soon_as_passed(monkeypatch) -> None:
    monkeypatch.setattr(sequences, "MAX_TOTAL_RESIDUES", 10_000)
    stream = CountingReader(b"", f">p\n{PROTEIN}\n".encode() * 1000)
    with pytest.raises(InputError, match="more than 10,000 residues"):
        sequences.parse_stream(io.BufferedReader(stream), "endless.fasta")
    assert stream.given <= 2 * 2**20


def test_the_size_cap_applies_to_plain_text_too(monkeypatch) -> None:
    monkeypatch.setattr(sequences, "_MAX_DECOMPRESSED_BYTES", 4 * 2**20)
    stream = CountingReader(b">x\n", b"ACGT" * 4096)
    with pytest.raises(InputError, match="'big.fasta' is larger than 4 MiB, too large to read"):
        sequences.parse_stream(io.BufferedReader(stream), "big.fasta")
    assert stream.given <= 6 * 2**20


def test_a_gzip_bomb_is_refused_in_bounded_memory() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"ACDEFGHIKL" * 2**17  # text, so the NUL check cannot refuse it first
    bomb = b"".join(packer.compress(block) for _ in range(480)) + packer.flush()
    error, _, peak = measured(parse_bytes, bomb, "bomb.fasta.gz")
    assert isinstance(error, InputError) and "decompresses to more than 512 MiB" in str(error)
    assert peak < MEMORY_BOUND + len(bomb), f"{peak / 2**20:.0f} MiB"


def test_a_huge_header_is_cut_with_a_warning() -> None:
    records = parse_text(">" + "h" * 5_000_000 + " description\n" + PROTEIN + "\n")
    assert records[0].ok and len(records[0].id) == sequences.MAX_HEADER_CHARS
    assert any("header line is longer than" in m for m in records[0].messages)


# ------------------------------------------------ reading in pieces changes nothing else

FASTA_PIECES = st.lists(
    st.sampled_from([">", ">p d", "\n", "\r\n", "\r", " ", "\t", "  >q", "MKV", "acgt" * 6,
                     "12 ", "-.", "*", "é", "\u00a0", "\ufeff", "X" * 7, PROTEIN]),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(FASTA_PIECES, st.integers(min_value=1, max_value=9))
def test_piece_boundaries_never_change_the_records(text, piece) -> None:
    whole = _outcome(lambda: parse_bytes(text.encode("utf-8"), "in.fasta"))
    small = _outcome(lambda: _with_pieces(piece, lambda: parse_bytes(text.encode(), "in.fasta")))
    assert small == whole
    gz = _outcome(lambda: _with_pieces(piece, lambda: parse_bytes(gzip.compress(text.encode()),
                                                                    "in.fasta")))
    assert gz == whole
    assert _outcome(lambda: _with_pieces(piece, lambda: parse_text(text))) == _outcome(
        lambda: parse_text(text))


def _with_pieces(size: int, read):
    original = sequences._PIECE
    sequences._PIECE = size
    try:
        return read()
    finally:
        sequences._PIECE = original


def _outcome(read):
    try:
        return [(r.id, r.sequence, r.status, r.messages, r.description) for r in read()]
    except InputError as exc:
        return str(exc)
