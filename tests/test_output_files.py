"""Result files (issue 16, cases 3, 6, 9 and 11): filesystem faults give one clear line and a
non-zero exit, outputs are atomic with a completion marker, CSV cells cannot run as formulas,
and a run in which nothing could be predicted exits non-zero."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import synthetic
from protloc import files
from protloc.cli import main
from protloc.output import read_results_csv

PROTEIN = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return synthetic.write_random_checkpoint(tmp_path_factory.mktemp("out") / "ckpt")


def predict(tmp_path: Path, checkpoint: Path, fasta_text: str, out: Path | None = None,
            *extra: str) -> tuple[int, str, str]:
    fasta = tmp_path / "in.fasta"
    fasta.write_text(fasta_text, encoding="utf-8")
    out = out or tmp_path / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["predict", "-f", str(fasta), "-o", str(out), "-m", str(checkpoint), *extra],
                stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def one_clear_line(stderr: str) -> str:
    """The error: one line, the last on stderr (after any progress line)."""
    assert "Traceback" not in stderr and stderr.endswith("\n"), stderr
    last = stderr.splitlines()[-1]
    assert last.startswith("protloc predict: error: "), stderr
    assert stderr.count("error") == last.count("error"), stderr
    return last


# ---------------------------------------------------------------- case 3: nothing predicted


def test_a_run_with_no_predictable_record_exits_non_zero(tmp_path, checkpoint) -> None:
    code, _, stderr = predict(tmp_path, checkpoint, ">dna\n" + "ACGT" * 20 + "\n>short\nMK\n")
    assert code == 1
    assert "none of the 2 records could be predicted" in one_clear_line(stderr)
    # the error rows are still written, so the user can see why
    table = read_results_csv(tmp_path / "out" / "results.csv")
    assert table["ID"].tolist() == ["dna", "short"] and table["Error"].str.len().min() > 0


# ------------------------------------------------------------------ case 6: filesystem faults


def test_output_naming_an_existing_file_is_refused(tmp_path, checkpoint) -> None:
    target = tmp_path / "results_here.txt"
    target.write_text("keep me")
    code, _, stderr = predict(tmp_path, checkpoint, f">p\n{PROTEIN}\n", target)
    assert code == 1
    assert "is an existing file" in one_clear_line(stderr)
    assert target.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_refused(tmp_path, checkpoint) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        code, _, stderr = predict(tmp_path, checkpoint, f">p\n{PROTEIN}\n", out)
    finally:
        out.chmod(0o700)
    assert code == 1 and "permission denied" in one_clear_line(stderr)


def test_read_only_output_folder_is_refused_even_for_root(tmp_path, checkpoint,
                                                          monkeypatch) -> None:
    """As root, chmod does not stop writes: the fault is simulated at the system call."""
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "out")) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    code, _, stderr = predict(tmp_path, checkpoint, f">p\n{PROTEIN}\n")
    assert code == 1 and "read-only" in one_clear_line(stderr)


def test_disk_full_leaves_no_truncated_results(tmp_path, checkpoint, monkeypatch) -> None:
    out = tmp_path / "out"
    assert predict(tmp_path, checkpoint, f">old\n{PROTEIN}\n")[0] == 0
    real_write = os.write

    def full_disk(fd, data):
        real_write(fd, bytes(data)[: len(data) // 2])  # half of it lands, as on a full disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    code, _, stderr = predict(tmp_path, checkpoint, f">new\n{PROTEIN}\n")
    monkeypatch.undo()
    assert code == 1 and "the disk is full" in one_clear_line(stderr)
    # no half-written file, no temporary file, and no marker claiming a complete run
    assert sorted(p.name for p in out.iterdir()) == []


def test_dev_full_gives_one_clear_line(tmp_path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as caught:
            files.write_fully(fd, b"x" * 100_000)
    finally:
        os.close(fd)
    message = files.describe_os_error(caught.value, Path("out/results.csv"))
    assert message == "cannot write out/results.csv: the disk is full"


# -------------------------------------------------------------------- case 11: atomic outputs


def test_a_run_writes_a_completion_marker_listing_its_files(tmp_path, checkpoint) -> None:
    code, _, err = predict(tmp_path, checkpoint, f">p\n{PROTEIN}\n", None, "-p")
    assert code == 0, err
    out = tmp_path / "out"
    marker = json.loads((out / files.MARKER).read_text())
    assert marker["complete"] is True
    listed = {f["name"]: f for f in marker["files"]}
    assert set(listed) == {"results.csv", "attention.json"}
    for name, entry in listed.items():
        assert entry["bytes"] == (out / name).stat().st_size
        assert entry["sha256"] == files.sha256_of(out / name)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))


def test_a_rerun_never_leaves_old_and_new_files_together(tmp_path, checkpoint,
                                                         monkeypatch) -> None:
    out = tmp_path / "out"
    assert predict(tmp_path, checkpoint, f">old\n{PROTEIN}\n", None, "-p")[0] == 0
    real_replace = os.replace
    calls = []

    def killed_after_first_file(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the re-run dies after writing its first file
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed_after_first_file)
    code, _, _ = predict(tmp_path, checkpoint, f">new\n{PROTEIN}\n", None, "--format", "json")
    monkeypatch.undo()
    assert code == 130
    names = sorted(p.name for p in out.iterdir())
    # the old run's files are gone, only new ones are there, and no marker says "complete"
    assert files.MARKER not in names
    assert "results.csv" not in names and "attention.json" not in names
    assert names == ["results.json"]
    assert [r["ID"] for r in json.loads((out / "results.json").read_text())["results"]] == ["new"]


def test_a_rerun_removes_the_files_of_the_earlier_run(tmp_path, checkpoint) -> None:
    out = tmp_path / "out"
    (tmp_path / "keep").mkdir()
    assert predict(tmp_path, checkpoint, f">old\n{PROTEIN}\n", None, "-p")[0] == 0
    (out / "notes.txt").write_text("the user's own file")
    assert predict(tmp_path, checkpoint, f">new\n{PROTEIN}\n", None, "--format", "json")[0] == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "results.json", "run.json"]


# -------------------------------------------------------------- case 9: CSV formula injection

HOSTILE_IDS = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "'=quoted", "plain"]


def test_csv_cells_cannot_start_a_formula_and_round_trip(tmp_path, checkpoint) -> None:
    fasta = "".join(f">{name}\n{PROTEIN}\n" for name in HOSTILE_IDS)
    code, _, err = predict(tmp_path, checkpoint, fasta)
    assert code == 0, err
    raw = pd.read_csv(tmp_path / "out" / "results.csv", dtype=str, keep_default_na=False)
    for cell in raw["ID"]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert raw["ID"].tolist()[:4] == ["'" + name for name in HOSTILE_IDS[:4]]
    # the provided reader gives back exactly the IDs of the input
    assert read_results_csv(tmp_path / "out" / "results.csv")["ID"].tolist() == HOSTILE_IDS


def test_json_output_keeps_ids_raw(tmp_path, checkpoint) -> None:
    fasta = "".join(f">{name}\n{PROTEIN}\n" for name in HOSTILE_IDS)
    code, _, err = predict(tmp_path, checkpoint, fasta, None, "--format", "json")
    assert code == 0, err
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [row["ID"] for row in doc["results"]] == HOSTILE_IDS
