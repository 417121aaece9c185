"""``protloc evaluate`` end to end on a tiny handmade checkpoint folder and data folders."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from protloc import peers as P
from protloc.classes import CLASSES, COLUMN_NAMES, DEEPLOCPRO_ORDER, canonical_label
from protloc.commands import evaluate as E

CYT, CMEM, PERI, OMEM, EXT, CW = CLASSES

# id, label, group, partition, in benchmark, our probabilities (CLASSES order), sequence
PROTEINS = [
    ("B1", CYT, "negative", 0, True, [0.9, 0.02, 0.02, 0.02, 0.02, 0.02], "MKTAYIAKQRQISFVKSHFSRQ"),
    # positive: raw argmax Outer membrane; the group rule moves it to Extracellular (right)
    ("B2", EXT, "positive", 0, True, [0.05, 0.05, 0.1, 0.45, 0.35, 0.0], "MKKLLPTAAAGLLLLAAQPAMA"),
    (
        "B3",
        CMEM,
        "negative",
        1,
        True,
        [0.6, 0.3, 0.025, 0.025, 0.025, 0.025],
        "MLLIVLLAVLFGSLWALLRKRE",
    ),
    ("B4", PERI, "negative", 1, True, [0.1, 0.1, 0.6, 0.1, 0.05, 0.05], "MKRISTTITTTITITTGNGAGA"),
    (
        "X1",
        CYT,
        "unknown",
        0,
        False,
        [0.8, 0.1, 0.025, 0.025, 0.025, 0.025],
        "MSEQNNTEMTFQIQRIYTKDIS",
    ),
    ("X2", EXT, "archaea", 1, False, [0.1, 0.1, 0.1, 0.1, 0.55, 0.05], "MNKKVLAVAGLALLAAPAMAQT"),
    ("X3", CW, "positive", 0, False, [0.1, 0.1, 0.0, 0.0, 0.3, 0.5], "MKKIFSLVLAGLLLSSTAFAQE"),
    ("X4", OMEM, "negative", 1, False, [0.1, 0.1, 0.1, 0.6, 0.05, 0.05], "MKKTAIAIAVALAGFATVAQAA"),
]

# DeepLocPro's held-out probabilities (CLASSES order) for the benchmark proteins and one more.
DLP = {
    "B1": (0, [0.7, 0.1, 0.05, 0.05, 0.05, 0.05]),
    "B2": (0, [0.1, 0.6, 0.05, 0.05, 0.15, 0.05]),  # wrong
    "B3": (1, [0.1, 0.8, 0.025, 0.025, 0.025, 0.025]),
    "B4": (1, [0.1, 0.1, 0.7, 0.05, 0.025, 0.025]),
    "B5": (1, [0.1, 0.1, 0.1, 0.1, 0.5, 0.1]),
}
DLP_SPELLING = {
    CYT: "Cytoplasmic",
    CMEM: "CYtoplasmicMembrane",
    PERI: "Periplasmic",
    OMEM: "OuterMembrane",
    EXT: "Extracellular",
    CW: "Cellwall",
}


def _write_checkpoint(root: Path) -> Path:
    ckpt = root / "ckpt"
    ckpt.mkdir()
    rows = []
    for pid, label, _, part, _, probs, _ in PROTEINS:
        row = {
            "id": pid,
            "partition": part,
            "label": label,
            "prediction": CLASSES[max(range(6), key=probs.__getitem__)],
        }
        row.update({COLUMN_NAMES[c]: p for c, p in zip(CLASSES, probs)})
        rows.append(row)
    pd.DataFrame(rows).to_csv(ckpt / "heldout.csv", index=False)
    return ckpt


def _write_dataset(root: Path) -> Path:
    data = root / "data_build"
    data.mkdir()
    rows = [
        {
            "id": pid,
            "source": "deeplocpro_benchmark" if bench else "loctree3",
            "source_id": pid,
            "sequence": seq,
            "label": label,
            "group": group,
            "partition": part,
            "in_benchmark": bench,
            "flags": "",
        }
        for pid, label, group, part, bench, _, seq in PROTEINS
    ]
    pd.DataFrame(rows).to_csv(data / "dataset.tsv", sep="\t", index=False)
    return data


def _write_raw(root: Path) -> Path:
    """A data folder like ../shared/data, a reference study beside it."""
    raw = root / "shared" / "data"
    held = raw / "deeplocpro" / "deeplocpro_heldout"
    held.mkdir(parents=True)
    info = {p[0]: p for p in PROTEINS}
    fasta = []
    for pid in DLP:
        label, group, seq = (
            (info[pid][1], info[pid][2], info[pid][6])
            if pid in info
            else (EXT, "positive", "MKKLLLAAAGLLLLAAQPAMAKE")
        )
        fasta.append(f">{pid}|{DLP_SPELLING[label]}|{group}\n{seq}\n")
    (raw / "deeplocpro" / "benchmarking_dataset.fasta").write_text("".join(fasta))
    for test, val in ((0, 1), (1, 0)):
        rows = {pid: probs for pid, (fold, probs) in DLP.items() if fold == test}
        order = [CLASSES.index(canonical_label(name)) for name in DEEPLOCPRO_ORDER]
        frame = pd.DataFrame(
            [[p[j] for j in order] for p in rows.values()],
            index=list(rows),
            columns=list(DEEPLOCPRO_ORDER),
        )
        frame.to_csv(held / f"model_{test}_{val}.csv")
    seed = root / "shared" / "reference" / "seed_results"
    seed.mkdir(parents=True)
    for k in range(2):
        (seed / f"fold_{k}_results.json").write_text(
            json.dumps({"test_fold": k, "labels": [0, 1, 2, 5], "predictions": [0, 1, 2, 2]})
        )
    return raw


def _write_psortb(data: Path) -> None:
    """PSORTb cache: B1 right, B2 abstained, B3 wrong, B4 not cached."""
    info = {p[0]: p for p in PROTEINS}
    rows = []
    for pid, pred in (("B1", CYT), ("B2", "Unknown"), ("B3", PERI)):
        seq, group = info[pid][6], info[pid][2]
        rows.append(
            {c: "" for c in P.CACHE_COLUMNS}
            | {
                "key": P.cache_key(seq, group),
                "seq_sha1": P.seq_sha1(seq),
                "group": group,
                "id": pid,
                "prediction": pred,
            }
        )
    (data / "peers").mkdir()
    pd.DataFrame(rows, columns=list(P.CACHE_COLUMNS)).to_csv(
        data / "peers" / "psortb_benchmark.tsv", sep="\t", index=False
    )


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.delenv("PROTLOC_DATA", raising=False)
    monkeypatch.delenv("PROTLOC_REFERENCE", raising=False)
    ckpt, data, raw = _write_checkpoint(tmp_path), _write_dataset(tmp_path), _write_raw(tmp_path)
    _write_psortb(data)
    return ckpt, data, raw


def _main(argv):
    from protloc.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _run(args):
    """The evaluate subcommand without relying on its registration in protloc.cli."""
    import argparse

    parser = argparse.ArgumentParser(prog="protloc")
    E.add_parser(parser.add_subparsers(dest="command"))
    ns = parser.parse_args(["evaluate", *args])
    out, err = io.StringIO(), io.StringIO()
    return ns.func(ns, out, err), out.getvalue(), err.getvalue()


def test_evaluate_end_to_end(folders):
    ckpt, data, raw = folders
    code, out, err = _run([str(ckpt), "--data", str(data), "--data-dir", str(raw)])
    assert code == 0, err
    results = json.loads((ckpt / "results.json").read_text())
    md = (ckpt / "results.md").read_text()

    a = results["all"]
    assert a["n"] == 8
    # our probabilities after the group rule: all right but B3 -> 7/8
    assert a["overall"]["accuracy"] == pytest.approx(7 / 8)
    assert a["without_group_rule"]["accuracy"] == pytest.approx(6 / 8)  # B2 wrong without it
    assert a["groups_known"] == 7
    assert set(a["by_group"]) == {"negative", "positive", "archaea", "unknown"}
    assert [f["partition"] for f in a["per_fold"]["folds"]] == [0, 1]
    assert a["calibration"]["n_bins"] == 15

    b = results["benchmark"]
    assert b["n"] == 4  # B5 is in the benchmark but not in heldout.csv
    ours, dlp, psortb = (b["predictors"][k] for k in ("protloc", "DeepLocPro", "PSORTb 3.0.6"))
    assert ours["overall"]["accuracy"] == pytest.approx(3 / 4)
    assert dlp["overall"]["accuracy"] == pytest.approx(3 / 4)  # B2 wrong
    assert dlp["confusion_matrix"]["matrix"][CLASSES.index(EXT)][CLASSES.index(CMEM)] == 1
    assert (psortb["n"], psortb["n_abstained"], psortb["cached_of"]) == (3, 1, 4)
    assert psortb["overall"]["accuracy"] == pytest.approx(1 / 2)
    assert psortb["abstain_as_wrong"]["accuracy"] == pytest.approx(1 / 3)
    assert any("cached results for 3 of 4" in n for n in b["notes"])
    assert any("optimistic" in n for n in b["notes"])

    ref = results["reference_study"]
    assert ref["overall"]["accuracy"] == pytest.approx(0.75)
    assert "not homology partitions" in ref["caveat"]

    assert "group rule is applied" in md
    assert "| protloc | 4 |" in md and "| DeepLocPro | 4 |" in md and "| PSORTb 3.0.6 | 3 |" in md
    assert md.count("not homology partitions") >= 2  # caveat before and after its figures
    assert "optimistic" in md
    assert "all held-out proteins (n=8): accuracy 0.875" in out


def test_evaluate_writes_to_out_and_reads_env(folders, tmp_path, monkeypatch):
    ckpt, data, raw = folders
    monkeypatch.setenv("PROTLOC_DATA", str(raw))
    code, _, err = _run([str(ckpt), "--data", str(data), "--out", str(tmp_path / "res")])
    assert code == 0, err
    assert (tmp_path / "res" / "results.md").is_file() and not (ckpt / "results.json").exists()
    results = json.loads((tmp_path / "res" / "results.json").read_text())
    assert results["reference_study"] is not None and results["benchmark"]["n"] == 4


def test_evaluate_without_dataset_or_raw_data(folders):
    ckpt, _, _ = folders
    code, _, err = _run([str(ckpt)])
    assert code == 0, err
    results = json.loads((ckpt / "results.json").read_text())
    assert results["all"]["groups_known"] == 0
    assert results["benchmark"] is None and results["reference_study"] is None
    assert any("DeepLocPro comparison skipped" in n for n in results["notes"])


def test_evaluate_peers_only(folders, tmp_path):
    _, data, raw = folders
    code, out, err = _run(
        ["--data-dir", str(raw), "--peers", str(data / "peers"), "--out", str(tmp_path / "p")]
    )
    assert code == 0, err
    results = json.loads((tmp_path / "p" / "results.json").read_text())
    assert results["all"] is None
    assert results["benchmark"]["n"] == 5 and "protloc" not in results["benchmark"]["predictors"]
    assert "benchmark DeepLocPro (n=5" in out


def test_evaluate_user_errors(folders, tmp_path):
    from protloc.errors import UserError

    with pytest.raises(UserError, match="no heldout.csv"):
        _run([str(tmp_path)])
    with pytest.raises(UserError, match="--out is required"):
        _run([])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "heldout.csv").write_text("id,label\nA,Nucleus\n")
    with pytest.raises(UserError, match="lacks columns"):
        _run([str(bad)])


def test_evaluate_through_cli_main(folders):
    ckpt, data, raw = folders
    code, out, err = _main(["evaluate", str(ckpt), "--data", str(data), "--data-dir", str(raw)])
    assert code == 0, err
    code, _, err = _main(["evaluate", str(ckpt / "missing")])
    assert code == 1 and "does not exist" in err


def test_group_note_says_whether_the_model_reads_the_group(tmp_path):
    import json

    from protloc.crossval import GROUP_INPUT_NOTE, GROUP_RULE_NOTE, _group_note

    (tmp_path / "manifest.json").write_text(json.dumps({"model": {"config": {"n_groups": 4}}}))
    assert _group_note(tmp_path) == GROUP_RULE_NOTE + GROUP_INPUT_NOTE
    (tmp_path / "manifest.json").write_text(json.dumps({"model": {"config": {}}}))
    assert _group_note(tmp_path) == GROUP_RULE_NOTE
