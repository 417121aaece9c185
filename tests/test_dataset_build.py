"""End-to-end `protloc data build` on a tiny synthetic data folder (real MMseqs2 runs)."""

from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest

from protloc.classes import CLASSES
from protloc.cli import main
from protloc.dataset.build import COLUMNS, build_dataset
from protloc.dataset.synthetic import write_synthetic_data_dir

needs_mmseqs = pytest.mark.skipif(
    shutil.which("mmseqs") is None,
    reason="the mmseqs binary is not installed (apt-get install mmseqs2)",
)

OUTPUTS = ("dataset.tsv", "dataset.fasta", "removed.tsv", "datasheet.md")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    facts = write_synthetic_data_dir(root)
    return root, facts


@pytest.fixture(scope="module")
def built(synth, tmp_path_factory):
    if shutil.which("mmseqs") is None:
        pytest.skip("the mmseqs binary is not installed (apt-get install mmseqs2)")
    root, facts = synth
    out = tmp_path_factory.mktemp("out1")
    res = build_dataset(out, data_dir=root, threads=2, cache_dir=tmp_path_factory.mktemp("cache1"),
                        log=lambda m: None)
    return out, res, facts


@needs_mmseqs
def test_outputs_and_columns(built):
    out, res, _ = built
    for name in OUTPUTS:
        assert (out / name).is_file()
    ds = pd.read_csv(out / "dataset.tsv", sep="\t", keep_default_na=False)
    assert list(ds.columns) == COLUMNS
    assert set(ds["label"]) <= set(CLASSES)
    assert set(ds["group"]) <= {"negative", "positive", "archaea", "unknown"}
    assert set(ds["partition"]) <= set(range(5))
    assert ds["id"].is_unique and ds["sequence"].is_unique
    assert res.check_passed
    fasta_ids = [line[1:].split()[0] for line in (out / "dataset.fasta").read_text().splitlines()
                 if line.startswith(">")]
    assert fasta_ids == list(ds["id"])


@needs_mmseqs
def test_benchmark_keeps_partitions_and_homologs_follow(built):
    _, res, facts = built
    ds = res.dataset.set_index("id")
    for acc, part in facts["bench_partition"].items():
        assert ds.loc[acc, "partition"] == part and ds.loc[acc, "in_benchmark"]
    # DLP accessions from mPLoc keep DeepLocPro's partition
    assert ds.loc["Q0G001", "partition"] == 1 and ds.loc["Q0P001", "partition"] == 2
    # LocTree3 members of family 2 (benchmark P0B002 in partition 2) join partition 2
    assert ds.loc["L2_ECOLI", "partition"] == 2
    assert "partition_by=homology" in ds.loc["L2_ECOLI", "flags"]


@needs_mmseqs
def test_rules_show_in_removal_log(built):
    out, res, facts = built
    rm = pd.read_csv(out / "removed.tsv", sep="\t", keep_default_na=False)
    reasons = dict(zip(rm["source_id"], rm["reason"]))
    assert reasons["Q0G002"] == "multi_label"  # listed under two locations in Gneg-mPLoc
    assert reasons["Q0G003"] == "unmapped_label"  # fimbrium
    assert reasons["9004"] == "multi_label"  # PSORTb dual label
    assert reasons["9005"] == "overridden_by_stronger_source"  # benchmark label wins
    assert reasons["Train-2918:Non-effector-1"] == "not_localization"
    # the fused protein links the families of partitions 0 and 1: removed as a linker
    assert reasons["9006"] in ("partition_linker", "check_linker")
    assert facts["linker"] not in set(res.dataset["id"])
    sheet = (out / "datasheet.md").read_text()
    assert "PASSED" in sheet and "## Class x partition" in sheet and "multi_label" in sheet


@needs_mmseqs
def test_cli_build_is_deterministic(built, synth, tmp_path):
    """A second build through the CLI, with 1 thread and an empty cache: byte-identical."""
    out1, _, _ = built
    root, _ = synth
    out2 = tmp_path / "out2"
    out, err = io.StringIO(), io.StringIO()
    rc = main(["data", "build", "--out", str(out2), "--data-dir", str(root), "--threads", "1",
               "--cache-dir", str(tmp_path / "cache2")], out, err)
    assert rc == 0, err.getvalue()
    assert "cross-partition check passed" in out.getvalue()
    assert "parse sources" in err.getvalue() and "s]" in err.getvalue()  # timed progress on stderr
    for name in OUTPUTS:
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name


def test_cli_missing_data_dir_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PROTLOC_DATA", raising=False)
    out, err = io.StringIO(), io.StringIO()
    rc = main(["data", "build", "--out", str(tmp_path / "o")], out, err)
    assert rc == 1 and "PROTLOC_DATA" in err.getvalue()
    rc = main(["data", "build", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path / "nope")], out, err)
    assert rc == 1 and "does not exist" in err.getvalue()


def test_cli_missing_mmseqs_gives_install_hint(synth, tmp_path):
    root, _ = synth
    out, err = io.StringIO(), io.StringIO()
    rc = main(["data", "build", "--out", str(tmp_path / "o"), "--data-dir", str(root),
               "--mmseqs", str(tmp_path / "no-mmseqs")], out, err)
    assert rc == 1 and "apt-get install mmseqs2" in err.getvalue()


def test_cli_data_without_subcommand_prints_help():
    out, err = io.StringIO(), io.StringIO()
    assert main(["data"], out, err) == 2
    assert "build" in out.getvalue()


@needs_mmseqs
def test_check_removes_what_the_graph_missed_and_can_fail(synth, tmp_path, monkeypatch):
    """With an empty partitioning graph, homologs land in different partitions: the check
    search must find them. With one round allowed the build fails; with the default rounds the
    flagged proteins are removed and the check passes."""
    import protloc.dataset.build as B

    root, facts = synth
    monkeypatch.setattr(B, "homology_graph", lambda mm, seqs, params: ({}, {}))
    monkeypatch.setattr(B, "CHECK_ROUNDS", 1)
    out, err = io.StringIO(), io.StringIO()
    rc = main(["data", "build", "--out", str(tmp_path / "f"), "--data-dir", str(root),
               "--cache-dir", str(tmp_path / "c")], out, err)
    assert rc == 1 and "check FAILED" in err.getvalue()
    assert "**FAILED**" in (tmp_path / "f" / "datasheet.md").read_text()

    monkeypatch.setattr(B, "CHECK_ROUNDS", 3)
    res = B.build_dataset(tmp_path / "p", data_dir=root, cache_dir=tmp_path / "c", log=lambda m: None)
    assert res.check_passed and not res.violations
    assert (res.removed["reason"] == "check_linker").sum() > 0
    ds = res.dataset.set_index("id")
    for acc, part in facts["bench_partition"].items():  # benchmark proteins are never removed
        assert ds.loc[acc, "partition"] == part
