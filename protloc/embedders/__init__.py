"""Per-residue embedders (ESM-2, ProstT5, hand-made features), their registry and cache.

``make_embedder(spec)`` rebuilds an embedder from the dict its ``spec()`` returned (as stored in
checkpoint manifests)::

    {"kind": "esm2", "id": "esm2_t33_650M_UR50D-L33", "model_name": "esm2_t33_650M_UR50D",
     "repr_layer": 33, "window": 1022, "overlap": 256}

A spec may also be just ``{"id": ...}`` (or the id string) for the standard ids
``features-v1``, ``<esm model>-L<layer>[-w<window>o<overlap>]``, ``ProstT5-AA`` and
``unirep-1900``, ``unirep-256``, ``unirep-64``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Mapping

from ..errors import UserError
from .base import Embedder, length_sorted_batches, pick_device
from .cache import CachedEmbedder, EmbeddingCache, default_cache_root, embed_records
from .esm2 import ESM2Embedder
from .evidence import EVIDENCE_ID, EvidenceEmbedder
from .features import FEATURES_ID, FeatureEmbedder
from .prostt5 import ProstT5Embedder
from .unirep import UniRepEmbedder

#: kind -> embedder class.
EMBEDDER_KINDS: dict[str, type[Embedder]] = {
    "features": FeatureEmbedder,
    "esm2": ESM2Embedder,
    "prostt5": ProstT5Embedder,
    "unirep": UniRepEmbedder,
    "evidence": EvidenceEmbedder,
}

#: Run-time options that never change outputs; dropped for embedders that do not take them.
RUNTIME_OPTIONS = frozenset({"device", "token_budget", "half", "max_batch"})

_ESM_ID = re.compile(r"^(?P<model_name>esm[A-Za-z0-9_]*?)-L(?P<repr_layer>\d+)(?:-w(?P<window>\d+)o(?P<overlap>\d+))?$")


def spec_from_id(embedder_id: str) -> dict[str, Any]:
    """Settings implied by a standard id (see the module docstring)."""
    if embedder_id == FEATURES_ID:
        return {"kind": "features"}
    if embedder_id.startswith(FEATURES_ID + ":"):
        return {"kind": "features", "blocks": embedder_id.split(":", 1)[1].split("+")}
    match = _ESM_ID.match(embedder_id)
    if match:
        spec: dict[str, Any] = {"kind": "esm2", "model_name": match["model_name"],
                                "repr_layer": int(match["repr_layer"])}
        if match["window"]:
            spec.update(window=int(match["window"]), overlap=int(match["overlap"]))
        return spec
    if embedder_id == EVIDENCE_ID:
        return {"kind": "evidence"}
    if re.fullmatch(r"evidence-v\d+", embedder_id):
        return {"kind": "evidence", "version": int(embedder_id.split("-v")[1])}
    if re.fullmatch(r"unirep-(1900|256|64)", embedder_id):
        return {"kind": "unirep", "size": int(embedder_id.split("-")[1])}
    if embedder_id == "ProstT5-AA":
        return {"kind": "prostt5", "model_name": "Rostlab/ProstT5"}
    raise UserError(
        f"Unknown embedder id {embedder_id!r}; give its kind ({', '.join(EMBEDDER_KINDS)}) "
        "and settings."
    )


def make_embedder(spec: Mapping[str, Any] | str, **overrides: Any) -> Embedder:
    """Build an embedder from a spec (as returned by ``Embedder.spec()``) or a standard id.

    ``overrides`` replace spec entries, e.g. ``device="cuda"`` or a machine-specific
    ``weights_path``. If the spec has an ``id``, the built embedder must have the same id
    (otherwise it would not produce the numbers the spec was recorded with): UserError.
    """
    spec = {"id": spec} if isinstance(spec, str) else dict(spec)
    wanted_id = spec.pop("id", None)
    kind = spec.pop("kind", None)
    if kind is None:
        if wanted_id is None:
            raise UserError("An embedder spec needs an 'id' or a 'kind'.")
        implied = spec_from_id(wanted_id)
        kind = implied.pop("kind")
        spec = {**implied, **spec}
    elif wanted_id is not None:  # a standard id of the same kind fills what the spec leaves out
        try:
            implied = spec_from_id(wanted_id)
        except UserError:
            implied = {}
        if implied.pop("kind", None) == kind:
            spec = {**implied, **spec}
    if kind not in EMBEDDER_KINDS:
        raise UserError(f"Unknown embedder kind {kind!r}; known: {', '.join(EMBEDDER_KINDS)}.")
    cls = EMBEDDER_KINDS[kind]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(spec) - accepted)
    if unknown:
        raise UserError(f"Unknown setting(s) {', '.join(unknown)} for a {kind} embedder.")
    for key, value in overrides.items():
        if key in accepted:
            spec[key] = value
        elif key not in RUNTIME_OPTIONS:
            raise UserError(f"Unknown setting {key} for a {kind} embedder.")
    embedder = cls(**spec)
    if wanted_id is not None and embedder.id != wanted_id:
        raise UserError(
            f"The embedder built from this spec has id {embedder.id!r}, not {wanted_id!r}: "
            "its outputs would not match."
        )
    return embedder


__all__ = [
    "EMBEDDER_KINDS",
    "CachedEmbedder",
    "ESM2Embedder",
    "EvidenceEmbedder",
    "Embedder",
    "EmbeddingCache",
    "FeatureEmbedder",
    "ProstT5Embedder",
    "UniRepEmbedder",
    "default_cache_root",
    "embed_records",
    "length_sorted_batches",
    "make_embedder",
    "pick_device",
    "spec_from_id",
]
