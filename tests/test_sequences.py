"""Tests for protloc.sequences: parsing, cleaning and validation of user input."""

from __future__ import annotations

import gzip

import pytest

from protloc import sequences
from protloc.errors import UserError
from protloc.sequences import (
    InputError,
    SequenceRecord,
    parse_bytes,
    parse_text,
    read_fasta,
    validate_sequence,
)

PROTEIN = "MKKLLPTAAAGLLLLAAQPAMAMDIGINSDPNSSEQVKAV"  # 40 residues, a signal peptide start
PROTEIN_2 = "MSTNPKPQRKTKRNTNRRPQDVKFPGGGQIVGGVYLLPRRGPRLGVRATRK"


def _one(text: str) -> SequenceRecord:
    records = parse_text(text)
    assert len(records) == 1
    return records[0]


def _joined(record: SequenceRecord) -> str:
    return " ".join(record.messages)


# ------------------------------------------------------------------------------ parsing


def test_bare_sequence_without_header_is_sequence_1() -> None:
    record = _one(PROTEIN.lower() + "\n")
    assert record.id == "sequence_1"
    assert record.sequence == PROTEIN
    assert record.status == "ok" and record.ok
    assert record.messages == []
    assert record.index == 0
    assert record.raw_length == len(PROTEIN)


def test_multi_record_fasta_keeps_order_ids_and_descriptions() -> None:
    text = f">sp|P1|A first protein\n{PROTEIN[:20]}\n{PROTEIN[20:]}\n>p2\n{PROTEIN_2}\n"
    records = parse_text(text)
    assert [r.id for r in records] == ["sp|P1|A", "p2"]
    assert [r.index for r in records] == [0, 1]
    assert records[0].description == "first protein"
    assert records[1].description == ""
    assert records[0].sequence == PROTEIN
    assert records[1].sequence == PROTEIN_2
    assert all(r.status == "ok" for r in records)


def test_windows_line_endings() -> None:
    text = f">p1 desc\r\n{PROTEIN[:20]}\r\n{PROTEIN[20:]}\r\n>p2\r\n{PROTEIN_2}\r\n"
    records = parse_text(text)
    assert [r.id for r in records] == ["p1", "p2"]
    assert records[0].description == "desc"
    assert records[0].sequence == PROTEIN
    assert all(r.status == "ok" for r in records)


def test_gzip_bytes_are_decompressed() -> None:
    data = gzip.compress(f">p1\n{PROTEIN}\n>p2\n{PROTEIN_2}\n".encode())
    records = parse_bytes(data, name="proteins.fa.gz")
    assert [(r.id, r.sequence) for r in records] == [("p1", PROTEIN), ("p2", PROTEIN_2)]


def test_corrupt_gzip_raises_input_error() -> None:
    data = gzip.compress(f">p1\n{PROTEIN}\n".encode())[:15]
    with pytest.raises(InputError, match="gzip"):
        parse_bytes(data, name="broken.gz")


def test_utf8_bom_is_accepted() -> None:
    records = parse_bytes(b"\xef\xbb\xbf>p1\n" + PROTEIN.encode() + b"\n")
    assert records[0].id == "p1"
    assert records[0].sequence == PROTEIN
    assert records[0].status == "ok"


def test_read_fasta_reads_gzip_file(tmp_path) -> None:
    path = tmp_path / "in.fasta.gz"
    path.write_bytes(gzip.compress(f">p1\n{PROTEIN}\n".encode()))
    assert [r.sequence for r in read_fasta(path)] == [PROTEIN]


def test_read_fasta_missing_file_is_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="Cannot read"):
        read_fasta(tmp_path / "absent.fasta")


def test_text_before_first_header_becomes_its_own_record() -> None:
    records = parse_text(f"{PROTEIN_2}\n>p1\n{PROTEIN}\n")
    assert [r.id for r in records] == ["sequence_1", "p1"]
    assert [r.sequence for r in records] == [PROTEIN_2, PROTEIN]


# ------------------------------------------------------------------ whole input refused


def test_input_error_is_a_user_error() -> None:
    assert issubclass(InputError, UserError)


@pytest.mark.parametrize("text", ["", "   \n\t\r\n  ", "\ufeff"])
def test_empty_or_whitespace_input_raises(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_text(text)
    assert info.value.args[0] == "No sequence found: the input is empty."


def test_empty_bytes_raise() -> None:
    with pytest.raises(InputError, match="empty"):
        parse_bytes(b"")


def test_binary_bytes_raise() -> None:
    with pytest.raises(InputError) as info:
        parse_bytes(bytes(range(256)) * 4, name="image.png")
    message = info.value.args[0]
    assert "image.png" in message and "binary" in message and "FASTA text file" in message


def test_non_utf8_bytes_raise_with_offset() -> None:
    data = b">p1 prot\xe9ine\n" + PROTEIN.encode()
    with pytest.raises(InputError) as info:
        parse_bytes(data, name="latin1.fa")
    message = info.value.args[0]
    assert "UTF-8" in message and "offset 8" in message and "0xE9" in message


def test_too_many_records_raise_with_limit() -> None:
    text = f">p\n{PROTEIN}\n" * (sequences.MAX_RECORDS + 1)
    with pytest.raises(InputError, match="10,000"):
        parse_text(text)


def test_record_limit_is_read_at_call_time(monkeypatch) -> None:
    monkeypatch.setattr(sequences, "MAX_RECORDS", 2)
    assert len(parse_text(f">a\n{PROTEIN}\n>b\n{PROTEIN}\n")) == 2
    with pytest.raises(InputError, match="more than 2 sequences"):
        parse_text(f">a\n{PROTEIN}\n>b\n{PROTEIN}\n>c\n{PROTEIN}\n")


# ------------------------------------------------------------------- nucleotides, prose


def test_dna_is_an_error_asking_for_translation() -> None:
    record = _one(">gene\nATGAAAAAACTGCTGCCGACCGCGGCGGCGGGCCTGCTG\n")
    assert record.status == "error" and not record.ok
    assert record.sequence == ""
    assert "DNA" in _joined(record) and "translate" in _joined(record).lower()


def test_rna_is_an_error_naming_rna() -> None:
    record = _one(">mrna\nAUGAAAAAACUGCUGCCGACCGCGGCGGCGGGCCUGCUG\n")
    assert record.status == "error"
    assert "RNA" in _joined(record) and "translate" in _joined(record).lower()


def test_short_nucleotide_like_peptide_is_not_called_dna() -> None:
    cleaned, status, _ = validate_sequence("ACGTACGTAC")
    assert (cleaned, status) == ("ACGTACGTAC", "warning")  # only the short-protein warning


def test_prose_is_not_a_protein() -> None:
    record = _one("Hello world from our lab about proteins\n")
    assert record.status == "error"
    assert "does not look like a protein sequence" in _joined(record)


def test_punctuation_is_an_error_listing_characters_and_positions() -> None:
    cleaned, status, messages = validate_sequence("MKV#LL@AAGIA%LL,QQ")
    assert (cleaned, status) == ("", "error")
    text = " ".join(messages)
    for fragment in ("'#' (first at position 4)", "'@'", "'%'", "','"):
        assert fragment in text


def test_at_most_five_bad_characters_are_listed() -> None:
    _, status, messages = validate_sequence("MKV!@#$%^&LLAAG")
    assert status == "error"
    assert "'%'" in messages[0] and "'^'" not in messages[0]
    assert "2 other characters" in messages[0]


# --------------------------------------------------------------------------- cleaning


def test_genbank_numbered_lines_are_cleaned() -> None:
    text = ">p1\n        1 mkkllptaaa gllllaaqpa\n       21 mamdiginsd pnsseqvkav\n"
    record = _one(text)
    assert record.sequence == PROTEIN
    assert record.status == "warning"
    assert "Removed 3 digits" in _joined(record)


def test_whitespace_and_digits_removed_by_validate_sequence() -> None:
    cleaned, status, messages = validate_sequence(f"1 {PROTEIN[:20]}\t{PROTEIN[20:]}\n")
    assert cleaned == PROTEIN
    assert status == "warning"
    text = " ".join(messages)
    assert "Removed 2 whitespace characters" in text and "Removed 1 digit " in text


def test_line_breaks_alone_give_no_warning() -> None:
    assert validate_sequence(f"{PROTEIN[:20]}\n{PROTEIN[20:]}\r\n") == (PROTEIN, "ok", [])


def test_gaps_are_removed_with_warning() -> None:
    cleaned, status, messages = validate_sequence(f"--{PROTEIN[:10]}..{PROTEIN[10:]}-")
    assert cleaned == PROTEIN and status == "warning"
    assert "Removed 5 gap characters" in messages[0]


def test_trailing_stop_is_removed_with_warning() -> None:
    cleaned, status, messages = validate_sequence(PROTEIN + "*")
    assert cleaned == PROTEIN and status == "warning"
    assert messages == ["Removed the trailing stop codon '*'."]


def test_internal_stop_is_an_error_with_position() -> None:
    cleaned, status, messages = validate_sequence(PROTEIN[:10] + "*" + PROTEIN[10:] + "*")
    assert (cleaned, status) == ("", "error")
    assert "stop codon '*' at position 11 inside the sequence" in messages[0]


def test_ambiguous_residues_replaced_by_x() -> None:
    seq = PROTEIN + "BZUO" + PROTEIN_2 + "X"
    cleaned, status, messages = validate_sequence(seq)
    assert cleaned == PROTEIN + "XXXX" + PROTEIN_2 + "X"
    assert status == "warning"
    text = " ".join(messages)
    assert "4 non-standard residues were replaced by X (unknown residue)" in text
    for letter in ("B", "Z", "U (selenocysteine)", "O (pyrrolysine)"):
        assert letter in text
    assert "unreliable" not in text  # 5 X of 96 is below 10%


def test_many_x_warns_unreliable() -> None:
    cleaned, status, messages = validate_sequence(PROTEIN + "X" * 10)
    assert cleaned == PROTEIN + "X" * 10 and status == "warning"
    assert "20% of the residues (10 of 50) are X" in messages[0]
    assert "unreliable" in messages[0]


# ---------------------------------------------------------------------------- lengths


def test_too_short_is_an_error() -> None:
    record = _one(">tiny\nMKV\n")
    assert record.status == "error" and record.sequence == ""
    assert "too short" in _joined(record) and "3 residues" in _joined(record)


def test_short_sequence_warns_about_signals() -> None:
    cleaned, status, messages = validate_sequence("MKVLLAAG")
    assert cleaned == "MKVLLAAG" and status == "warning"
    assert "very short" in messages[0] and "localization signals" in messages[0]


def test_too_long_is_an_error() -> None:
    record = _one(">big\n" + "M" * (sequences.MAX_LENGTH + 1) + "\n")
    assert record.status == "error" and record.sequence == ""
    assert "too long" in _joined(record) and "10,001" in _joined(record)
    assert "10,000" in _joined(record)


def test_long_sequence_warns_about_windows() -> None:
    seq = (PROTEIN * 40)[:1500]
    cleaned, status, messages = validate_sequence(seq)
    assert cleaned == seq and status == "warning"
    assert "1,500 residues" in messages[0] and "1,000" in messages[0]
    assert "overlapping windows" in messages[0]


# ------------------------------------------------------------------------ identifiers


def test_duplicate_ids_are_renamed_with_warning() -> None:
    text = f">p1\n{PROTEIN}\n>p1\n{PROTEIN}\n>p1 third\n{PROTEIN}\n"
    records = parse_text(text)
    assert [r.id for r in records] == ["p1", "p1_2", "p1_3"]
    assert records[0].status == "ok"
    assert records[1].status == "warning" and "'p1'" in _joined(records[1])
    assert "renamed 'p1_3'" in _joined(records[2])
    assert records[2].description == "third"


def test_empty_header_gets_record_n() -> None:
    records = parse_text(f">p1\n{PROTEIN}\n>\n{PROTEIN_2}\n")
    assert records[1].id == "record_2"
    assert records[1].status == "warning"
    assert records[1].sequence == PROTEIN_2
    assert "header line is empty" in _joined(records[1])


def test_header_without_sequence_is_an_error() -> None:
    records = parse_text(f">empty\n>p2\n{PROTEIN}\n")
    assert [r.id for r in records] == ["empty", "p2"]
    assert records[0].status == "error" and records[0].sequence == ""
    assert "No residues after the header" in _joined(records[0])
    assert records[1].status == "ok"


def test_batch_with_one_bad_record_keeps_all_in_order() -> None:
    text = f">a\n{PROTEIN}\n>b\nMKV#LLA\n>c\n{PROTEIN_2}\n"
    records = parse_text(text)
    assert [(r.id, r.index, r.status) for r in records] == [
        ("a", 0, "ok"),
        ("b", 1, "error"),
        ("c", 2, "ok"),
    ]
    assert records[2].sequence == PROTEIN_2


@pytest.mark.parametrize(
    "data",
    [b">\n", b">>>\n***\n", b"\x1a", ">\u00df\n\u00e9\u00e9\u00e9\n".encode(), b"\n>x\n-.-\n"],
)
def test_odd_inputs_never_raise_anything_but_input_error(data: bytes) -> None:
    try:
        records = parse_bytes(data)
    except InputError:
        return
    assert all(isinstance(r, SequenceRecord) for r in records)
    assert all(r.status in ("ok", "warning", "error") for r in records)
