"""Checkpoint sets: a folder with ``manifest.json`` and one safetensors weight file per fold.

Weights are only ever read with safetensors, which holds plain tensors and cannot run code;
the manifest is JSON. Nothing here unpickles anything.

A checkpoint set may come from anyone, so before anything is built the manifest is checked:
its size and JSON nesting, the type and range of every field (naming the field when one is
wrong), fold temperatures finite and above 0, and the model's parameter count (counted on
PyTorch's meta device, which allocates nothing). Weight files must match the model's shapes
before they are read, and hold only finite numbers. Files the manifest names (fold weights,
an embedder's ``weights_path`` or ``local_path``) must lie inside the checkpoint folder;
for embedder files ``allow_external=True`` (CLI ``--allow-external-weights``) lifts that.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .classes import CLASSES
from .errors import UserError
from .model import FusionConfig, FusionModel

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
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
}
#: Other integer settings a newer model config may add get these bounds.
_OTHER_INT_LIMITS = (0, 65_536)
_MAX_INPUT_DIM = 65_536
_MAX_STREAMS = 8  # concat fusion
_MAX_FOLDS = 100


@dataclass
class FoldEntry:
    weights: str
    test_fold: int
    val_fold: int
    temperature: float = 1.0
    val_mcc: float | None = None
    best_epoch: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FoldEntry":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Manifest:
    name: str
    embedders: list[dict[str, Any]]
    model_config: FusionConfig
    folds: list[FoldEntry]
    classes: list[str] = field(default_factory=lambda: list(CLASSES))
    version: str = "0"
    description: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    protloc_version: str = __version__
    # Optional gradient-boosting member (protloc.mixing): {"weight", "temperature", "folds":
    # {test fold: file}}; empty for fusion-only sets.
    boosting: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        extra = {"boosting": self.boosting} if self.boosting else {}
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "protloc_version": self.protloc_version,
            "embedders": self.embedders,
            "model": {"class": "FusionModel", "config": self.model_config.to_dict()},
            "classes": self.classes,
            "folds": [vars(f) for f in self.folds],
            "data": self.data,
            "metrics": self.metrics,
            **extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        """Build from parsed JSON, which :func:`validate_manifest_data` checks first."""
        validate_manifest_data(data)
        model = data["model"]
        return cls(
            name=data["name"],
            version=str(data.get("version", "0")),
            description=str(data.get("description", "")),
            protloc_version=str(data.get("protloc_version", "")),
            embedders=[dict(e) for e in data["embedders"]],
            model_config=FusionConfig.from_dict(model["config"]),
            classes=list(data.get("classes", CLASSES)),
            folds=[FoldEntry.from_dict(f) for f in data["folds"]],
            data=dict(data.get("data", {})),
            metrics=dict(data.get("metrics", {})),
            boosting=dict(data.get("boosting", {})),
        )


# ------------------------------------------------------------------- manifest validation


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
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise _malformed("boosting.folds", "must map test folds to file names")


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
        if not isinstance(_require(fold, "weights", where), str):
            raise _malformed(f"{where}weights", "must be a file name")
        for key in ("test_fold", "val_fold"):
            _check_int(_require(fold, key, where), f"{where}{key}", 0, _MAX_FOLDS)
        temperature = fold.get("temperature", 1.0)
        if not _is_number(temperature) or not (math.isfinite(temperature) and temperature > 0):
            raise _malformed(f"{where}temperature",
                             f"is {temperature!r}; it must be a finite number above 0")
        if fold.get("val_mcc") is not None and not _is_number(fold["val_mcc"]):
            raise _malformed(f"{where}val_mcc", "must be a number")
        if fold.get("best_epoch") is not None and not _is_int(fold["best_epoch"]):
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


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    path = Path(directory) / MANIFEST
    text = json.dumps(manifest.to_dict(), indent=2, sort_keys=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def read_manifest(directory: Path) -> Manifest:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise UserError(f"{directory} is not a checkpoint set: {MANIFEST} is missing")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise UserError(f"{path} is larger than {MAX_MANIFEST_BYTES // 2**20} MiB; "
                        "a manifest is a few KB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        data = None
    if data is None or _json_depth(data) > MAX_JSON_DEPTH:
        raise UserError(f"{path} is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    manifest = Manifest.from_dict(data)
    if tuple(manifest.classes) != CLASSES:
        raise UserError(f"{path}: class order {manifest.classes} differs from {list(CLASSES)}")
    return manifest


def save_weights(model: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"protloc_version": __version__})


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict from safetensors; any other format is refused, never unpickled."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise UserError(
            f"refusing to load {path.name}: only .safetensors weight files are accepted "
            "(pickle-based .pt/.pth/.bin files can run code when loaded)"
        )
    if not path.is_file():
        raise UserError(f"weight file {path} is missing")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        if _looks_pickled(path):
            raise UserError(
                f"refusing to load {path.name}: it is a pickle-based PyTorch file renamed "
                ".safetensors (pickles can run code when loaded); only real safetensors "
                "weight files are accepted"
            ) from None
        raise UserError(f"{path.name} is not a valid safetensors file ({exc})") from exc


# torch.save writes a zip archive; plain pickles start with the PROTO opcode (0x80) and a
# protocol number. Only consulted after safetensors has refused the file, so a safetensors
# header length that happens to start with these bytes is never misread.
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOLS = range(2, 6)


def _looks_pickled(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4)
    pickled = len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS
    return pickled or head == _ZIP_MAGIC


def weights_path(directory: Path, name: str) -> Path:
    """The weight file ``name`` of a manifest, which must be a plain file name in ``directory``:
    a manifest from elsewhere must not make protloc read files outside its checkpoint set."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise UserError(
            f"{MANIFEST} lists the weight file {name!r}; it must be a plain file name inside "
            f"the checkpoint folder {Path(directory).name}/, not a path"
        )
    return Path(directory) / name


def load_boosting(manifest: Manifest, fold: FoldEntry, directory: Path) -> dict | None:
    """The boosting trees paired with a fold model (plain arrays, safetensors), or None."""
    if not manifest.boosting:
        return None
    from safetensors.numpy import load_file as load_arrays

    name = manifest.boosting["folds"].get(str(fold.test_fold))
    if name is None:
        raise _malformed("boosting.folds", f"has no file for test fold {fold.test_fold}")
    path = weights_path(directory, name)
    if path.suffix != ".safetensors" or not path.is_file():
        raise UserError(f"boosting file {name} is missing or not a .safetensors file")
    try:
        return load_arrays(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{name} is not a valid safetensors file ({exc})") from exc


def build_fold_model(manifest: Manifest, fold: FoldEntry, directory: Path) -> FusionModel:
    model = FusionModel(manifest.model_config)
    path = weights_path(directory, fold.weights)
    _check_weight_shapes(path, model)
    state = load_weights(path)
    _check_finite_weights(fold.weights, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).splitlines()[0]
        raise UserError(f"{fold.weights} does not match the model config: {first_line}") from exc
    model.eval()
    return model


def _check_weight_shapes(path: Path, model: torch.nn.Module) -> None:
    """Compare the file's tensor names and shapes with the model's, reading only the header,
    so a file of other (or huge) tensors is refused before it is loaded."""
    from safetensors import safe_open

    if path.suffix != ".safetensors" or not path.is_file():
        return  # load_weights gives the message
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {key: list(handle.get_slice(key).get_shape()) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError):
        return  # load_weights tells a pickle from a damaged file
    expected = {key: list(t.shape) for key, t in model.state_dict().items()}
    if shapes == expected:
        return
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    wrong = sorted(k for k in set(shapes) & set(expected) if shapes[k] != expected[k])
    detail = (f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
              if unexpected else f"{wrong[0]!r} has shape {shapes[wrong[0]]}, "
              f"expected {expected[wrong[0]]}")
    raise UserError(f"{path.name} does not match the model config: {detail}")


def _check_finite_weights(name: str, state: dict[str, torch.Tensor]) -> None:
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserError(f"{name} is damaged: its weights {key!r} are not finite "
                            "(NaN or infinity); retrain or restore the file")


def check_finite_probabilities(probabilities: Any, fold: FoldEntry, ids: list[str]) -> None:
    """Model outputs must be finite; a NaN or infinity means a damaged model or embedding."""
    import numpy as np

    bad = ~np.isfinite(np.asarray(probabilities)).all(axis=-1)
    if bad.any():
        first = ids[int(np.argmax(bad))]
        raise UserError(f"{fold.weights} gave non-finite probabilities (NaN or infinity) for "
                        f"{int(bad.sum())} protein(s), first {first!r}; the model or its "
                        "embeddings are damaged, so nothing was written")


#: Embedder settings that name files or folders.
EMBEDDER_PATH_KEYS = ("weights_path", "local_path")


def embedder_spec(
    spec: dict[str, Any], directory: Path, given: dict[str, Any], allow_external: bool = False
) -> dict[str, Any]:
    """A manifest's embedder spec with its file settings resolved against the checkpoint
    folder, which they must not leave unless ``allow_external``. Settings in ``given`` (the
    user's own overrides) are dropped from the spec: they replace it and are not checked."""
    folder = Path(directory).resolve()
    resolved = {k: v for k, v in spec.items() if k not in given}
    for key in EMBEDDER_PATH_KEYS:
        value = resolved.get(key)
        if value is None:
            continue
        path = (folder / Path(str(value)).expanduser()).resolve()  # absolute stays absolute
        if not allow_external and not path.is_relative_to(folder):
            raise UserError(
                f"{MANIFEST} embedder {spec.get('id')!r} names {key} {value!r}, outside the "
                f"checkpoint folder {folder.name}/; move the file into that folder, or pass "
                "--allow-external-weights (allow_external=True) if you trust this checkpoint"
            )
        resolved[key] = str(path)
    return resolved


def make_manifest_embedder(
    spec: dict[str, Any], directory: Path, overrides: dict[str, Any], allow_external: bool
):
    """Build one of the manifest's embedders (see :func:`embedder_spec`); a spec the embedder
    cannot take is a UserError naming it."""
    from .embedders import make_embedder

    given = {k: v for k, v in overrides.items() if k in EMBEDDER_PATH_KEYS}
    resolved = embedder_spec(spec, directory, given, allow_external)
    try:
        return make_embedder(resolved, **overrides)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise UserError(f"{MANIFEST} embedder {spec.get('id')!r} has settings it cannot "
                        f"take: {exc}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
