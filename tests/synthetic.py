"""Synthetic proteins whose class leaves a visible trace in the sequence, for fast tests.

Not biology: each class gets a caricature of its signal (signal peptide, hydrophobic helices,
LPXTG anchor, ...) so a tiny model can learn something in a few steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protloc.classes import CLASSES

AMINO = "ACDEFGHIKLMNPQRSTVWY"
HYDROPHOBIC = "LIVFAM"


def _random(rng: np.random.Generator, n: int, alphabet: str = AMINO) -> str:
    return "".join(rng.choice(list(alphabet), size=n))


def synthetic_protein(label: str, rng: np.random.Generator) -> str:
    length = int(rng.integers(25, 60))
    signal = "MKK" + _random(rng, 14, HYDROPHOBIC) + "AXA".replace("X", _random(rng, 1))
    body = _random(rng, length)
    if label == "Cytoplasmic":
        return "M" + body
    if label == "Cytoplasmic membrane":
        helices = "".join(_random(rng, 20, HYDROPHOBIC) + _random(rng, 8, "KRDENQ") for _ in range(2))
        return "M" + body[:15] + helices + body[15:30]
    if label == "Periplasmic":
        return signal + body
    if label == "Outer membrane":
        strands = "".join(_random(rng, 1, "VIYF") + _random(rng, 1, "TSNQ") for _ in range(14))
        return signal + strands + body[:15]
    if label == "Extracellular":
        return signal + _random(rng, length, "STGNAQ")
    if label == "Cell wall & surface":
        return signal + body + "LPETG" + _random(rng, 16, HYDROPHOBIC) + "KRKK"
    raise ValueError(label)


def synthetic_table(per_class: int = 12, seed: int = 0) -> list[dict]:
    """Rows like dataset.tsv: id, source, sequence, label, group, partition (round robin)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, label in enumerate(CLASSES):
        for i in range(per_class):
            rows.append({
                "id": f"SYN{c}_{i:03d}",
                "source": "synthetic",
                "source_id": f"SYN{c}_{i:03d}",
                "sequence": synthetic_protein(label, rng),
                "label": label,
                "group": "negative",
                "partition": i % 5,
                "in_benchmark": False,
                "flags": "",
            })
    return rows


def write_dataset(directory: Path, per_class: int = 12, seed: int = 0) -> Path:
    import pandas as pd

    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(synthetic_table(per_class, seed)).to_csv(directory / "dataset.tsv", sep="\t", index=False)
    return directory


def write_random_checkpoint(
    directory: Path, folds: int = 2, seed: int = 0, name: str = "random", **config
) -> Path:
    """A checkpoint set of untrained features-v1 models (seeded, so always the same weights).

    Builds in well under a second, unlike training; ``config`` overrides FusionConfig fields
    (a large ``head_hidden`` makes a set whose weights are big but cheap to run).
    """
    import torch

    from protloc.checkpoint import FoldEntry, Manifest, save_weights, write_manifest
    from protloc.embedders.features import FeatureEmbedder
    from protloc.model import FusionConfig, FusionModel

    settings = dict(hidden=16, cross_heads=2, lstm_hidden=8, lstm_layers=1, pool_heads=2,
                    head_hidden=8, dropout=0.0)
    model_config = FusionConfig(input_dims=[FeatureEmbedder().dim], **{**settings, **config})
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for k in range(folds):
        torch.manual_seed(seed + k)
        save_weights(FusionModel(model_config).eval(), directory / f"fold_{k}.safetensors")
        entries.append(FoldEntry(f"fold_{k}.safetensors", k, (k + 1) % 5))
    write_manifest(directory, Manifest(name, [{"id": "features-v1"}], model_config, entries))
    return directory
