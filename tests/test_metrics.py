"""protloc.metrics against small hand-computed cases and synthetic calibration data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from protloc.classes import CLASSES
from protloc.metrics import calibration, evaluate_predictions, render_markdown, render_summary_table

CYT, CMEM, PERI, OMEM, EXT, CW = CLASSES

# Hand-computed case: 6 proteins, 3 classes present.
Y = [CYT, CYT, CMEM, CMEM, PERI, PERI]
P = [CYT, CMEM, CMEM, CMEM, PERI, CYT]


def test_overall_metrics_hand_computed():
    r = evaluate_predictions(Y, P)
    assert r["n"] == 6 and r["coverage"] == 1.0 and r["n_abstained"] == 0
    assert r["overall"]["accuracy"] == pytest.approx(4 / 6)
    # F1: Cytoplasmic 0.5, Cytoplasmic membrane 0.8, Periplasmic 2/3 (absent classes not averaged)
    assert r["overall"]["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # multi-class MCC = (c*s - sum t_k p_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))
    assert r["overall"]["mcc"] == pytest.approx(
        (4 * 6 - (2 * 2 + 2 * 3 + 2 * 1)) / math.sqrt((36 - 14) * (36 - 12))
    )
    assert r["abstain_as_wrong"] == r["overall"]
    assert r["calibration"] is None and r["per_fold"] is None and r["by_group"] is None


def test_per_class_and_confusion_matrix_hand_computed():
    r = evaluate_predictions(Y, P)
    rows = {row["class"]: row for row in r["per_class"]}
    assert [row["class"] for row in r["per_class"]] == list(CLASSES)
    assert (rows[CYT]["support"], rows[CYT]["n_predicted"], rows[CMEM]["n_predicted"]) == (2, 2, 3)
    assert (rows[CYT]["precision"], rows[CYT]["recall"], rows[CYT]["f1"]) == pytest.approx(
        (0.5, 0.5, 0.5)
    )
    assert (rows[CMEM]["precision"], rows[CMEM]["recall"], rows[CMEM]["f1"]) == pytest.approx(
        (2 / 3, 1.0, 0.8)
    )
    assert (rows[PERI]["precision"], rows[PERI]["recall"]) == pytest.approx((1.0, 0.5))
    # one-vs-rest MCC for Cytoplasmic: tp 1, fp 1, fn 1, tn 3 -> (3 - 1) / sqrt(2*2*4*4) = 0.25
    assert rows[CYT]["mcc"] == pytest.approx(0.25)
    assert rows[OMEM]["support"] == 0 and rows[OMEM]["f1"] == 0.0
    cm = r["confusion_matrix"]
    assert cm["labels"] == list(CLASSES) and cm["rows"] == "true"
    assert cm["matrix"][0] == [1, 1, 0, 0, 0, 0]  # true Cytoplasmic
    assert cm["matrix"][1] == [0, 2, 0, 0, 0, 0]
    assert cm["matrix"][2] == [1, 0, 1, 0, 0, 0]  # true Periplasmic, one called Cytoplasmic
    assert sum(map(sum, cm["matrix"])) == 6


def test_labels_as_indices_and_other_spellings():
    idx = [CLASSES.index(c) for c in Y]
    spelled = [
        "Cytoplasmic",
        "cytoplasm",
        "CYtoplasmicMembrane",
        "Cytoplasmic Membrane",
        "periplasm",
        "Periplasmic",
    ]
    a = evaluate_predictions(idx, P)
    b = evaluate_predictions(spelled, P)
    assert a["overall"] == b["overall"] == evaluate_predictions(Y, P)["overall"]


def test_probabilities_are_argmaxed():
    probs = np.zeros((6, 6))
    for i, c in enumerate(P):
        probs[i, CLASSES.index(c)] = 0.7
        probs[i, CLASSES.index(EXT)] = 0.3
    r = evaluate_predictions(Y, probs)
    assert r["overall"] == evaluate_predictions(Y, P)["overall"]
    assert r["calibration"]["mean_confidence"] == pytest.approx(0.7)


def test_per_fold_mean_and_sd():
    # fold 0 all right (accuracy 1), fold 1 one of three right (accuracy 1/3)
    y = [CYT, CMEM, PERI, CYT, CMEM, PERI]
    p = [CYT, CMEM, PERI, CYT, PERI, CMEM]
    r = evaluate_predictions(y, p, partitions=[0, 0, 0, 1, 1, 1])
    folds = r["per_fold"]["folds"]
    assert [f["partition"] for f in folds] == [0, 1]
    assert [f["accuracy"] for f in folds] == pytest.approx([1.0, 1 / 3])
    assert [f["n"] for f in folds] == [3, 3]
    assert r["per_fold"]["mean"]["accuracy"] == pytest.approx(2 / 3)
    assert r["per_fold"]["sd"]["accuracy"] == pytest.approx(1 / 3)  # population sd of {1, 1/3}
    assert r["per_fold"]["sd_ddof"] == 0
    assert r["per_fold"]["mean"]["mcc"] == pytest.approx(
        np.mean([folds[0]["mcc"], folds[1]["mcc"]])
    )


def test_abstentions():
    y = [CYT, CYT, CMEM, CMEM, EXT]
    p = [CYT, "Unknown", CMEM, None, CYT]
    r = evaluate_predictions(y, p, groups=["negative", "negative", "positive", "positive", None])
    assert (r["n"], r["n_answered"], r["n_abstained"]) == (5, 3, 2)
    assert r["coverage"] == pytest.approx(0.6)
    assert r["overall"]["n"] == 3
    assert r["overall"]["accuracy"] == pytest.approx(2 / 3)
    assert r["abstain_as_wrong"]["n"] == 5
    assert r["abstain_as_wrong"]["accuracy"] == pytest.approx(2 / 5)
    assert r["abstain_as_wrong"]["mcc"] < r["overall"]["mcc"]
    assert r["abstain_as_wrong"]["macro_f1"] < r["overall"]["macro_f1"]
    rows = {row["class"]: row for row in r["per_class"]}
    assert (rows[CYT]["abstained"], rows[CMEM]["abstained"], rows[EXT]["abstained"]) == (1, 1, 0)
    assert rows[CYT]["support"] == 1  # support counts answered proteins
    assert r["confusion_matrix"]["abstained_by_true_class"] == [1, 1, 0, 0, 0, 0]
    assert sum(map(sum, r["confusion_matrix"]["matrix"])) == 3
    g = r["by_group"]
    assert set(g) == {"negative", "positive", "unknown"}
    assert g["negative"]["coverage"] == pytest.approx(0.5) and g["negative"]["accuracy"] == 1.0
    assert g["unknown"]["accuracy"] == 0.0
    md = render_markdown(r, "peer")
    assert "Counting the 2 abstentions as wrong: accuracy 0.400" in md
    assert "(abstained)" in md


def test_all_abstained_is_reported_not_crashed():
    r = evaluate_predictions([CYT, CMEM], ["Unknown", "Unknown"])
    assert r["coverage"] == 0.0 and r["overall"]["accuracy"] is None
    assert r["abstain_as_wrong"]["accuracy"] == 0.0
    json.dumps(r)
    render_markdown(r)


def _calibrated(n: int, rng: np.random.Generator, overconfident: bool = False):
    """Probabilities whose top-label confidence c is right with probability c (or much less)."""
    conf = rng.uniform(0.3, 1.0, n)
    top = rng.integers(0, 6, n)
    hit_rate = conf - 0.35 if overconfident else conf
    correct = rng.uniform(size=n) < hit_rate
    probs = np.repeat(((1 - conf) / 5)[:, None], 6, axis=1)
    probs[np.arange(n), top] = conf
    other = (top + 1 + rng.integers(0, 5, n)) % 6
    labels = [CLASSES[i] for i in np.where(correct, top, other)]
    return labels, probs


def test_ece_near_zero_when_calibrated_and_positive_when_overconfident():
    rng = np.random.default_rng(0)
    labels, probs = _calibrated(30000, rng)
    good = evaluate_predictions(labels, probs)["calibration"]
    assert good["ece"] < 0.015
    labels, probs = _calibrated(30000, rng, overconfident=True)
    bad = evaluate_predictions(labels, probs)["calibration"]
    assert bad["ece"] == pytest.approx(0.35, abs=0.03)
    assert bad["n_bins"] == 15 and len(bad["bins"]) == 15
    assert sum(b["count"] for b in bad["bins"]) == 30000
    for b in bad["bins"]:
        if b["count"]:
            assert b["lower"] <= b["mean_confidence"] <= b["upper"]
            assert b["accuracy"] < b["mean_confidence"]


def test_ece_hand_computed():
    # confidences 0.9, 0.9 (one right) and 0.62, 0.62 (both right): two non-empty bins
    probs = np.full((4, 6), 0.0)
    probs[:2, 0], probs[:2, 1] = 0.9, 0.1
    probs[2:, 1], probs[2:, 0] = 0.62, 0.38
    cal = calibration(probs, [CYT, CMEM, CMEM, CMEM])
    assert cal["ece"] == pytest.approx(0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.62))
    filled = [b for b in cal["bins"] if b["count"]]
    assert [(b["count"], b["accuracy"]) for b in filled] == [(2, 1.0), (2, 0.5)]
    assert filled[0]["lower"] == pytest.approx(9 / 15) and filled[1]["lower"] == pytest.approx(
        13 / 15
    )


def test_result_is_json_and_renders():
    rng = np.random.default_rng(1)
    labels, probs = _calibrated(200, rng)
    r = evaluate_predictions(
        labels,
        probs,
        partitions=list(rng.integers(0, 5, 200)),
        groups=list(rng.choice(["negative", "positive", "archaea"], 200)),
    )
    again = json.loads(json.dumps(r))
    assert again == r
    md = render_markdown(r, "synthetic")
    for heading in (
        "## synthetic",
        "### Per fold",
        "### Per class",
        "### Confusion matrix",
        "### By organism group",
        "### Calibration",
        "mean ± sd",
    ):
        assert heading in md
    table = render_summary_table({"a": r, "b": evaluate_predictions(Y, P)})
    assert table.count("\n") == 3 and "| a | 200 |" in table


def test_bad_inputs():
    with pytest.raises(ValueError, match="2 labels but 3"):
        evaluate_predictions([CYT, CMEM], [CYT, CYT, CYT])
    with pytest.raises(ValueError, match="6 columns"):
        evaluate_predictions([CYT], np.ones((1, 4)))
    with pytest.raises(ValueError, match="not one of the 6 classes"):
        evaluate_predictions(["Nucleus"], [CYT])
    with pytest.raises(ValueError, match="partitions"):
        evaluate_predictions([CYT], [CYT], partitions=[0, 1])


def test_paired_bootstrap_interval():
    import numpy as np

    from protloc.metrics import paired_bootstrap

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    noisy = np.where(rng.random(300) < 0.5, y, rng.integers(0, 3, 300))
    assert paired_bootstrap(y, noisy, noisy, n_boot=200) == (0.0, 0.0)
    lo, hi = paired_bootstrap(y, noisy, y, n_boot=200)  # perfect vs noisy: clearly better
    assert 0 < lo < hi
    lo, hi = paired_bootstrap(y, y, noisy, n_boot=200)
    assert lo < hi < 0


def test_a_wider_bootstrap_level_gives_a_wider_interval():
    import numpy as np

    from protloc.metrics import paired_bootstrap

    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    a = np.where(rng.random(400) < 0.6, y, rng.integers(0, 3, 400))
    b = np.where(rng.random(400) < 0.65, y, rng.integers(0, 3, 400))
    lo95, hi95 = paired_bootstrap(y, a, b, n_boot=300)
    lo99, hi99 = paired_bootstrap(y, a, b, n_boot=300, level=0.99)
    assert lo99 < lo95 < hi95 < hi99
