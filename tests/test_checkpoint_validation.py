"""Checkpoint sets from elsewhere (issue 16, cases 4, 5 and 7): manifests are validated before
anything is built, non-finite temperatures, weights and outputs are refused, and embedder
weight paths stay inside the checkpoint folder unless the user allows otherwise."""

from __future__ import annotations

import io
import json
import math
import time
import tracemalloc
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import synthetic
from protloc import checkpoint as C
from protloc.cli import main
from protloc.errors import UserError
from protloc.predictor import EnsemblePredictor
from protloc.sequences import parse_text

PROTEIN = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"


@pytest.fixture
def ckpt(tmp_path) -> Path:
    return synthetic.write_random_checkpoint(tmp_path / "set")


def edit(directory: Path, change) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def refusal(directory: Path, **kwargs) -> str:
    with pytest.raises(UserError) as caught:
        EnsemblePredictor.from_dir(directory, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def predict_cli(tmp_path: Path, directory: Path, *extra: str) -> tuple[int, str]:
    fasta = tmp_path / "in.fasta"
    fasta.write_text(f">p\n{PROTEIN}\n")
    err = io.StringIO()
    code = main(["predict", "-f", str(fasta), "-o", str(tmp_path / "out"), "-m", str(directory),
                 *extra], stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


# ------------------------------------------------------------------ case 4: non-finite numbers


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "hot", True])
def test_bad_temperature_is_refused(ckpt, value) -> None:
    edit(ckpt, lambda m: m["folds"][1].update(temperature=value))
    message = refusal(ckpt)
    assert "folds[1].temperature" in message and "finite number above 0" in message


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(ckpt, bad) -> None:
    path = ckpt / "fold_0.safetensors"
    state = load_file(str(path))
    name = sorted(state)[3]
    state[name] = state[name].clone()
    state[name].view(-1)[0] = bad
    save_file(state, str(path))
    message = refusal(ckpt)
    assert "fold_0.safetensors" in message and "not finite" in message and name in message


def test_non_finite_outputs_are_an_error_with_non_zero_exit(ckpt, tmp_path, monkeypatch) -> None:
    predictor = EnsemblePredictor.from_dir(ckpt)
    with torch.no_grad():  # finite weights whose outputs overflow to inf, then NaN
        for p in predictor.models[0].head.parameters():
            p.fill_(3e38)
    with pytest.raises(UserError, match="fold_0.safetensors gave non-finite probabilities"):
        predictor.predict(parse_text(f">p\n{PROTEIN}\n"))
    monkeypatch.setattr(EnsemblePredictor, "from_dir", classmethod(lambda cls, *a, **k: predictor))
    code, err = predict_cli(tmp_path, ckpt)
    assert code == 1 and err.count("\n") == 1 and "non-finite" in err, err


# ------------------------------------------------------------------ case 5: manifest settings


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("hidden", 200_000, "model.config.hidden is 200000; it must be an integer from 1 to"),
        ("hidden", "16", "model.config.hidden is '16'; it must be an integer"),
        ("hidden", 15.5, "model.config.hidden is 15.5; it must be an integer"),
        ("lstm_hidden", 0, "model.config.lstm_hidden is 0"),
        ("lstm_layers", 1000, "model.config.lstm_layers is 1000"),
        ("cross_heads", 3, "model.config.hidden (16) must be divisible by cross_heads (3)"),
        ("mean_pool", "yes", "model.config.mean_pool is 'yes'; it must be true or false"),
        ("pool_heads", 5, "2 x lstm_hidden (16) must be divisible by pool_heads (5)"),
        ("dropout", 1.5, "model.config.dropout is 1.5"),
        ("dropout", float("nan"), "model.config.dropout is nan"),
        ("input_dims", [57, -1], "model.config.input_dims"),
        ("input_dims", "57", "model.config.input_dims"),
        ("n_classes", 7, "model.config.n_classes is 7"),
        ("encoder", "gru", "model.config.encoder is 'gru'; it must be 'lstm' or 'conv'"),
        ("conv_kernel", 100, "model.config.conv_kernel is 100"),
    ],
)
def test_bad_model_settings_name_the_field(ckpt, field, value, words) -> None:
    two_streams = {"input_dims": [57, 57]} if field == "cross_heads" else {}  # heads matter then
    edit(ckpt, lambda m: m["model"]["config"].update({field: value, **two_streams}))
    assert words in refusal(ckpt)


def test_a_huge_model_is_refused_before_allocating(ckpt) -> None:
    """Sizes each within bounds but a model of billions of parameters: counted on the meta
    device, refused in well under a second without allocating it."""
    edit(ckpt, lambda m: m["model"]["config"].update(hidden=8192, lstm_hidden=8192,
                                                    lstm_layers=8, head_hidden=8192))
    tracemalloc.start()
    start = time.perf_counter()
    message = refusal(ckpt)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "parameters" in message and "at most" in message
    assert seconds < 5 and peak < 50 * 2**20


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda m: m.update(folds="x"), "folds must be a non-empty list"),
        (lambda m: m.update(folds=[]), "folds must be a non-empty list"),
        (lambda m: m["folds"][0].update(weights=7), "folds[0].weights"),
        (lambda m: m["folds"][0].update(test_fold="0"), "folds[0].test_fold"),
        (lambda m: m["folds"][0].update(members={"weights": "a"}), "folds[0].members must be a list"),
        (lambda m: m["folds"][0].update(members=[7]), "folds[0].members[0] must be an object"),
        (lambda m: m["folds"][0].update(members=[{"weights": "fold_0.safetensors",
                                                  "temperature": 0}]),
         "folds[0].members[0].temperature"),
        (lambda m: m.update(boosting={"weight": 0.5, "folds": {"0": []}}),
         "boosting.folds must map test folds to a file name or a list of 1 to 10 file names"),
        (lambda m: m.update(boosting={"weight": 0.5, "folds": {"0": ["a"] * 11}}), "boosting.folds"),
        (lambda m: m.update(boosting={"weight": 0.5, "folds": {"0": "a"}, "streams": ["unirep-256"]}),
         "boosting.streams must be a list of distinct embedder ids"),
        (lambda m: m.update(model=[1]), "model must be an object"),
        (lambda m: m["model"].update(config=None), "model.config must be an object"),
        (lambda m: m.update(embedders={"id": "x"}), "embedders must be a non-empty list"),
        (lambda m: m.update(embedders=[7]), "embedders[0] must be an object"),
        (lambda m: m.update(embedders=[{"id": ["features-v1"]}]), "embedders[0].id"),
        (lambda m: m.update(name={"a": 1}), "name must be a string"),
        (lambda m: m.pop("name"), "name is missing"),
        (lambda m: m.update(classes="x"), "classes"),
        (lambda m: m.update(metrics=[1]), "metrics must be an object"),
    ],
)
def test_malformed_manifest_fields_are_named(ckpt, change, words) -> None:
    edit(ckpt, change)
    message = refusal(ckpt)
    assert message.startswith("manifest.json is incomplete or malformed: "), message
    assert words in message


def test_a_seed_network_outside_the_folder_is_refused(ckpt) -> None:
    edit(ckpt, lambda m: m["folds"][0].update(members=[{"weights": "../x.safetensors"}]))
    assert "'../x.safetensors'; it must be a plain file name" in refusal(ckpt)


def test_a_boosting_seed_outside_the_folder_is_refused(ckpt) -> None:
    edit(ckpt, lambda m: m.update(boosting={"weight": 0.5, "folds": {
        str(f["test_fold"]): ["../x.safetensors", f["weights"]] for f in m["folds"]}}))
    assert "'../x.safetensors'; it must be a plain file name" in refusal(ckpt)


def test_deeply_nested_json_is_refused(ckpt) -> None:
    original = (ckpt / "manifest.json").read_text()
    (ckpt / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in refusal(ckpt)
    (ckpt / "manifest.json").write_text(original)
    nested: object = {"x": 1}
    for _ in range(200):
        nested = {"a": nested}
    edit(ckpt, lambda m: m.update(metrics=nested))
    assert "nested too deeply" in refusal(ckpt)


def test_an_oversized_manifest_is_refused_unread(ckpt) -> None:
    (ckpt / "manifest.json").write_bytes(b" " * (C.MAX_MANIFEST_BYTES + 1))
    assert "larger than" in refusal(ckpt)


def test_a_weights_file_of_other_shapes_is_refused_before_loading(ckpt) -> None:
    save_file({"huge": torch.zeros(4_000_000)}, str(ckpt / "fold_0.safetensors"))
    message = refusal(ckpt)
    assert "fold_0.safetensors does not match the model config" in message


# ------------------------------------------------------- case 7: embedder files stay inside


def _esm_spec(path: str) -> dict:
    return {"kind": "esm2", "id": "esm2_t6_8M_UR50D-L6", "model_name": "esm2_t6_8M_UR50D",
            "repr_layer": 6, "weights_path": path}


@pytest.mark.parametrize(
    "spec",
    [
        _esm_spec("/etc/passwd"),
        _esm_spec("../elsewhere/esm2_t6_8M_UR50D.pt"),
        {"kind": "prostt5", "id": "ProstT5-AA", "local_path": "/tmp"},
    ],
)
def test_embedder_paths_outside_the_checkpoint_folder_are_refused(ckpt, spec) -> None:
    edit(ckpt, lambda m: m.update(embedders=[spec]))
    message = refusal(ckpt)
    assert "outside the checkpoint folder" in message and "--allow-external-weights" in message


def test_embedder_paths_inside_the_folder_resolve_against_it(ckpt, tmp_path, monkeypatch) -> None:
    spec = _esm_spec("weights/esm2_t6_8M_UR50D.pt")
    resolved = C.embedder_spec(spec, ckpt, given={}, allow_external=False)
    assert resolved["weights_path"] == str((ckpt / "weights/esm2_t6_8M_UR50D.pt").resolve())
    outside = _esm_spec(str(tmp_path / "esm2_t6_8M_UR50D.pt"))
    allowed = C.embedder_spec(outside, ckpt, given={}, allow_external=True)
    assert allowed["weights_path"] == outside["weights_path"]
    # a path the user gives (an override) is theirs to choose
    given = {"weights_path": "/models/esm.pt"}
    assert "weights_path" not in C.embedder_spec(outside, ckpt, given=given, allow_external=False)


def test_cli_refuses_outside_weights_unless_allowed(ckpt, tmp_path) -> None:
    edit(ckpt, lambda m: m.update(embedders=[_esm_spec(str(tmp_path / "esm.pt"))]))
    code, err = predict_cli(tmp_path, ckpt)
    assert code == 1 and "outside the checkpoint folder" in err
    code, err = predict_cli(tmp_path, ckpt, "--allow-external-weights")
    assert "outside the checkpoint folder" not in err  # now it gets as far as the file itself
    assert code == 1 and "esm.pt" in err and err.count("\n") == 1, err


def test_the_shipped_manifests_still_load() -> None:
    root = Path(__file__).resolve().parent.parent / "checkpoints"
    for manifest in sorted(root.glob("*/manifest.json")):
        loaded = C.read_manifest(manifest.parent)
        assert all(math.isfinite(f.temperature) and f.temperature > 0 for f in loaded.folds)


def test_a_fusion_weights_file_named_as_boosting_trees_is_refused(ckpt) -> None:
    edit(ckpt, lambda m: m.update(boosting={"weight": 0.5, "folds": {
        str(f["test_fold"]): f["weights"] for f in m["folds"]}}))
    message = refusal(ckpt)
    assert "cannot be used: lacks the arrays" in message and "feature_idx" in message
