"""Manifest validation: what a checkpoint set's ``manifest.json`` may hold, checked before
anything is built (split from :mod:`protloc.checkpoint`, which re-exports the public names).

Its size and JSON nesting, the type and range of every field (naming the field when one is
wrong), fold temperatures finite and above 0, boosting settings, and the model's parameter
count (counted on PyTorch's meta device, which allocates nothing).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .classes import CLASSES
from .errors import UserError
from .model import FusionConfig, FusionModel

MANIFEST = "manifest.json"
#: Largest manifest read; real ones are a few KB.
MAX_MANIFEST_BYTES = 4 * 2**20
#: Deepest JSON nesting accepted in a manifest (real ones nest 4 levels).
MAX_JSON_DEPTH = 32
#: Most parameters a checkpoint's model may have: 50 times the paper's model (8.4 M), and
#: 1.6 GB as float32 per fold.
MAX_PARAMETERS = 400_000_000
#: Integer model settings: allowed (low, high).
SIZE_LIMITS: dict[str, tuple[int, int]] = {
    "hidden": (1, 8192),
    "cross_heads": (1, 256),
    "lstm_hidden": (1, 8192),
    "lstm_layers": (1, 16),
    "pool_heads": (1, 256),
    "head_hidden": (1, 8192),
    "n_groups": (0, 64),
    "conv_kernel": (1, 63),
    "conv_layers": (1, 16),
}
#: Other integer settings a newer model config may add get these bounds.
_OTHER_INT_LIMITS = (0, 65_536)
_MAX_INPUT_DIM = 65_536
_MAX_STREAMS = 8  # concat fusion
_MAX_FOLDS = 100
_MAX_MEMBERS = 10  # seed networks per fold beyond the first


def _malformed(field_name: str, problem: str) -> UserError:
    return UserError(f"{MANIFEST} is incomplete or malformed: {field_name} {problem}")


def _require(container: dict[str, Any], key: str, where: str = "") -> Any:
    if key not in container:
        raise _malformed(f"{where}{key}", "is missing")
    return container[key]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(value: Any, name: str, low: int, high: int) -> None:
    if not _is_int(value) or not low <= value <= high:
        raise _malformed(name, f"is {value!r}; it must be an integer from {low:,} to {high:,}")


def validate_manifest_data(data: Any) -> None:
    """Check a parsed manifest before anything is built; UserError naming the first bad field."""
    if not isinstance(data, dict):
        raise _malformed("the file", "must hold a JSON object")
    if not isinstance(_require(data, "name"), str):
        raise _malformed("name", "must be a string")
    for key in ("data", "metrics"):
        if not isinstance(data.get(key, {}), dict):
            raise _malformed(key, "must be an object")
    classes = data.get("classes", list(CLASSES))
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise _malformed("classes", "must be a list of class names")
    _check_embedders(_require(data, "embedders"))
    model = _require(data, "model")
    if not isinstance(model, dict):
        raise _malformed("model", "must be an object")
    if model.get("class") != "FusionModel":
        raise UserError(f"unsupported model class {model.get('class')!r}")
    config = _require(model, "config", "model.")
    if not isinstance(config, dict):
        raise _malformed("model.config", "must be an object")
    check_model_config(config)
    _check_folds(_require(data, "folds"))
    if data.get("boosting"):
        _check_boosting(data["boosting"])
        _check_boosting_streams(data["boosting"], [e["id"] for e in data["embedders"]])
    if data.get("homology"):
        _check_homology(data["homology"])
    if data.get("stacking"):
        _check_stacking(data["stacking"], bool(data.get("boosting")))


def _check_stacking(stacking: Any, boosted: bool) -> None:
    if not isinstance(stacking, dict):
        raise _malformed("stacking", "must be an object")
    if not boosted:
        raise _malformed("stacking", "needs a boosting member: it stacks fusion and boosting")
    temperature, vote = stacking.get("temperature"), stacking.get("vote")
    if not _is_number(temperature) or not (math.isfinite(temperature) and temperature > 0):
        raise _malformed("stacking.temperature", f"is {temperature!r}; it must be a number > 0")
    if vote not in ("feature", "none") and not (_is_number(vote) and vote > 0):
        raise _malformed("stacking.vote", f"is {vote!r}; it must be 'feature', 'none' or a weight > 0")
    files = stacking.get("folds")
    if not isinstance(files, dict) or not all(isinstance(f, str) and "/" not in f and ".." not in f
                                              for f in files.values()):
        raise _malformed("stacking.folds", "must map each test fold to a file in the set")


def _check_homology(homology: Any) -> None:
    if not isinstance(homology, dict):
        raise _malformed("homology", "must be an object")
    weight = homology.get("weight")
    if not _is_number(weight) or not (math.isfinite(weight) and weight >= 0):
        raise _malformed("homology.weight", f"is {weight!r}; it must be a number >= 0")


def _check_boosting(boosting: Any) -> None:
    if not isinstance(boosting, dict):
        raise _malformed("boosting", "must be an object")
    weight, temperature = boosting.get("weight"), boosting.get("temperature", 1.0)
    if not _is_number(weight) or not 0 <= weight <= 1:
        raise _malformed("boosting.weight", f"is {weight!r}; it must be a number from 0 to 1")
    if not _is_number(temperature) or not (math.isfinite(temperature) and temperature > 0):
        raise _malformed("boosting.temperature",
                         f"is {temperature!r}; it must be a finite number above 0")
    files = boosting.get("folds")
    if not isinstance(files, dict) or not all(_file_names(v) for v in files.values()):
        raise _malformed("boosting.folds", "must map test folds to a file name or a list of "
                         f"1 to {_MAX_MEMBERS} file names")
    per_fold = boosting.get("temperatures", {})
    if not isinstance(per_fold, dict):
        raise _malformed("boosting.temperatures", "must map test folds to temperatures")
    for fold, value in per_fold.items():
        if not _is_number(value) or not (math.isfinite(value) and value > 0):
            raise _malformed(f"boosting.temperatures.{fold}",
                             f"is {value!r}; it must be a finite number above 0")


def _file_names(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and 1 <= len(value) <= _MAX_MEMBERS and \
        all(isinstance(v, str) for v in value)


def _check_boosting_streams(boosting: dict, embedder_ids: list[str]) -> None:
    streams = boosting.get("streams")
    if streams is None:
        return
    if not isinstance(streams, list) or not streams or \
            not all(isinstance(s, str) and s in embedder_ids for s in streams) or \
            len(set(streams)) != len(streams):
        raise _malformed("boosting.streams",
                         f"must be a list of distinct embedder ids from {embedder_ids}")


def _check_embedders(embedders: Any) -> None:
    if not isinstance(embedders, list) or not embedders:
        raise _malformed("embedders", "must be a non-empty list")
    for k, spec in enumerate(embedders):
        if not isinstance(spec, dict):
            raise _malformed(f"embedders[{k}]", "must be an object")
        if not isinstance(spec.get("id"), str) or not spec["id"]:
            raise _malformed(f"embedders[{k}].id", "must be a non-empty string")
        for key, value in spec.items():
            if not _plain_json(value):
                raise _malformed(f"embedders[{k}].{key}", "must be a string, number or list")


def _plain_json(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, (str, int, float, bool)) or v is None for v in value)
    return isinstance(value, (str, int, float, bool)) or value is None


def check_model_config(config: dict[str, Any]) -> None:
    """Types and ranges of the model settings, then the parameter count."""
    dims = config.get("input_dims", FusionConfig().input_dims)
    fusion = config.get("fusion", "cross")
    if fusion not in ("cross", "concat"):
        raise _malformed("model.config.fusion", f"is {fusion!r}; it must be 'cross' or 'concat'")
    encoder = config.get("encoder", "lstm")
    if encoder not in ("lstm", "conv"):
        raise _malformed("model.config.encoder", f"is {encoder!r}; it must be 'lstm' or 'conv'")
    most = 2 if fusion == "cross" else _MAX_STREAMS
    if (not isinstance(dims, list) or not 1 <= len(dims) <= most
            or not all(_is_int(d) and 1 <= d <= _MAX_INPUT_DIM for d in dims)):
        raise _malformed("model.config.input_dims", f"is {dims!r}; it must list 1 to {most} "
                         f"integers from 1 to {_MAX_INPUT_DIM:,}")
    defaults = FusionConfig()
    for name in FusionConfig.__dataclass_fields__:
        if name in config and name != "input_dims":
            _check_setting(name, config[name], getattr(defaults, name))
    settings = {**defaults.to_dict(), **config}
    if len(dims) == 2 and settings["hidden"] % settings["cross_heads"]:
        raise _malformed("model.config.hidden", f"({settings['hidden']}) must be divisible by "
                         f"cross_heads ({settings['cross_heads']})")
    if (2 * settings["lstm_hidden"]) % settings["pool_heads"]:
        raise _malformed("model.config", f"2 x lstm_hidden ({2 * settings['lstm_hidden']}) "
                         f"must be divisible by pool_heads ({settings['pool_heads']})")
    _check_parameter_count(FusionConfig.from_dict(config))


def _check_setting(name: str, value: Any, default: Any) -> None:
    where = f"model.config.{name}"
    if name == "n_classes":
        if value != len(CLASSES) or not _is_int(value):
            raise _malformed(where, f"is {value!r}; it must be {len(CLASSES)}")
    elif name == "dropout":
        if not _is_number(value) or not 0 <= value < 1:
            raise _malformed(where, f"is {value!r}; it must be a number from 0 to below 1")
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise _malformed(where, f"is {value!r}; it must be true or false")
    elif isinstance(default, int):
        _check_int(value, where, *SIZE_LIMITS.get(name, _OTHER_INT_LIMITS))
    elif isinstance(default, float):
        if not _is_number(value) or not math.isfinite(value):
            raise _malformed(where, f"is {value!r}; it must be a finite number")


def _check_parameter_count(config: FusionConfig) -> None:
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated
            count = sum(p.numel() for p in FusionModel(config).parameters())
    except (ValueError, RuntimeError, AssertionError, TypeError) as exc:
        raise _malformed("model.config", f"cannot build a model: {exc}") from None
    if count > MAX_PARAMETERS:
        raise _malformed("model.config", f"describes a model of {count:,} parameters; "
                         f"at most {MAX_PARAMETERS:,} are accepted")


def _check_folds(folds: Any) -> None:
    if not isinstance(folds, list) or not folds or len(folds) > _MAX_FOLDS:
        raise _malformed("folds", f"must be a non-empty list of at most {_MAX_FOLDS} folds")
    for k, fold in enumerate(folds):
        where = f"folds[{k}]."
        if not isinstance(fold, dict):
            raise _malformed(f"folds[{k}]", "must be an object")
        _check_network(fold, where)
        for key in ("test_fold", "val_fold"):
            _check_int(_require(fold, key, where), f"{where}{key}", 0, _MAX_FOLDS)
        members = fold.get("members", [])
        if not isinstance(members, list) or len(members) > _MAX_MEMBERS:
            raise _malformed(f"{where}members",
                             f"must be a list of at most {_MAX_MEMBERS} more networks")
        for j, member in enumerate(members):
            if not isinstance(member, dict):
                raise _malformed(f"{where}members[{j}]", "must be an object")
            _check_network(member, f"{where}members[{j}].")


def _check_network(net: dict[str, Any], where: str) -> None:
    """One network of a fold: its weight file name, temperature and validation record."""
    if not isinstance(_require(net, "weights", where), str):
        raise _malformed(f"{where}weights", "must be a file name")
    temperature = net.get("temperature", 1.0)
    if not _is_number(temperature) or not (math.isfinite(temperature) and temperature > 0):
        raise _malformed(f"{where}temperature",
                         f"is {temperature!r}; it must be a finite number above 0")
    if net.get("val_mcc") is not None and not _is_number(net["val_mcc"]):
        raise _malformed(f"{where}val_mcc", "must be a number")
    if net.get("best_epoch") is not None and not _is_int(net["best_epoch"]):
        raise _malformed(f"{where}best_epoch", "must be an integer")


def _json_depth(value: Any) -> int:
    """Nesting depth, without recursion (so a deep document cannot exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest
