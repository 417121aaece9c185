"""``protloc train --data DIR --config CONFIG --out CHECKPOINT_DIR``."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import yaml

from ..classes import CLASSES
from ..embedders import make_embedder
from ..embedders.cache import CachedEmbedder, EmbeddingCache, default_cache_root
from ..errors import UserError
from ..model import FusionConfig
from ..training import FoldData, TrainConfig, train_cv

REQUIRED_COLUMNS = {"id", "sequence", "label", "partition"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="5-fold cross-validation training that writes a checkpoint set",
        description="Train one fold model per test partition (validation = test + 1 mod 5).",
    )
    p.add_argument("--data", required=True, type=Path, help="dataset folder (protloc data build)")
    p.add_argument("--config", required=True, type=Path, help="experiment config (YAML)")
    p.add_argument("--out", required=True, type=Path, help="checkpoint set folder to write")
    p.add_argument("--folds", default="0,1,2,3,4", help="test folds to train (comma-separated)")
    p.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    p.add_argument("-d", "--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is fastest for small models; run folds in parallel)")
    p.set_defaults(func=run)


def load_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from exc
    for key in ("name", "embedders", "model", "train"):
        if key not in config:
            raise UserError(f"{path}: missing section {key!r}")
    return config


def load_dataset(data_dir: Path, sources: list[str] | None = None) -> pd.DataFrame:
    path = data_dir / "dataset.tsv"
    if not path.is_file():
        raise UserError(f"{data_dir} has no dataset.tsv: run 'protloc data build --out {data_dir}'")
    table = pd.read_csv(path, sep="\t", keep_default_na=False)
    missing = REQUIRED_COLUMNS - set(table.columns)
    if missing:
        raise UserError(f"{path} lacks columns {sorted(missing)}")
    if sources:
        table = table[table["source"].isin(sources)].reset_index(drop=True)
    unknown = set(table["label"]) - set(CLASSES)
    if unknown:
        raise UserError(f"{path} has labels outside the 6 classes: {sorted(unknown)}")
    return table


def embed_table(table: pd.DataFrame, specs: list[dict], cache_dir: Path | None, log) -> FoldData:
    sequences = table["sequence"].tolist()
    per_stream = []
    for spec in specs:
        embedder = CachedEmbedder(make_embedder(spec), EmbeddingCache(cache_dir or default_cache_root()))
        arrays: list[np.ndarray] = []
        for start in range(0, len(sequences), 256):
            arrays.extend(a.astype(np.float16) for a in embedder.embed(sequences[start : start + 256]))
            log(f"embedded {len(arrays)}/{len(sequences)} with {spec['id']}")
        per_stream.append(arrays)
    labels = np.array([CLASSES.index(c) for c in table["label"]], dtype=np.int64)
    return FoldData([list(s) for s in zip(*per_stream)], labels)


def data_summary(data_dir: Path, table, config: dict[str, Any], **extra: Any):
    """The manifest's training-data summary, and which proteins may be trained on (None: all;
    else a mask from the config's ``train_sources``; test folds are never filtered)."""
    summary = {
        "dataset": str(data_dir),
        "proteins": len(table),
        "sources": sorted(set(table.get("source", []))),
        "dataset_sha256": hashlib.sha256((data_dir / "dataset.tsv").read_bytes()).hexdigest(),
        "config": config,
        **extra,
    }
    if not config.get("train_sources"):
        return summary, None
    unknown = sorted(set(config["train_sources"]) - set(table["source"]))
    if unknown:
        raise UserError(f"train_sources {unknown} are not sources of {data_dir}/dataset.tsv")
    summary["train_sources"] = sorted(config["train_sources"])
    return summary, table["source"].isin(config["train_sources"]).to_numpy()


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = load_config(args.config)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    table = load_dataset(args.data, config.get("sources"))

    def log(message: str) -> None:
        print(message, file=stderr, flush=True)

    specs = [make_embedder(s).spec() for s in config["embedders"]]
    data = embed_table(table, specs, args.cache, log)
    model_cfg = FusionConfig.from_dict(
        {**config["model"], "input_dims": [make_embedder(s).dim for s in specs]}
    )
    try:
        train_cfg = TrainConfig.from_dict(config["train"])
        folds = [int(k) for k in args.folds.split(",")]
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    summary, trainable = data_summary(args.data, table, config)
    train_cv(
        data, table["id"].tolist(), table["partition"].to_numpy(), model_cfg, train_cfg,
        args.out, specs, name=config["name"], folds=folds, data_summary=summary,
        log=log, device=args.device, trainable=trainable,
    )
    print(f"checkpoint set written to {args.out}", file=stdout)
    return 0

