"""Property-based tests (hypothesis) of parsing, validation and `protloc predict`.

Whatever a user pastes or uploads, protloc must answer with records (one per input record,
in order, each predicted or carrying a specific error) or one clear line saying why the whole
input was refused; never a crash. Example counts are kept modest so the module runs in seconds.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthetic
from protloc.classes import CLASSES
from protloc.cli import main
from protloc.output import COLUMNS, read_results_csv
from protloc.sequences import (
    MAX_LENGTH,
    MIN_LENGTH,
    InputError,
    SequenceRecord,
    parse_bytes,
    parse_text,
    validate_sequence,
)

#: Examples per property; the CLI property runs a real prediction per example, so fewer.
EXAMPLES = 200
CLI_EXAMPLES = 30
FAST = settings(max_examples=EXAMPLES, deadline=None)
CLI = settings(
    max_examples=CLI_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

PREDICTABLE = re.compile(r"[ACDEFGHIKLMNPQRSTVWYX]+")
AMINO = "ACDEFGHIKLMNPQRSTVWY"

# Text that looks like FASTA often enough to reach every branch of the parser: headers, amino
# acids in both cases, nucleotides, ambiguity codes, digits, gaps, stops, whitespace, junk.
FASTA_ALPHABET = (
    AMINO + AMINO.lower() + "ACGTUN" + "BJOUXZ" + "0123456789-.* \t\r\n>>>#;|é€\x00\x07"
)
fasta_like_text = st.text(alphabet=FASTA_ALPHABET, max_size=600)
any_bytes = st.one_of(
    st.binary(max_size=1500),
    fasta_like_text.map(lambda t: t.encode("utf-8")),
    fasta_like_text.map(lambda t: gzip.compress(t.encode("utf-8"))),
    fasta_like_text.map(lambda t: t.encode("latin-1", errors="replace")),
    fasta_like_text.map(lambda t: t.encode("utf-16")),
)


def assert_valid_records(records: list[SequenceRecord]) -> None:
    """The contract of every parse result (see protloc/sequences.py)."""
    assert [r.index for r in records] == list(range(len(records)))
    ids = [r.id for r in records]
    assert len(set(ids)) == len(ids), ids
    for r in records:
        assert r.id and not any(c.isspace() for c in r.id), r
        assert r.status in ("ok", "warning", "error"), r
        assert all(m and "\n" not in m for m in r.messages), r.messages
        if r.status == "error":
            assert r.sequence == "" and r.messages, r
        else:
            assert PREDICTABLE.fullmatch(r.sequence), r
            assert MIN_LENGTH <= len(r.sequence) <= MAX_LENGTH
            assert (r.status == "warning") == bool(r.messages), r


def assert_one_line(message: str) -> None:
    assert message.strip() and "\n" not in message.strip() and "Traceback" not in message


@FAST
@given(any_bytes)
def test_any_bytes_give_valid_records_or_one_clear_refusal(data: bytes) -> None:
    try:
        records = parse_bytes(data, name="upload.fasta")
    except InputError as exc:
        assert_one_line(str(exc))
        return
    assert records
    assert_valid_records(records)


@FAST
@given(st.text(max_size=800))
def test_any_text_gives_valid_records_or_one_clear_refusal(text: str) -> None:
    try:
        records = parse_text(text)
    except InputError as exc:
        assert_one_line(str(exc))
        return
    assert_valid_records(records)


@FAST
@given(st.text(max_size=400))
def test_validate_sequence_never_raises_and_is_consistent(raw: str) -> None:
    cleaned, status, messages = validate_sequence(raw)
    assert status in ("ok", "warning", "error")
    assert all(m and "\n" not in m for m in messages)
    if status == "error":
        assert cleaned == "" and messages
    else:
        assert PREDICTABLE.fullmatch(cleaned)
        assert (status == "warning") == bool(messages)


header_word = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Z", "Cc"), blacklist_characters=">"),
    min_size=1,
    max_size=12,
)
body = st.one_of(
    st.text(alphabet=AMINO, min_size=0, max_size=80),  # clean protein (or too short, or empty)
    st.text(alphabet=FASTA_ALPHABET.replace(">", "").replace("\x00", ""), max_size=80),
)


@FAST
@given(st.lists(st.tuples(header_word, body), min_size=1, max_size=12))
def test_every_fasta_record_gets_exactly_one_result_in_order(entries) -> None:
    text = "".join(f">{name} some description\n{seq}\n" for name, seq in entries)
    records = parse_text(text)
    assert len(records) == len(entries)
    assert_valid_records(records)
    for record, (name, seq) in zip(records, entries):
        assert record.id == name or record.id.startswith(name + "_"), (record.id, name)
        clean = "".join(seq.split())
        if clean and set(clean) <= set(AMINO) and MIN_LENGTH <= len(clean) <= MAX_LENGTH:
            assert record.ok and record.sequence == clean


# ------------------------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory) -> Path:
    return synthetic.write_random_checkpoint(tmp_path_factory.mktemp("fuzz") / "ckpt")


def run_predict(fasta: Path, out: Path, checkpoint: Path, fmt: str) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    args = ["predict", "-f", str(fasta), "-o", str(out), "-m", str(checkpoint), "--format", fmt]
    code = main(args, stdout=stdout, stderr=stderr)
    return code, stderr.getvalue()


def result_rows(out: Path, fmt: str) -> list[dict]:
    if fmt == "csv":
        table = read_results_csv(out / "results.csv")  # undoes the CSV-injection quote
        assert list(table.columns) == COLUMNS
        return table.fillna("").to_dict("records")
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))["results"]
    return [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]


@CLI
@given(data=any_bytes, fmt=st.sampled_from(["csv", "json"]))
def test_cli_answers_every_record_or_refuses_in_one_line(random_checkpoint, data, fmt) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "input.fasta"
        fasta.write_bytes(data)
        code, stderr = run_predict(fasta, Path(tmp) / "out", random_checkpoint, fmt)
        try:
            records = parse_bytes(data, name=fasta.name)
        except InputError as exc:
            assert code == 1
            assert stderr == f"protloc predict: error: {exc}\n"
            return
        # a run in which no record could be predicted fails, after writing the error rows
        assert code == (0 if any(r.ok for r in records) else 1), stderr
        rows = result_rows(Path(tmp) / "out", fmt)
    assert [row["ID"] for row in rows] == [r.id for r in records]
    for row, record in zip(rows, records):
        if record.ok:
            assert row["Localization"] in CLASSES and row["Error"] == ""
        else:
            assert row["Localization"] == "" and row["Error"] == " ".join(record.messages)
