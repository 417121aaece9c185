"""The ensemble predictor: a checkpoint set's fold models averaged, with spread and attention."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .boosting import pooled_matrix, predict_raw
from .checkpoint import (
    Manifest,
    boosting_streams,
    build_fold_model,
    build_network,
    check_finite_probabilities,
    load_boosting,
    make_manifest_embedder,
    read_manifest,
)
from .classes import CLASSES, apply_group_rule, canonical_group, group_index
from .embedders import pick_device
from .embedders.base import Embedder
from .embedders.cache import CachedEmbedder, EmbeddingCache
from .errors import UserError
from .mixing import fold_temperature, mix, softmax
from .model import FusionModel, pad_batch
from . import stacking
from .neighbours import Neighbour, vote
from .sequences import SequenceRecord

#: Default checkpoint set shipped with the package source tree.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "default"

#: Short names for shipped checkpoint sets (``protloc predict -m fast``): the features-only
#: model, about 10x faster than the default and weaker (docs/model_card.md).
CHECKPOINT_ALIASES = {"fast": "offline-v2"}


def resolve_checkpoint(name: str | Path) -> Path:
    """A checkpoint set folder, or the name of one shipped beside the default (or an alias)."""
    path = Path(name)
    if path.exists():  # a folder: read_manifest says what is wrong with it, if anything
        return path
    shipped = DEFAULT_CHECKPOINT.parent / CHECKPOINT_ALIASES.get(str(name), str(name))
    if Path(str(name)).name == str(name) and (shipped / "manifest.json").is_file():
        return shipped
    names = sorted([p.name for p in available_checkpoints(DEFAULT_CHECKPOINT.parent)]
                   + list(CHECKPOINT_ALIASES))
    raise UserError(f"no checkpoint set {str(name)!r}: give a folder with a manifest.json or "
                    f"one of {', '.join(names)}")


# Padded residues per forward pass: keeps memory flat for long proteins and big batches.
TOKEN_BUDGET = 16_384
LOW_CONFIDENCE = 0.5
#: Nearest labelled proteins kept per prediction when the homology vote runs (the top one votes).
NEIGHBOURS = 5
SEARCHES_KEPT = 1_000  # searched sequences remembered by a predictor (a few hundred KB)

Progress = Callable[[int, int], None]


@dataclass
class Prediction:
    id: str
    probabilities: np.ndarray  # (6,) mean over folds, group rule applied
    spread: np.ndarray  # (6,) standard deviation over folds
    fold_predictions: list[str]
    warnings: list[str] = field(default_factory=list)
    attention: np.ndarray | None = None  # (heads, length), mean over folds
    # Nearest labelled proteins, best first, from the search behind the homology vote; None when
    # the checkpoint set does not vote (the app then searches for them itself).
    neighbours: list[Neighbour] | None = None

    @property
    def localization(self) -> str:
        return CLASSES[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    @property
    def fold_spread(self) -> float:
        """Spread across folds of the predicted class's probability."""
        return float(self.spread[int(np.argmax(self.probabilities))])

    @property
    def fold_agreement(self) -> float:
        votes = [p == self.localization for p in self.fold_predictions]
        return sum(votes) / len(votes)


class EnsemblePredictor:
    """Runs every fold model of a checkpoint set and averages calibrated probabilities."""

    def __init__(
        self,
        manifest: Manifest,
        models: list[FusionModel],
        embedders: list[Embedder],
        device: str = "cpu",
        boosters: list[list[dict] | None] | None = None,
        seed_networks: list[list[tuple[FusionModel, float]]] | None = None,
    ) -> None:
        self.manifest = manifest
        self.models = models
        self.embedders = embedders
        # Boosting trees paired with each fold model (protloc.mixing; one set per boosting
        # seed, averaged), or None per fold.
        self.boosters = boosters or [None] * len(models)
        self.directory: Path | None = None  # set by from_dir; where reference.fasta.gz lies
        self._reference = None
        self._searched: dict[tuple[str, int], list[Neighbour]] = {}
        self.temperatures = [f.temperature for f in manifest.folds]
        # More seed networks per fold (FoldEntry.members) with their temperatures; their
        # calibrated probabilities are averaged with the fold's own network.
        self.seed_networks = seed_networks or [[] for _ in models]
        # Homology votes from the shipped reference set (protloc.homology_mix), when the
        # checkpoint's cross-validation chose a weight above 0; set False to leave them out.
        self.use_homology = bool(manifest.homology.get("weight")) or \
            manifest.stacking.get("vote", "none") != "none"
        # Fold k's stacker over fusion and boosting (protloc.stacking); None: the members are
        # mixed with one weight.
        self.stackers: list[dict | None] = [None] * len(models)
        self.device = torch.device(device)
        for model in models + [m for nets in self.seed_networks for m, _ in nets]:
            model.to(self.device)

    @classmethod
    def from_dir(
        cls,
        directory: str | Path = DEFAULT_CHECKPOINT,
        device: str = "cpu",
        cache_dir: str | Path | None = None,
        embedder_overrides: dict[str, dict] | None = None,
        allow_external_weights: bool = False,
    ) -> "EnsemblePredictor":
        """Load a checkpoint set; ``embedder_overrides`` maps an embedder id to extra settings
        (a local weights path, a device) without changing what the models were trained on.
        Embedder files the manifest names must lie in ``directory`` unless
        ``allow_external_weights``."""
        directory = Path(directory)
        manifest = read_manifest(directory)
        models = [build_fold_model(manifest, fold, directory) for fold in manifest.folds]
        boosters = [load_boosting(manifest, fold, directory) for fold in manifest.folds]
        embedders = []
        device = str(pick_device(device))
        for spec in manifest.embedders:
            overrides = {"device": device, **(embedder_overrides or {}).get(spec["id"], {})}
            embedder = make_manifest_embedder(spec, directory, overrides, allow_external_weights)
            if cache_dir is not None:
                embedder = CachedEmbedder(embedder, EmbeddingCache(cache_dir))
            embedders.append(embedder)
        seed_networks = [[(build_network(manifest, name, directory), temperature)
                          for name, temperature in fold.networks()[1:]]
                         for fold in manifest.folds]
        predictor = cls(manifest, models, embedders, device=device, boosters=boosters,
                        seed_networks=seed_networks)
        predictor.stackers = load_stackers(manifest, directory)
        predictor.directory = directory
        return predictor

    @property
    def name(self) -> str:
        return self.manifest.name

    def neighbours(
        self, sequences: Sequence[str], n: int = NEIGHBOURS
    ) -> list[list[Neighbour]] | None:
        """Nearest labelled proteins of each sequence in the checkpoint's shipped reference set
        (protloc.neighbours), or None when the checkpoint has none. The top hit also votes in
        the probabilities when the manifest's homology weight is above 0."""
        from .neighbours import REFERENCE_FILE, nearest, read_reference

        if self.directory is None or not (self.directory / REFERENCE_FILE).is_file():
            return None
        if self._reference is None:
            self._reference = read_reference(self.directory / REFERENCE_FILE)
        # The app predicts the same sequence twice (with and without its organism group):
        # recent searches are kept so that the second prediction does not search again.
        found = {s: self._searched[(s, n)] for s in sequences if (s, n) in self._searched}
        todo = sorted(set(sequences) - set(found))
        if todo:
            found.update(zip(todo, nearest(todo, self._reference, n=n)))
        for sequence in todo:
            self._searched[(sequence, n)] = found[sequence]
        while len(self._searched) > SEARCHES_KEPT:  # oldest first
            self._searched.pop(next(iter(self._searched)), None)
        return [list(found[s]) for s in sequences]

    def predict(
        self,
        records: Sequence[SequenceRecord],
        group: str = "unknown",
        attention: bool = False,
        progress: Progress | None = None,
    ) -> list[Prediction | None]:
        """One result per record, in order; None for records whose status is error."""
        group = canonical_group(group)
        good = [i for i, r in enumerate(records) if r.ok]
        results: list[Prediction | None] = [None] * len(records)
        order = sorted(good, key=lambda i: len(records[i].sequence))
        done = 0
        for batch in _budget_batches(order, [len(records[i].sequence) for i in order]):
            batch_records = [records[i] for i in batch]
            for i, pred in zip(batch, self._predict_batch(batch_records, group, attention)):
                results[i] = pred
            done += len(batch)
            if progress:
                progress(done, len(good))
        return results

    @torch.inference_mode()
    def _predict_batch(
        self, records: list[SequenceRecord], group: str, attention: bool
    ) -> list[Prediction]:
        sequences = [r.sequence for r in records]
        streams, lengths, per_stream = [], None, []
        for embedder in self.embedders:
            per_stream.append([np.ascontiguousarray(a) for a in embedder.embed(sequences)])
            batch, lengths = pad_batch([torch.from_numpy(a) for a in per_stream[-1]])
            streams.append(batch.float().to(self.device))
        assert lengths is not None
        groups = torch.full((len(records),), group_index(group), device=self.device)
        pooled = None
        if any(b is not None for b in self.boosters):
            pooled = self.boosting_features(per_stream, group)
        top, found = None, None
        if self.use_homology:  # the top hit of n is the n=1 search's hit (best E-value first)
            found = self.neighbours(sequences, n=NEIGHBOURS)
            top = None if found is None else [hits[0] if hits else None for hits in found]
        fold_probs, fold_attention = [], []
        for k, (fold, booster) in enumerate(zip(self.manifest.folds, self.boosters)):
            probs, weights = self._fold_networks(k, streams, lengths, groups)
            if booster is not None and self.stackers[k] is not None:
                setting = self.manifest.stacking
                boost = self.boosting_probabilities(k, pooled)
                x = stacking.member_inputs(setting, probs, boost, [group] * len(records), top)
                stacker = self.stackers[k]
                probs = stacking.finish(stacking.apply(stacker, x), top, setting,
                                        stacker.get("top_label"))
            elif booster is not None:
                setting = self.manifest.boosting
                probs = mix(probs, self.boosting_probabilities(k, pooled), setting["weight"],
                            fold_temperature(setting, fold.test_fold))
                if top is not None:
                    probs = vote(probs, top, self.manifest.homology["weight"])
            elif top is not None:
                probs = vote(probs, top, self.manifest.homology["weight"])
            check_finite_probabilities(probs, fold, [r.id for r in records])
            fold_probs.append(apply_group_rule(probs, group))
            fold_attention.append(weights)
        stacked = np.stack(fold_probs)  # (folds, B, 6)
        mean_attention = np.mean(fold_attention, axis=0) if attention else None
        predictions = [
            self._make_prediction(r, stacked[:, j], mean_attention, j, int(lengths[j]))
            for j, r in enumerate(records)
        ]
        for j, pred in enumerate(predictions):
            pred.neighbours = None if found is None else found[j]
        return predictions

    def boosting_features(self, per_stream: list[list[np.ndarray]], group: str) -> np.ndarray:
        """Pooled features of a batch (``per_stream[i][j]``: stream i of protein j) from the
        streams the boosting trees read (manifest ``boosting.streams``; all when absent)."""
        read = boosting_streams(self.manifest)
        proteins = [[per_stream[i][j] for i in read] for j in range(len(per_stream[0]))]
        return pooled_matrix(proteins, [group_index(group)] * len(proteins))

    def boosting_probabilities(self, k: int, pooled: np.ndarray) -> np.ndarray:
        """Fold k's boosting probabilities, averaged over its boosting seeds."""
        return np.mean([softmax(predict_raw(trees, pooled)) for trees in self.boosters[k]], axis=0)

    def _fold_networks(self, k: int, streams, lengths, groups) -> tuple[np.ndarray, np.ndarray]:
        """Fold k's calibrated probabilities and attention, averaged over its seed networks."""
        networks = [(self.models[k], self.temperatures[k])] + self.seed_networks[k]
        probs, attention = [], []
        for model, temperature in networks:
            logits, weights = model(streams, lengths.to(self.device), groups)
            probs.append(torch.softmax(logits.float() / temperature, dim=-1).cpu().numpy())
            attention.append(weights.float().cpu().numpy())
        return np.mean(probs, axis=0), np.mean(attention, axis=0)

    def _make_prediction(
        self,
        record: SequenceRecord,
        probs: np.ndarray,
        attention: np.ndarray | None,
        j: int,
        length: int,
    ) -> Prediction:
        pred = Prediction(
            id=record.id,
            probabilities=probs.mean(axis=0),
            spread=probs.std(axis=0),
            fold_predictions=[CLASSES[int(k)] for k in probs.argmax(axis=1)],
            attention=None if attention is None else attention[j, :, :length].copy(),
        )
        pred.warnings = prediction_warnings(record, pred)
        return pred


def load_stackers(manifest: Manifest, directory: Path) -> list[dict | None]:
    """Each fold model's stacker arrays (protloc.stacking), or None per fold without one."""
    files = manifest.stacking.get("folds", {}) if manifest.stacking else {}
    stackers = [stacking.load(Path(directory) / files[str(f.test_fold)])
                if str(f.test_fold) in files else None for f in manifest.folds]
    if manifest.stacking and manifest.stacking.get("top_label"):
        lacking = [files[str(f.test_fold)] for f, s in zip(manifest.folds, stackers)
                   if s is not None and "top_label" not in s]
        if lacking:
            raise UserError(f"The manifest of {directory} says its stackers carry a top-label "
                            f"map, but {lacking[0]} has none: the set is incomplete.")
    return stackers


def prediction_warnings(record: SequenceRecord, pred: Prediction) -> list[str]:
    """Input alterations plus warnings about the prediction itself."""
    warnings = list(record.messages)
    if pred.fold_agreement < 1.0:
        agree = round(pred.fold_agreement * len(pred.fold_predictions))
        others = sorted({p for p in pred.fold_predictions if p != pred.localization})
        warnings.append(
            f"Fold models disagree: {agree} of {len(pred.fold_predictions)} predict "
            f"{pred.localization}; others predict {', '.join(others)}."
        )
    if pred.confidence < LOW_CONFIDENCE:
        warnings.append(f"Low confidence ({pred.confidence:.2f}): treat this call as uncertain.")
    return warnings


def _budget_batches(order: list[int], lengths: list[int]) -> list[list[int]]:
    """Split length-sorted indices into batches whose padded size stays under TOKEN_BUDGET."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index, length in zip(order, lengths):
        if current and (len(current) + 1) * length > TOKEN_BUDGET:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def available_checkpoints(root: str | Path) -> list[Path]:
    """Checkpoint set folders under ``root`` (those with a manifest), ``default`` first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = sorted(p for p in root.iterdir() if (p / "manifest.json").is_file())
    return sorted(found, key=lambda p: p.name != "default")
