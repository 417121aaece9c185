"""Sequence input: parse pasted text or FASTA files and validate every protein sequence.

Policies (the README cites this docstring). This module reads the input (the limits, the
streamed reading, records and identifiers); the rules for one sequence (cleaning, ambiguous
residues, errors, warnings; :func:`validate_sequence`) are in :mod:`protloc.residue_checks`,
whose public names are importable from here too.

Input
    Pasted text or FASTA, split into records as Biopython's ``SimpleFastaParser`` does (header
    lines start with ``>``; sequence lines are joined, trailing whitespace and spaces dropped),
    but read in pieces (below). Text without
    any ``>`` header is one bare record named ``sequence_1``; text before the first header is
    kept as such a bare record too, never dropped. Bytes (uploads, files) may be
    gzip-compressed (detected by the magic bytes ``1f 8b``, not by the file name) and must be
    UTF-8 or ASCII text; a UTF-8 byte-order mark and Windows or old Mac line endings are fine.

Reading in pieces
    Input is read, decompressed and decoded in pieces of :data:`_PIECE` bytes, and every limit
    is checked as the pieces arrive: the whole input is refused as soon as it passes
    :data:`MAX_RECORDS`, :data:`MAX_TOTAL_RESIDUES` or :data:`_MAX_DECOMPRESSED_BYTES` (text
    read, compressed or not). A record is held only up to :data:`MAX_LENGTH` residues (or 10
    times as many characters); past that its residues are only counted and it becomes a "too
    long" error, whatever else is wrong with it. Headers are kept up to
    :data:`MAX_HEADER_CHARS` characters. So memory stays bounded whatever the input.

Whole input refused (:class:`InputError`) only when it is empty, binary, not UTF-8, has
    more than :data:`MAX_RECORDS` records, or its valid records hold more than
    :data:`MAX_TOTAL_RESIDUES` residues together (one job must not monopolise a shared server).
    Otherwise every input record yields exactly one
    :class:`SequenceRecord`, in input order, even when that record cannot be predicted.

Identifiers
    ID = first word of the header, description = the rest. An empty header (``>`` alone) is
    named ``record_N`` (N = 1-based position) with a warning. A repeated ID is renamed
    ``ID_2``, ``ID_3``, ... with a warning naming the original.

Cleaning (status "warning", with a message saying what was removed)
    Lower case is upper-cased silently. Line breaks, and spaces inside FASTA lines, are FASTA
    layout and dropped silently by the parser; other whitespace (tabs, or spaces given to
    :func:`validate_sequence` directly) is removed with a warning. Digits (e.g. GenBank-style
    numbered lines), gap characters ``-`` and ``.``, and a trailing stop ``*`` are removed.

Ambiguous and rare residues
    X is kept. B, Z, J, U (selenocysteine) and O (pyrrolysine) are replaced by X, because the
    models know only the 20 standard amino acids. More than 10% X gives a warning that the
    prediction is unreliable.

Errors (status "error", ``sequence == ""``)
    No residues; a ``*`` inside the sequence; any character that is not a letter after
    cleaning; a DNA/RNA sequence (at least 20 letters, at least 90% A, C, G, T, U or N: translate
    it first); text that looks like prose (more than 10% of letters are B, J, O, U, X or Z and
    X is not the majority of them, since an X-rich protein is only masked, not prose); fewer
    than :data:`MIN_LENGTH` or more than :data:`MAX_LENGTH` residues.

Warnings on length
    Fewer than :data:`SHORT_WARNING` residues (short proteins rarely carry localization
    signals); more than :data:`LONG_WARNING` residues (418 of the 16,428 training proteins, 2.5%,
    are longer; ESM-2 embeds proteins over 1,022 residues in overlapping windows).
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from string import digits
from typing import BinaryIO, Iterator

from .errors import UserError
from .residue_checks import (  # noqa: F401 (public names, imported from here)
    AMBIGUOUS,
    LONG_WARNING,
    MAX_LENGTH,
    MIN_LENGTH,
    SHORT_WARNING,
    _length_error,
    validate_sequence,
)

#: Most records accepted in one input; more is refused as a whole.
MAX_RECORDS: int = 10_000
#: Most residues, summed over the valid records, accepted in one input (one job); more is
#: refused as a whole. 2 million residues is about 6,000 average bacterial proteins, a whole
#: proteome, and bounds the time and memory one job can take on a shared server.
MAX_TOTAL_RESIDUES: int = 2_000_000
#: Longest header line kept (characters); the rest is dropped with a warning.
MAX_HEADER_CHARS: int = 4_096

EMPTY_MESSAGE = "No sequence found: the input is empty."

_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_MAX_DECOMPRESSED_BYTES = 512 * 2**20
_BINARY_SAMPLE_BYTES = 8192
_BINARY_CONTROL_FRACTION = 0.05
_TEXT_CONTROL_BYTES = frozenset(b"\t\n\x0b\x0c\r")
#: Bytes read (and characters parsed) at a time.
_PIECE = 2**20
#: Characters of one record held for validation, digits, gaps and whitespace included.
_HELD_CHARS_PER_RESIDUE = 10
# What str.split() and str.strip() treat as whitespace (all of it is below U+3001).
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_NOT_RESIDUES = str.maketrans("", "", _WHITESPACE + digits + "-.*")
# A header line: newline, optional whitespace (not a newline), '>'.
_NEXT_HEADER = re.compile(r"\n[^\S\n]*>")
_BLANK_LINES = re.compile(r"\n[^\S\n]*(?=\n)")
_HEADER_START = re.compile(r"[^\S\n]*>")


class InputError(UserError):
    """The whole input is unusable; ``args[0]`` is the message for the user."""


@dataclass
class SequenceRecord:
    """One input record after validation (see the module docstring for the policies)."""

    id: str
    sequence: str
    raw_length: int
    index: int
    description: str = ""
    status: str = "ok"
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != "error"


# --------------------------------------------------------------------------- public API


def read_fasta(path: str | os.PathLike[str]) -> list[SequenceRecord]:
    """Read a FASTA file (plain or gzip-compressed) into validated records."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return parse_stream(handle, name=path.name)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"Cannot read '{path}': {reason}.") from None


def parse_bytes(data: bytes, name: str = "upload") -> list[SequenceRecord]:
    """Decode uploaded bytes (gzip allowed, UTF-8 or ASCII text) and parse them."""
    if isinstance(data, str):
        return parse_text(data)
    return parse_stream(io.BytesIO(bytes(data)), name)


def parse_stream(handle: BinaryIO, name: str = "upload") -> list[SequenceRecord]:
    """Parse a binary stream (gzip allowed, UTF-8 or ASCII text), reading it in pieces."""
    return _parse_pieces(_text_pieces(handle, name), strip_bom=True)


def parse_text(text: str) -> list[SequenceRecord]:
    """Parse pasted text or FASTA into one validated record per input record."""
    pieces = (text[i : i + _PIECE] for i in range(0, len(text), _PIECE))
    return _parse_pieces(pieces, strip_bom=False)


# ------------------------------------------------------------------------ bytes -> text


def _text_pieces(handle: BinaryIO, name: str) -> Iterator[str]:
    """Decoded text of ``handle``, piece by piece, with the whole-input checks on the way."""
    blocks = _byte_blocks(handle, name)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    for block in blocks:
        if offset == 0:
            _check_start(block, name)
        if b"\x00" in block:
            raise InputError(
                f"'{name}' is a binary file (it contains NUL bytes), not text: "
                "a FASTA text file is expected."
            )
        yield _decode(decoder, block, offset, name)
        offset += len(block)
    yield _decode(decoder, b"", offset, name, final=True)


def _byte_blocks(handle: BinaryIO, name: str) -> Iterator[bytes]:
    first = _read_block(handle, name, False, _BINARY_SAMPLE_BYTES)
    compressed = first.startswith(_GZIP_MAGIC)
    if compressed:
        stream: BinaryIO = gzip.GzipFile(fileobj=_Prepended(first, handle))  # type: ignore[assignment]
        first = _read_block(stream, name, True, _BINARY_SAMPLE_BYTES)
    else:
        stream = handle
    return _blocks_after(first, stream, name, compressed)


def _blocks_after(first: bytes, stream: BinaryIO, name: str, compressed: bool) -> Iterator[bytes]:
    total, block = 0, first
    while block:
        total += len(block)
        if total > _MAX_DECOMPRESSED_BYTES:
            limit = f"{_MAX_DECOMPRESSED_BYTES // 2**20} MiB"
            if compressed:
                raise InputError(f"'{name}' decompresses to more than {limit}, too large to read.")
            raise InputError(f"'{name}' is larger than {limit}, too large to read.")
        yield block
        block = _read_block(stream, name, compressed)


def _read_block(stream: BinaryIO, name: str, compressed: bool, at_least: int = 1) -> bytes:
    """Up to one piece; a short read is returned only at the end of the input."""
    parts, size, wanted = [], 0, max(_PIECE, at_least)
    while size < wanted:
        try:
            part = stream.read(wanted - size)
        except (OSError, EOFError, zlib.error) as exc:
            if not compressed:
                raise
            raise InputError(
                f"'{name}' looks gzip-compressed but could not be decompressed ({exc}); "
                "the file may be truncated or damaged."
            ) from None
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


class _Prepended(io.RawIOBase):
    """``head`` then the rest of ``stream``: the first block, already read, put back."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if not self.head:
            data = self.stream.read(len(buffer))
        else:
            data, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        buffer[: len(data)] = data
        return len(data)


def _check_start(block: bytes, name: str) -> None:
    if block.startswith(_UTF16_BOMS):
        raise InputError(
            f"'{name}' is UTF-16 text; save it as UTF-8 or ASCII text (a FASTA text file)."
        )
    if b"\x00" not in block and _mostly_control_bytes(block[:_BINARY_SAMPLE_BYTES]):
        raise InputError(
            f"'{name}' is a binary file (it is full of control bytes), not text: "
            "a FASTA text file is expected."
        )


def _decode(decoder, block: bytes, offset: int, name: str, final: bool = False) -> str:
    try:
        return decoder.decode(block, final)
    except UnicodeDecodeError as exc:
        held = len(exc.object) - len(block)  # bytes kept back from the previous block
        position = offset - held + exc.start
        raise InputError(
            f"'{name}' is not valid UTF-8: byte 0x{exc.object[exc.start]:02X} at offset "
            f"{position:,} could not be decoded. The file must be UTF-8 or ASCII text."
        ) from None


def _mostly_control_bytes(sample: bytes) -> bool:
    control = sum(1 for b in sample if (b < 32 or b == 127) and b not in _TEXT_CONTROL_BYTES)
    return control > _BINARY_CONTROL_FRACTION * len(sample)


# ------------------------------------------------------------------------- text -> records


class _RecordText:
    """The raw text of one record as it arrives: held while it could still be predicted,
    only counted once it is over the length limit."""

    def __init__(self, title: str | None, header_cut: bool = False) -> None:
        self.title, self.header_cut = title, header_cut
        self.lines: list[str] = []  # finished lines, rstripped, spaces removed
        self.line: list[str] = []  # pieces of the current line
        self.held = 0
        self.residues = 0
        self.over = False

    def add(self, text: str, line_ends: bool) -> None:
        self.residues += len(text.translate(_NOT_RESIDUES))
        if self.over:
            return
        self.line.append(text)
        self.held += len(text)
        if line_ends:
            self.end_line()
        if self.residues > MAX_LENGTH or self.held > _HELD_CHARS_PER_RESIDUE * MAX_LENGTH:
            self.over, self.lines, self.line = True, [], []

    def end_line(self) -> None:
        if self.line:
            self.lines.append("".join(self.line).rstrip().replace(" ", ""))
            self.line = []

    def raw(self) -> str:
        self.end_line()
        return "".join(self.lines)


class _Reader:
    """FASTA records from text pieces; the line state carries over from piece to piece."""

    def __init__(self) -> None:
        self.records: list[SequenceRecord] = []
        self.used_ids: set[str] = set()
        self.total = 0
        self.current: _RecordText | None = None
        self.header: list[str] | None = None  # pieces of a header line being read
        self.header_size = 0
        self.line_start = True
        self.carry = ""  # a '\r' at the end of a piece, which may start a '\r\n'

    def feed(self, piece: str, final: bool = False) -> None:
        text = self.carry + piece
        self.carry = "\r" if text.endswith("\r") and not final else ""
        if self.carry:
            text = text[:-1]
        text = _BLANK_LINES.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
        position = 0  # positions, not slices: slicing off each line would copy the rest
        while position < len(text):
            position = self._skip_long_record(text, position)
            if position < len(text):
                position = self._line_piece(text, position)

    def _skip_long_record(self, text: str, position: int) -> int:
        """Over the limit, a record's residues are only counted, up to the next header."""
        record = self.current
        if record is None or not record.over or self.header is not None:
            return position
        if self.line_start and _HEADER_START.match(text, position):
            return position
        found = _NEXT_HEADER.search(text, position)
        end = len(text) if found is None else found.start() + 1
        body = text[position:end]
        record.add(body, False)
        newline = body.rfind("\n")
        self.line_start = (newline >= 0 or self.line_start) and not body[newline + 1 :].strip()
        return end

    def _line_piece(self, text: str, position: int) -> int:
        """Consume up to the end of one line (or of ``text``); returns where the rest starts."""
        end = text.find("\n", position)
        ends = end >= 0
        piece = text[position:end] if ends else text[position:]
        blank_start = False  # only whitespace so far on this line: still at its start
        if self.line_start:
            piece = piece.lstrip()
            blank_start = not piece
            if piece.startswith(">"):
                self._start_header()
                piece = piece[1:]
        if self.header is not None:
            self._add_header(piece, ends)
        elif piece or ends:
            self._body(piece, ends)
        self.line_start = ends or blank_start
        return end + 1 if ends else len(text)

    def _start_header(self) -> None:
        self._finish_record()
        if len(self.records) == MAX_RECORDS:
            raise InputError(
                f"The input has more than {MAX_RECORDS:,} sequences; at most {MAX_RECORDS:,} "
                "can be predicted at once. Split it into smaller files."
            )
        self.header, self.header_size = [], 0

    def _add_header(self, piece: str, ends: bool) -> None:
        assert self.header is not None
        room = MAX_HEADER_CHARS + 1 - self.header_size  # one more, to know it was cut
        if room > 0:
            self.header.append(piece[:room])
            self.header_size += min(len(piece), room)
        if ends:
            title = "".join(self.header)
            cut = len(title) > MAX_HEADER_CHARS
            self.current = _RecordText(title[:MAX_HEADER_CHARS].rstrip(), cut)
            self.header = None

    def _body(self, piece: str, ends: bool) -> None:
        if self.current is None:
            if not piece.strip():
                return
            self.current = _RecordText(None)
        self.current.add(piece, ends)

    def _finish_record(self) -> None:
        if self.header is not None:  # a header line without a line end: the file's last line
            self._add_header("", True)
        record_text, self.current = self.current, None
        if record_text is None:
            return
        record = _record_from_text(len(self.records), record_text)
        _make_id_unique(record, self.used_ids)
        self.records.append(record)
        self.total += len(record.sequence)
        _check_total_residues(self.total)

    def finish(self) -> list[SequenceRecord]:
        self.feed("", final=True)
        self._finish_record()
        if not self.records:
            raise InputError(EMPTY_MESSAGE)
        return self.records


def _parse_pieces(pieces: Iterator[str], strip_bom: bool) -> list[SequenceRecord]:
    reader = _Reader()
    # One leading byte-order mark is dropped from text; bytes are decoded as by "utf-8-sig"
    # first, which drops one more.
    marks = 2 if strip_bom else 1
    for piece in pieces:
        while marks and piece:
            if not piece.startswith("\ufeff"):
                marks = 0
                break
            piece, marks = piece[1:], marks - 1
        reader.feed(piece)
    return reader.finish()


def _record_from_text(index: int, text: _RecordText) -> SequenceRecord:
    if text.over:
        return _too_long_record(index, text)
    record = _make_record(index, text.title, text.raw())
    if text.header_cut:
        record.messages.insert(0, f"The header line is longer than {MAX_HEADER_CHARS:,} "
                                  "characters; only its start was kept.")
        if record.status == "ok":
            record.status = "warning"
    return record


def _too_long_record(index: int, text: _RecordText) -> SequenceRecord:
    record_id, description, messages = _identify(index, text.title)
    if text.residues > MAX_LENGTH:
        messages.append(_length_error("", text.residues) or "")
    else:
        messages.append(
            f"The record holds over {_HELD_CHARS_PER_RESIDUE * MAX_LENGTH:,} characters "
            f"(digits, gaps and whitespace included), too many for a sequence of at most "
            f"{MAX_LENGTH:,} residues."
        )
    return SequenceRecord(record_id, "", text.residues, index, description, "error", messages)


def _check_total_residues(total: int) -> None:
    # Module global read at call time, so tests and deployments can lower it.
    if total > MAX_TOTAL_RESIDUES:
        raise InputError(
            f"The input holds more than {MAX_TOTAL_RESIDUES:,} residues in its valid sequences; "
            f"at most {MAX_TOTAL_RESIDUES:,} can be predicted in one job. "
            "Split it into smaller files."
        )


def _make_record(index: int, title: str | None, raw: str) -> SequenceRecord:
    record_id, description, messages = _identify(index, title)
    record = SequenceRecord(record_id, "", len(raw), index, description, "error", messages)
    if title is not None and not raw.strip():
        record.messages.append("No residues after the header: the record is empty.")
        return record
    record.sequence, status, found = validate_sequence(raw)
    record.messages += found
    record.status = status if status == "error" or not record.messages else "warning"
    return record


def _identify(index: int, title: str | None) -> tuple[str, str, list[str]]:
    if title is None:
        return f"sequence_{index + 1}", "", []
    parts = title.split(maxsplit=1)
    if not parts:
        name = f"record_{index + 1}"
        return name, "", [f"The header line is empty (just '>'); the record was named {name}."]
    return parts[0], (parts[1].strip() if len(parts) > 1 else ""), []


def _make_id_unique(record: SequenceRecord, used_ids: set[str]) -> None:
    if record.id in used_ids:
        suffix = 2
        while f"{record.id}_{suffix}" in used_ids:
            suffix += 1
        new_id = f"{record.id}_{suffix}"
        record.messages.append(
            f"The ID '{record.id}' is already used by an earlier record; "
            f"this record was renamed '{new_id}'."
        )
        record.id = new_id
        if record.status == "ok":
            record.status = "warning"
    used_ids.add(record.id)
