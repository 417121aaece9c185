"""Checkpoint sets: a folder with ``manifest.json`` and one safetensors weight file per fold.

Weights are only ever read with safetensors, which holds plain tensors and cannot run code;
the manifest is JSON. Nothing here unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
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

    def to_dict(self) -> dict[str, Any]:
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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        try:
            model = data["model"]
            if model.get("class") != "FusionModel":
                raise UserError(f"unsupported model class {model.get('class')!r}")
            return cls(
                name=str(data["name"]),
                version=str(data.get("version", "0")),
                description=str(data.get("description", "")),
                protloc_version=str(data.get("protloc_version", "")),
                embedders=list(data["embedders"]),
                model_config=FusionConfig.from_dict(model["config"]),
                classes=list(data.get("classes", CLASSES)),
                folds=[FoldEntry.from_dict(f) for f in data["folds"]],
                data=dict(data.get("data", {})),
                metrics=dict(data.get("metrics", {})),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"manifest.json is incomplete or malformed ({exc!r})") from exc


def write_manifest(directory: Path, manifest: Manifest) -> Path:
    path = Path(directory) / MANIFEST
    text = json.dumps(manifest.to_dict(), indent=2, sort_keys=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def read_manifest(directory: Path) -> Manifest:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise UserError(f"{directory} is not a checkpoint set: {MANIFEST} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from exc
    manifest = Manifest.from_dict(data)
    if tuple(manifest.classes) != CLASSES:
        raise UserError(f"{path}: class order {manifest.classes} differs from {list(CLASSES)}")
    if not manifest.folds:
        raise UserError(f"{path}: the checkpoint set lists no fold models")
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


def build_fold_model(manifest: Manifest, fold: FoldEntry, directory: Path) -> FusionModel:
    model = FusionModel(manifest.model_config)
    state = load_weights(weights_path(directory, fold.weights))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).splitlines()[0]
        raise UserError(f"{fold.weights} does not match the model config: {first_line}") from exc
    model.eval()
    return model


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
