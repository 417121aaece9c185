"""protloc.trust (held-out calls, measured reliability), protloc.groups (group per record) and the
app's additions to protloc.output (Group/Model columns, compact attention)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from protloc.classes import CLASSES, COLUMN_NAMES
from protloc.evaluation import Calibration, CalibrationBin
from protloc.groups import (
    header_group,
    looks_like_table,
    predict_by_group,
    record_groups,
    table_to_fasta,
)
from protloc.output import compact_attention, csv_text, prediction_json, prediction_rows
from protloc.predictor import Prediction
from protloc.sequences import parse_text
from protloc.trust import class_reliability, heldout_call, reliability_at

SEQ = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQ"


def write_heldout(folder, rows):
    names = [COLUMN_NAMES[c] for c in CLASSES]
    table = pd.DataFrame(
        [{"id": i, "partition": p, "label": lab, **dict(zip(names, probs))} for i, p, lab, probs in rows]
    )
    table.to_csv(folder / "heldout.csv", index=False)


def test_heldout_call_finds_the_first_known_alias_and_says_if_it_was_right(tmp_path):
    right = [0.9, 0.02, 0.02, 0.02, 0.02, 0.02]
    wrong = [0.1, 0.1, 0.6, 0.1, 0.05, 0.05]
    write_heldout(tmp_path, [("P1", 0, "Cytoplasmic", right), ("gi_7", 3, "Outer membrane", wrong)])
    call = heldout_call(tmp_path, ["nope", "gi_7", "P1"])
    assert (call.id, call.label, call.prediction, call.partition) == (
        "gi_7", "Outer membrane", "Periplasmic", 3)
    assert not call.correct and call.probability == pytest.approx(0.6)
    assert heldout_call(tmp_path, ["P1"]).correct
    assert heldout_call(tmp_path, ["absent"]) is None
    assert heldout_call(tmp_path / "no_such_set", ["P1"]) is None


def _probs(k, p):
    rest = (1 - p) / 5
    return [p if j == k else rest for j in range(6)]


def test_class_reliability_reads_the_nearest_calls_of_that_class_only(tmp_path):
    om, cyt = CLASSES.index("Outer membrane"), CLASSES.index("Cytoplasmic")
    rows = [(f"c{i}", 0, "Cytoplasmic", _probs(cyt, 0.95)) for i in range(50)]  # all right
    # Outer-membrane calls: right at high confidence, wrong at low confidence
    rows += [(f"h{i}", 1, "Outer membrane", _probs(om, 0.9 + i / 1000)) for i in range(10)]
    rows += [(f"l{i}", 2, "Periplasmic", _probs(om, 0.4 + i / 1000)) for i in range(10)]
    write_heldout(tmp_path, rows)
    high = class_reliability(tmp_path, "Outer membrane", 0.93, neighbours=10)
    assert (high.count, high.right, high.total_calls) == (10, 10, 20)
    assert high.lower == pytest.approx(0.9) and high.upper == pytest.approx(0.909)
    low = class_reliability(tmp_path, "Outer membrane", 0.35, neighbours=10)
    assert (low.right, low.accuracy) == (0, 0.0)
    both = class_reliability(tmp_path, "Outer membrane", 0.6, neighbours=100)
    assert (both.count, both.right) == (20, 10)
    assert both.words().startswith("10 of all 20 held-out proteins called Outer membrane")
    assert "rough" in both.words()
    assert "with the confidence nearest" in high.words()
    assert class_reliability(tmp_path, "Cell wall & surface", 0.9) is None  # never called
    assert class_reliability(tmp_path / "no_such_set", "Cytoplasmic", 0.9) is None


class _Eval:
    def __init__(self, bins):
        self.all = type("M", (), {"calibration": Calibration(0.1, len(bins), 0.5, 0.5, bins)})()


def test_reliability_words_come_from_the_bin_holding_the_confidence():
    bins = [
        CalibrationBin(0.0, 0.5, 0, None, None),
        CalibrationBin(0.5, 0.8, 200, 0.65, 0.62),
        CalibrationBin(0.8, 1.0, 12, 0.9, 0.75),
    ]
    r = reliability_at(_Eval(bins), 0.7)
    assert (r.count, r.accuracy) == (200, 0.62)
    assert r.words().startswith("right about 6 times in 10") and "62% of the 200" in r.words()
    assert "rough" in reliability_at(_Eval(bins), 1.0).words()  # the last bin includes 1.0
    assert reliability_at(_Eval(bins), 0.2) is None  # empty bin: no claim
    assert reliability_at(None, 0.9) is None


def test_group_from_header_table_and_default():
    assert header_group("OmpA group=Gram-negative") == "negative"
    assert header_group("no group here") is None
    with pytest.raises(ValueError):
        header_group("group=plants")
    records = parse_text(f">a group=positive\n{SEQ}\n>b\n{SEQ}\n>c group=plants\n{SEQ}\n")
    groups, problems = record_groups(records, "archaea")
    assert groups == ["positive", "archaea", "archaea"]
    assert len(problems) == 1 and problems[0].startswith("c (record 3)")


def test_a_table_becomes_fasta_with_groups():
    text = "id,sequence,group\nx 1,MKKTAIAIAV,negative\ny,MSTNPKPQRK,\n\n"
    assert looks_like_table(text) and not looks_like_table(">x\nMKK")
    assert table_to_fasta(text) == ">x_1 group=negative\nMKKTAIAIAV\n>y\nMSTNPKPQRK\n"
    assert table_to_fasta("ID\tSeq\nq\tMKKTAIAIAV\n").startswith(">q\n")


class _Predictor:
    def predict(self, records, group, attention=False, progress=None):
        out = []
        for r in records:
            probs = np.full(6, 0.1)
            probs[["negative", "positive", "archaea", "unknown"].index(group)] = 0.5
            out.append(Prediction(r.id, probs, np.zeros(6), [CLASSES[0]]) if r.ok else None)
        if progress:
            progress(sum(r.ok for r in records), sum(r.ok for r in records))
        return out


def test_predict_by_group_keeps_input_order_and_counts_progress():
    records = parse_text(f">a\n{SEQ}\n>b\nACGT\n>c\n{SEQ}\n>d\n{SEQ}\n")
    seen = []
    preds = predict_by_group(_Predictor(), records, ["positive", "negative", "archaea", "positive"],
                             progress=lambda d, t: seen.append((d, t)))
    assert [p and p.localization for p in preds] == [CLASSES[1], None, CLASSES[2], CLASSES[1]]
    assert seen[-1] == (3, 3)


def test_rows_carry_group_and_model_and_json_attention_is_compact():
    records = parse_text(f">=cmd\n{SEQ}\n>bad\nACGT\n")
    att = np.random.default_rng(0).random((4, len(SEQ)))
    preds = [Prediction("=cmd", np.eye(6)[3], np.zeros(6), [CLASSES[3]], attention=att), None]
    table = prediction_rows(records, preds, ["negative", "positive"], "protloc-x")
    assert table[["Group", "Model"]].values.tolist() == [["negative", "protloc-x"], ["positive", "protloc-x"]]
    assert csv_text(table).splitlines()[1].startswith("'=cmd")
    doc = prediction_json(records, preds, "protloc-x", "per record", ["negative", "positive"], compact=True)
    assert [r["Group"] for r in doc["results"]] == ["negative", "positive"]
    stored = doc["results"][0]["Attention"]
    decoded = np.array(stored["heads"]) / 255 * np.array(stored["scale"])[:, None]
    assert np.abs(decoded - att).max() <= att.max() / 255
    long = np.random.default_rng(1).random((4, 400))
    long /= long.sum(axis=1, keepdims=True)  # like pooling weights: each head sums to 1
    full = {"heads": long.round(5).tolist(), "mean": long.mean(0).round(5).tolist()}
    assert len(json.dumps(compact_attention(long))) < len(json.dumps(full)) / 2
    plain = prediction_json(records, preds, "m", "negative")
    assert "Group" not in plain["results"][0] and "mean" in plain["results"][0]["Attention"]
