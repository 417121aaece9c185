"""protloc.evaluation: results.json is exactly an Evaluation's serialisation, validated on read."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from protloc.classes import CLASSES
from protloc.evaluation import (
    PEERS_RESULTS,
    SCHEMA_VERSION,
    Evaluation,
    ResultsError,
    load_results,
    metrics_from_result,
    save_results,
)
from protloc.metrics import evaluate_predictions

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(
    [*ROOT.glob("checkpoints/*/results.json"), *ROOT.glob("docs/results/**/results.json")]
)


def test_there_are_committed_results():
    names = {p.relative_to(ROOT).as_posix() for p in COMMITTED}
    assert {"checkpoints/default/results.json", "docs/results/peers/results.json"} <= names
    assert PEERS_RESULTS in COMMITTED


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_committed_results_round_trip_exactly(path):
    data = json.loads(path.read_text(encoding="utf-8"))
    evaluation = load_results(path)
    assert evaluation.schema_version == SCHEMA_VERSION
    assert evaluation.to_dict() == data
    assert json.dumps(evaluation.to_dict(), indent=1) + "\n" == path.read_text(encoding="utf-8")


def _committed() -> dict:
    return json.loads((ROOT / "checkpoints" / "default" / "results.json").read_text())


def _error(data, tmp_path) -> str:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError) as info:
        load_results(tmp_path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_unknown_field_is_named(tmp_path):
    data = _committed()
    data["all"]["per_class"][2]["f1_score"] = 0.5
    assert "all.per_class[2].f1_score: unknown field" in _error(data, tmp_path)
    data = _committed()
    data["extra"] = 1
    assert "extra: unknown field" in _error(data, tmp_path)


def test_missing_field_is_named(tmp_path):
    data = _committed()
    del data["benchmark"]["predictors"]["DeepLocPro"]["overall"]["mcc"]
    assert "benchmark.predictors.DeepLocPro.overall.mcc: missing field" in _error(data, tmp_path)
    data = _committed()
    del data["notes"]
    assert "notes: missing field" in _error(data, tmp_path)


def test_wrong_types_and_versions_are_named(tmp_path):
    data = _committed()
    data["all"]["overall"]["accuracy"] = "high"
    assert "all.overall.accuracy: expected a number" in _error(data, tmp_path)
    data = _committed()
    data["all"]["n"] = None
    assert "all.n: must not be null" in _error(data, tmp_path)
    data = _committed()
    data["schema_version"] = 0
    assert "schema_version" in _error(data, tmp_path)
    assert "top level" in _error([1, 2], tmp_path)
    (tmp_path / "results.json").write_text("{oops")
    with pytest.raises(ResultsError, match="not valid JSON"):
        load_results(tmp_path)
    with pytest.raises(ResultsError, match="does not exist"):
        load_results(tmp_path / "nowhere")


def test_metrics_output_is_exactly_a_metrics_block(tmp_path):
    rng = np.random.default_rng(0)
    labels = [CLASSES[i % 6] for i in range(60)]
    probs = rng.dirichlet(np.ones(6), size=60)
    result = evaluate_predictions(labels, probs, partitions=[i % 3 for i in range(60)], groups=["negative"] * 60)
    metrics = metrics_from_result(result, groups_known=60)
    evaluation = Evaluation(SCHEMA_VERSION, None, None, metrics, None, None, ["a note"])
    save_results(evaluation, tmp_path / "results.json")
    back = load_results(tmp_path)
    assert back == evaluation
    assert back.all.per_fold.folds[1].partition == 1 and back.all.groups_known == 60
    assert back.all.per_class[0].name == CLASSES[0]
    assert json.loads((tmp_path / "results.json").read_text())["all"]["per_class"][0]["class"] == CLASSES[0]
    with pytest.raises(ValueError, match="unknown field"):
        metrics_from_result({**result, "typo": 1})


def test_peers_store_holds_the_reference_and_deeplocpro_figures():
    peers = load_results(PEERS_RESULTS)
    assert peers.reference_study is not None and peers.reference_study.n == 11_531
    assert "not homology partitions" in peers.reference_study.caveat
    dlp = peers.benchmark.predictors["DeepLocPro"]
    assert dlp.n == 1_131 and round(dlp.overall.mcc, 3) == 0.716
    assert copy.deepcopy(peers) == peers
