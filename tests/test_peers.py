"""protloc.peers: the reference study's published results; PSORTb 3.0 parsing, labels, cache."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from protloc import peers as P
from protloc.classes import CLASSES

# Real `psort -o long` output (PSORTb 3.0.6, Debian package), tab-separated with its trailing
# tab; SeqIDs are the q0, q1, ... names run_psortb gives its queries.
PSORTB_NEGATIVE_LONG = (
    "\n".join(
        "\t".join(row)
        for row in [
            [
                "SeqID",
                "CMSVM-_Localization",
                "CMSVM-_Details",
                "CytoSVM-_Localization",
                "CytoSVM-_Details",
                "ECSVM-_Localization",
                "ECSVM-_Details",
                "ModHMM-_Localization",
                "ModHMM-_Details",
                "Motif-_Localization",
                "Motif-_Details",
                "OMPMotif-_Localization",
                "OMPMotif-_Details",
                "OMSVM-_Localization",
                "OMSVM-_Details",
                "PPSVM-_Localization",
                "PPSVM-_Details",
                "Profile-_Localization",
                "Profile-_Details",
                "SCL-BLAST-_Localization",
                "SCL-BLAST-_Details",
                "SCL-BLASTe-_Localization",
                "SCL-BLASTe-_Details",
                "Signal-_Localization",
                "Signal-_Details",
                "Cytoplasmic_Score",
                "CytoplasmicMembrane_Score",
                "Periplasmic_Score",
                "OuterMembrane_Score",
                "Extracellular_Score",
                "Final_Localization",
                "Final_Localization_Details",
                "Final_Score",
                "Secondary_Localization",
                "PSortb_Version",
            ],
            [
                "q0 ",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "1 internal helix found",
                "Unknown",
                "No motifs found",
                "Unknown",
                "No motifs found",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "No matches to profiles found",
                "Unknown",
                "No matches against database",
                "Unknown",
                "No matches against database",
                "Unknown",
                "No signal peptide detected",
                "2.00",
                "2.00",
                "2.00",
                "2.00",
                "2.00",
                "Unknown",
                "",
                "2.00",
                "",
                "PSORTb version 3.0",
                "",
            ],
            [
                "q1 ",
                "Unknown",
                "",
                "Cytoplasmic",
                "",
                "Unknown",
                "",
                "Unknown",
                "No internal helices found",
                "Unknown",
                "No motifs found",
                "Unknown",
                "No motifs found",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "No matches to profiles found",
                "Cytoplasmic",
                "matched 7404426: Hydroxylamine reductase",
                "Unknown",
                "No matches against database",
                "Unknown",
                "No signal peptide detected",
                "9.97",
                "0.01",
                "0.01",
                "0.00",
                "0.00",
                "Cytoplasmic",
                "",
                "9.97",
                "",
                "PSORTb version 3.0",
                "",
            ],
            [
                "q2 ",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "No internal helices found",
                "Unknown",
                "No motifs found",
                "Unknown",
                "No motifs found",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "No matches to profiles found",
                "Cytoplasmic,CytoplasmicMembrane",
                "matched 9911072: Anaerobic dimethyl sulfoxide reductase chain A precursor "
                "(DMSO reductase)",
                "Unknown",
                "No matches against database",
                "Unknown",
                "No signal peptide detected",
                "3.70",
                "6.29",
                "0.01",
                "0.00",
                "0.00",
                "Unknown",
                " (This protein may have multiple localization sites.)",
                "6.29",
                "",
                "PSORTb version 3.0",
                "",
            ],
        ]
    )
    + "\n"
)

PSORTB_POSITIVE_LONG = (
    "\n".join(
        "\t".join(row)
        for row in [
            [
                "SeqID",
                "CMSVM+_Localization",
                "CMSVM+_Details",
                "CWSVM+_Localization",
                "CWSVM+_Details",
                "CytoSVM+_Localization",
                "CytoSVM+_Details",
                "ECSVM+_Localization",
                "ECSVM+_Details",
                "ModHMM+_Localization",
                "ModHMM+_Details",
                "Motif+_Localization",
                "Motif+_Details",
                "Profile+_Localization",
                "Profile+_Details",
                "SCL-BLAST+_Localization",
                "SCL-BLAST+_Details",
                "SCL-BLASTe+_Localization",
                "SCL-BLASTe+_Details",
                "Signal+_Localization",
                "Signal+_Details",
                "Cytoplasmic_Score",
                "CytoplasmicMembrane_Score",
                "Cellwall_Score",
                "Extracellular_Score",
                "Final_Localization",
                "Final_Localization_Details",
                "Final_Score",
                "Secondary_Localization",
                "PSortb_Version",
            ],
            [
                "q0 ",
                "CytoplasmicMembrane",
                "",
                "Unknown",
                "",
                "Unknown",
                "",
                "Unknown",
                "",
                "CytoplasmicMembrane",
                "12 internal helices found",
                "CytoplasmicMembrane",
                "matched PS00216: SUGAR_TRANSPORT_1 Pattern - Cytoplasmic Membrane",
                "CytoplasmicMembrane",
                "matched PS50850: MFS Profile - Cytoplasmic Membrane ",
                "CytoplasmicMembrane",
                "matched 3915309: D-xylose-proton symporter (D-xylose transporter)",
                "Unknown",
                "No matches against database",
                "Unknown",
                "No signal peptide detected",
                "0.00",
                "10.00",
                "0.00",
                "0.00",
                "CytoplasmicMembrane",
                "",
                "10.00",
                "",
                "PSORTb version 3.0",
                "",
            ],
        ]
    )
    + "\n"
)


# --- parsing ----------------------------------------------------------------------------------


def test_parse_negative_long_output():
    rows = P.parse_psortb_long(PSORTB_NEGATIVE_LONG)
    assert [r.seq_id for r in rows] == ["q0", "q1", "q2"]
    unknown, cyto, multiple = rows
    assert (unknown.localization, unknown.prediction, unknown.score) == ("Unknown", "Unknown", 2.0)
    assert unknown.scl_blast == ""
    assert (cyto.localization, cyto.prediction, cyto.score) == ("Cytoplasmic", "Cytoplasmic", 9.97)
    assert cyto.scl_blast.startswith("Cytoplasmic: matched 7404426")
    assert cyto.scores == {
        "Cytoplasmic": 9.97,
        "CytoplasmicMembrane": 0.01,
        "Periplasmic": 0.01,
        "OuterMembrane": 0.0,
        "Extracellular": 0.0,
    }
    assert multiple.prediction == "Unknown"
    assert "multiple localization sites" in multiple.details
    assert multiple.scl_blast.startswith("Cytoplasmic,CytoplasmicMembrane")


def test_parse_positive_long_output_has_its_own_columns():
    (row,) = P.parse_psortb_long(PSORTB_POSITIVE_LONG)
    assert row.prediction == "Cytoplasmic membrane"
    assert row.score == 10.0
    assert set(row.scores) == {"Cytoplasmic", "CytoplasmicMembrane", "Cellwall", "Extracellular"}
    assert "D-xylose" in row.scl_blast


def test_parse_rejects_normal_output():
    with pytest.raises(ValueError, match="SeqID"):
        P.parse_psortb_long("SeqID: q0 \n  Analysis Report:\n  Final Prediction:\n    Unknown\n")


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("Cytoplasmic", "Cytoplasmic"),
        ("CytoplasmicMembrane", "Cytoplasmic membrane"),
        ("Periplasmic", "Periplasmic"),
        ("OuterMembrane", "Outer membrane"),
        ("Extracellular", "Extracellular"),
        ("Cellwall", "Cell wall & surface"),
        ("Unknown", "Unknown"),
        ("Unknown (This protein may have multiple localization sites.)", "Unknown"),
        ("Cytoplasmic,CytoplasmicMembrane", "Unknown"),
        ("", "Unknown"),
    ],
)
def test_psortb_label(spelling, expected):
    assert P.psortb_label(spelling) == expected


# --- running and caching (a fake psort) -------------------------------------------------------

FAKE_PSORT = """#!{python}
import sys
from pathlib import Path
flag, fasta = sys.argv[1], sys.argv[-1]
with open({calls!r}, "a") as fh:
    fh.write(flag + "\\n")
answer = {{"-n": "Periplasmic", "-p": "CytoplasmicMembrane", "-a": "Unknown"}}[flag]
names = [l[1:].strip() for l in Path(fasta).read_text().splitlines() if l.startswith(">")]
seqs = [l.strip() for l in Path(fasta).read_text().splitlines() if not l.startswith(">")]
if any("W" in s for s in seqs):
    sys.exit("fake psort: cannot handle W")
print("SeqID\\tFinal_Localization\\tFinal_Localization_Details\\tFinal_Score\\tSecondary_Localization\\t")
for n in names:
    print(f"{{n}} \\t{{answer}}\\t\\t9.50\\t\\t")
"""


@pytest.fixture
def fake_psort(tmp_path):
    calls = tmp_path / "calls.txt"
    script = tmp_path / "psort"
    script.write_text(FAKE_PSORT.format(python=sys.executable, calls=str(calls)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, calls


def _calls(path: Path) -> list[str]:
    return path.read_text().split() if path.is_file() else []


def test_run_psortb_groups_and_cache(tmp_path, fake_psort):
    script, calls = fake_psort
    records = [
        {"id": "a", "sequence": "MKKLLA", "group": "negative"},
        {"id": "b", "sequence": "MKKLLA", "group": "positive"},  # same sequence, other group
        {"id": "c", "sequence": "MSTNPK", "group": "archaea"},
        {"id": "d", "sequence": "MSTNPK", "group": "unknown"},  # not runnable
        {"id": "e", "sequence": "MKKLLA", "group": "Gram-negative"},  # same key as "a"
    ]
    cache = tmp_path / "peers" / "psortb.tsv"
    out = P.run_psortb(records, cache, psort=str(script))
    assert out["id"].tolist() == ["a", "b", "c", "d", "e"]
    assert out["prediction"].tolist() == [
        "Periplasmic",
        "Cytoplasmic membrane",
        "Unknown",
        "Unknown",
        "Periplasmic",
    ]
    assert out.loc[3, "error"].startswith("not run")
    assert sorted(_calls(calls)) == ["-a", "-n", "-p"]  # one call per group, "e" from "a"
    assert len(P.read_psortb_cache(cache)) == 3

    again = P.run_psortb(records, cache, psort=str(tmp_path / "no-such-psort"))
    assert len(_calls(calls)) == 3  # nothing run the second time
    assert again["prediction"].tolist() == out["prediction"].tolist()

    assert P.psortb_predictions(
        cache,
        ["MKKLLA", "MKKLLA", "MSTNPK", "MSTNPK"],
        ["negative", "archaea", "archaea", "unknown"],
    ) == ["Periplasmic", None, "Unknown", None]


def test_run_psortb_isolates_a_failing_protein(tmp_path, fake_psort):
    script, calls = fake_psort
    records = [
        ("ok1", "MKKLLA", "negative"),
        ("bad", "MKWWLA", "negative"),
        ("ok2", "MSTNPK", "negative"),
    ]
    out = P.run_psortb(records, tmp_path / "c.tsv", psort=str(script), chunk_size=10)
    assert out["prediction"].tolist() == ["Periplasmic", "Unknown", "Periplasmic"]
    assert out["error"].tolist()[0] == "" and "cannot handle W" in out["error"].tolist()[1]
    assert len(_calls(calls)) == 4  # the chunk, then each protein alone
    # a failed protein is absent, not an abstention, for evaluation
    assert P.psortb_predictions(tmp_path / "c.tsv", ["MKWWLA"], ["negative"]) == [None]
    P.run_psortb(records, tmp_path / "c.tsv", psort=str(script))
    assert len(_calls(calls)) == 4  # the failure is cached too
    again = P.run_psortb(records, tmp_path / "c.tsv", psort=str(script), retry_errors=True)
    assert len(_calls(calls)) == 5  # only the failed protein is tried again
    assert "cannot handle W" in again["error"].tolist()[1]


def test_run_psortb_reads_deeplocpro_style_fasta(tmp_path, fake_psort):
    script, _ = fake_psort
    fasta = tmp_path / "x.fasta"
    fasta.write_text(">P1|Periplasmic|negative\nMKKLLA\n>P2|Cellwall|positive\nMSTNPK\n")
    out = P.run_psortb(fasta, tmp_path / "c.tsv", psort=str(script))
    assert out[["id", "group", "prediction"]].values.tolist() == [
        ["P1", "negative", "Periplasmic"],
        ["P2", "positive", "Cytoplasmic membrane"],
    ]


def test_peers_psortb_command(tmp_path, fake_psort):
    import io

    from protloc.cli import main

    script, calls = fake_psort
    fasta = tmp_path / "x.fasta"
    fasta.write_text(">P1|Periplasmic|negative\nMKKLLA\n>P2|Cellwall|positive\nMSTNPK\n")
    cache = tmp_path / "peers" / "psortb_benchmark.tsv"
    argv = ["peers", "psortb", str(fasta), "--out", str(cache), "--psort", str(script)]
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, stdout=out, stderr=err) == 0
    assert "2 proteins" in out.getvalue() and "Periplasmic 1" in out.getvalue()
    assert "2 proteins to run" in err.getvalue()
    assert P.psortb_predictions(cache, ["MKKLLA"], ["negative"]) == ["Periplasmic"]
    assert main(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 0
    assert len(_calls(calls)) == 2  # the rerun came from the cache

    plain = tmp_path / "plain.fasta"
    plain.write_text(">a\nMKKLLA\n")
    err = io.StringIO()
    assert main(["peers", "psortb", str(plain), "--out", str(cache)], io.StringIO(), err) == 1
    assert "no organism group" in err.getvalue() and "Traceback" not in err.getvalue()
    err = io.StringIO()
    assert main(["peers", "psortb", str(tmp_path / "none.fa"), "--out", str(cache)],
                io.StringIO(), err) == 1
    assert "does not exist" in err.getvalue()


def test_missing_psort_is_a_user_error(tmp_path):
    from protloc.errors import UserError

    with pytest.raises(UserError, match="apt-get install psortb"):
        P.run_psortb([("a", "MKKLLA", "negative")], tmp_path / "c.tsv", psort="no-such-psort-here")


def _psortb_ready() -> bool:
    return shutil.which("psort") is not None and all(
        (P.SCLBLAST_DIR / sub / "sclblast.pin").is_file() for sub in P.SCLBLAST_SUBDIRS.values()
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not _psortb_ready(),
    reason="PSORTb not installed (apt-get install psortb) or its "
    "SCL-BLAST databases not formatted (formatdb -i sclblast -p T -o F)",
)
def test_live_psortb_on_two_proteins(tmp_path):
    import synthetic

    rng = np.random.default_rng(3)
    records = [
        ("mem", synthetic.synthetic_protein("Cytoplasmic membrane", rng), "negative"),
        ("cw", synthetic.synthetic_protein("Cell wall & surface", rng), "positive"),
    ]
    out = P.run_psortb(records, tmp_path / "live.tsv")
    assert out["error"].tolist() == ["", ""]
    assert set(out["prediction"]) <= set(CLASSES) | {"Unknown"}
    assert all(out["psortb_localization"] != "")


# --- the reference study ----------------------------------------------------------------------


def _write_study(folder: Path) -> None:
    folder.mkdir(parents=True)
    for k, (labels, preds) in enumerate([([0, 1, 5], [0, 1, 2]), ([2, 3, 4], [2, 4, 4])]):
        (folder / f"fold_{k}_results.json").write_text(
            json.dumps({"test_fold": k, "labels": labels, "predictions": preds})
        )
    (folder / "final_summary.json").write_text(
        json.dumps({"nested_cv_results": {"accuracy": {"mean": 0.5, "std": 0.1}}})
    )


def test_reference_study_loader_and_locations(tmp_path, monkeypatch):
    _write_study(tmp_path / "shared" / "reference" / "seed_results")
    monkeypatch.delenv("PROTLOC_REFERENCE", raising=False)
    monkeypatch.setenv("PROTLOC_DATA", str(tmp_path / "shared" / "data"))
    assert P.reference_study_dir() == tmp_path / "shared" / "reference" / "seed_results"
    monkeypatch.setenv("PROTLOC_REFERENCE", str(tmp_path / "elsewhere"))
    _write_study(tmp_path / "elsewhere")
    assert P.reference_study_dir() == tmp_path / "elsewhere"
    assert P.reference_study_dir(tmp_path / "nothing") is None

    study = P.load_reference_study(tmp_path / "shared" / "reference")
    t = study.table
    assert t["fold"].tolist() == [0, 0, 0, 1, 1, 1]
    # index order: Cytoplasmic, Cytoplasmic membrane, Extracellular, Periplasmic, Outer membrane, CW
    assert t["label"].tolist() == [
        "Cytoplasmic",
        "Cytoplasmic membrane",
        "Cell wall & surface",
        "Extracellular",
        "Periplasmic",
        "Outer membrane",
    ]
    assert t["prediction"].tolist()[2] == "Extracellular"
    r = P.evaluate_reference_study(tmp_path / "shared" / "reference")
    assert r["overall"]["accuracy"] == pytest.approx(4 / 6)
    assert r["published"] == {"accuracy": {"mean": 0.5, "sd": 0.1}}
    assert "not homology partitions" in r["caveat"]


def _real_reference_dir() -> Path | None:
    return P.reference_study_dir()


@pytest.mark.data
@pytest.mark.skipif(
    _real_reference_dir() is None,
    reason="reference study results not found: set PROTLOC_REFERENCE, or PROTLOC_DATA "
    "with ../shared/reference beside it",
)
def test_real_reference_study_reproduces_published_figures():
    study = P.load_reference_study()
    t = study.table
    assert t.groupby("fold").size().tolist() == [2307, 2306, 2306, 2306, 2306]
    from sklearn.metrics import confusion_matrix

    cm = confusion_matrix(t["label"], t["prediction"], labels=list(P.REFERENCE_STUDY_ORDER))
    assert cm[1].tolist() == [125, 2228, 29, 34, 32, 7]  # Cytoplasmic membrane row, published
    assert cm[5].tolist() == [6, 8, 13, 2, 1, 30]  # Cell wall & surface row, published
    assert cm[0].tolist() == [6669, 46, 24, 20, 29, 0]
    r = P.evaluate_reference_study()
    published = study.summary["nested_cv_results"]
    for key in ("accuracy", "macro_f1", "mcc"):
        assert r["per_fold"]["mean"][key] == pytest.approx(published[key]["mean"], abs=1e-12)
        assert r["per_fold"]["sd"][key] == pytest.approx(published[key]["std"], abs=1e-12)
        assert [f[key] for f in r["per_fold"]["folds"]] == pytest.approx(published[key]["per_fold"])
    assert round(r["per_fold"]["mean"]["accuracy"], 3) == 0.932
    assert round(r["per_fold"]["mean"]["macro_f1"], 3) == 0.819
    assert round(r["per_fold"]["mean"]["mcc"], 3) == 0.884
    assert "stratified random" in r["caveat"]
