"""scripts/ablation_table.py: the parts that read run folders and write the table."""

from __future__ import annotations

import json

from scripts import ablation_table as T


def test_run_facts_reads_the_training_log_with_its_header(tmp_path):
    run = tmp_path / "focal" / "runs" / "fold_0"
    run.mkdir(parents=True)
    (run / "log.tsv").write_text("epoch\ttrain_loss\tval_mcc\tseconds\n1\t1.1\t0.3\t90.5\n2\t0.9\t0.5\t89.5\n")
    (run / "done.json").write_text(json.dumps({"best_epoch": 2}))
    assert T.run_facts(tmp_path / "focal") == {"best_epoch": 2, "seconds": 180.0}


def test_unfinished_runs_are_listed_with_the_last_line_of_their_log(tmp_path):
    (tmp_path / "two_streams").mkdir()
    (tmp_path / "two_streams.log").write_text("fold 0: train 9822\nRuntimeError: can't allocate memory\n")
    (tmp_path / "silent").mkdir()
    assert T.last_error(tmp_path / "two_streams") == "RuntimeError: can't allocate memory"
    assert T.last_error(tmp_path / "silent") == "no log"
    row = {"name": "baseline", "n": 10, "acc": 0.8, "f1": 0.5, "mcc": 0.7, "ece": 0.03,
           "bench_n": None, "bench_mcc": None, "bench_f1": None, "interval": None,
           "best_epoch": None, "seconds": None}
    text = T.render([row], {}, [("two_streams", T.last_error(tmp_path / "two_streams"))])
    assert "| baseline | 10 | 0.800 | 0.500 | 0.700 | – |" in text
    assert "- two_streams: `RuntimeError: can't allocate memory`" in text
    assert "did not finish" not in T.render([row], {})
