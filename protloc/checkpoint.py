"""Checkpoint sets: a folder with ``manifest.json`` and one safetensors weight file per fold.

Weights are only ever read with safetensors, which holds plain tensors and cannot run code;
the manifest is JSON. Nothing here unpickles anything.

A checkpoint set may come from anyone, so before anything is built the manifest is checked
(:mod:`protloc.manifest_checks`): its size and JSON nesting, the type and range of every field
(naming the field when one is wrong), fold temperatures finite and above 0, and the model's
parameter count (counted on PyTorch's meta device, which allocates nothing). Weight files must match the model's shapes
before they are read, and hold only finite numbers. Files the manifest names (fold weights,
an embedder's ``weights_path`` or ``local_path``) must lie inside the checkpoint folder;
for embedder files ``allow_external=True`` (CLI ``--allow-external-weights``) lifts that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .boosting import check_trees, pooled_width, projected_width
from .classes import CLASSES
from .errors import UserError
from .manifest_checks import (  # noqa: F401 (MAX_*, SIZE_LIMITS: public, imported from here)
    MANIFEST,
    MAX_JSON_DEPTH,
    MAX_MANIFEST_BYTES,
    MAX_PARAMETERS,
    SIZE_LIMITS,
    _json_depth,
    check_model_config,
    validate_manifest_data,
)
from .model import FusionConfig, FusionModel

FORMAT_VERSION = 1


@dataclass
class FoldEntry:
    weights: str
    test_fold: int
    val_fold: int
    temperature: float = 1.0
    val_mcc: float | None = None
    best_epoch: int | None = None
    # More networks for the same test fold, trained with other seeds (a seed ensemble, config
    # ``train.seeds``): each {"weights", "temperature", "val_mcc", "best_epoch", "seed"}; their
    # calibrated probabilities are averaged with this entry's network. Empty: one network.
    members: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FoldEntry":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["members"] = [dict(m) for m in known.get("members", [])]
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        """As JSON; without ``members`` for a single network (manifests as before seeds)."""
        return {k: v for k, v in vars(self).items() if k != "members" or v}

    def networks(self) -> list[tuple[str, float]]:
        """(weight file, temperature) of every network of this fold, the entry's own first."""
        extra = [(m["weights"], float(m.get("temperature", 1.0))) for m in self.members]
        return [(self.weights, self.temperature)] + extra


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
    # {test fold: file, or a list of files (seeds, averaged)}, optionally "streams": [embedder
    # id, ...] the trees read (all when absent)}; empty for fusion-only sets.
    boosting: dict[str, Any] = field(default_factory=dict)
    # Optional homology votes (protloc.homology_mix): {"weight", "sources", ...}; empty: none.
    homology: dict[str, Any] = field(default_factory=dict)
    # Optional stacker over the members (protloc.stacking): {"by_group", "vote", "c",
    # "temperature", "folds": {test fold: file}, ...}; empty: the members are mixed as above.
    stacking: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        extra = {"boosting": self.boosting} if self.boosting else {}
        if self.homology:
            extra["homology"] = self.homology
        if self.stacking:
            extra["stacking"] = self.stacking
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "protloc_version": self.protloc_version,
            "embedders": self.embedders,
            "model": {"class": "FusionModel", "config": self.model_config.to_dict()},
            "classes": self.classes,
            "folds": [f.to_dict() for f in self.folds],
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
            homology=dict(data.get("homology", {})),
            stacking=dict(data.get("stacking", {})),
        )


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


def load_boosting(manifest: Manifest, fold: FoldEntry, directory: Path) -> list[dict] | None:
    """The boosting trees paired with a fold model (plain arrays, safetensors; one set per
    boosting seed, their probabilities averaged), or None."""
    if not manifest.boosting:
        return None
    from safetensors.numpy import load_file as load_arrays

    names = manifest.boosting["folds"].get(str(fold.test_fold))
    if names is None:
        raise _malformed("boosting.folds", f"has no file for test fold {fold.test_fold}")
    trees = []
    for name in [names] if isinstance(names, str) else names:
        path = weights_path(directory, name)
        if path.suffix != ".safetensors" or not path.is_file():
            raise UserError(f"boosting file {name} is missing or not a .safetensors file")
        try:
            arrays = load_arrays(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"{name} is not a valid safetensors file ({exc})") from exc
        try:
            check_trees(arrays, _boosting_width(manifest), len(CLASSES))
        except ValueError as exc:
            raise UserError(f"boosting file {name} cannot be used: {exc}") from exc
        if projected_width(arrays):  # scripts/pooled_state_trees.py: measured, not served yet
            raise UserError(f"boosting file {name} reads projected protein states, which this "
                            "version's predictor does not compute")
        trees.append(arrays)
    return trees


def boosting_streams(manifest: Manifest) -> list[int]:
    """Indices of the streams the boosting trees read (``boosting.streams``; all when absent),
    in the manifest's embedder order, as training pooled them."""
    names = manifest.boosting.get("streams")
    return [i for i, spec in enumerate(manifest.embedders) if names is None or spec["id"] in names]


def _boosting_width(manifest: Manifest) -> int:
    """Pooled features the boosting trees are given (stream widths from the model config)."""
    dims = manifest.model_config.input_dims
    return pooled_width([dims[i] for i in boosting_streams(manifest)])


def build_fold_model(manifest: Manifest, fold: FoldEntry, directory: Path) -> FusionModel:
    """The fold's own network (its first, when it has several seeds)."""
    return build_network(manifest, fold.weights, directory)


def build_network(manifest: Manifest, weights: str, directory: Path) -> FusionModel:
    model = FusionModel(manifest.model_config)
    path = weights_path(directory, weights)
    _check_weight_shapes(path, model)
    state = load_weights(path)
    _check_finite_weights(weights, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).splitlines()[0]
        raise UserError(f"{weights} does not match the model config: {first_line}") from exc
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


