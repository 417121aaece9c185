"""An experiment: a YAML config, the dataset it trains on, the embedded inputs, and the
cross-validation run that writes a checkpoint set. ``protloc train`` and ``protloc reproduce``
call these; so do the benchmarks and scripts.

Dataset loading keeps its names and signatures (``load_dataset(data_dir, sources)``): callers
outside this module rely on them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import yaml

from .classes import CLASSES, group_index
from .embedders import make_embedder
from .embedders.cache import CachedEmbedder, EmbeddingCache, default_cache_root
from .errors import UserError
from .training import FoldData

REQUIRED_COLUMNS = {"id", "sequence", "label", "partition"}


MAX_EXTENDS = 5  # configs a chain of ``extends`` may pass through


def load_config(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML experiment config. ``extends: other.yaml`` (relative to this file) starts from
    that config and overrides it section by section: mappings merge key by key, anything else
    (a list, a number) replaces; so a variant states only what it changes."""
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise UserError(f"{path} must hold a mapping of sections, not {type(config).__name__}")
    base = config.pop("extends", None)
    if base is not None:
        if not isinstance(base, str) or len(_seen) >= MAX_EXTENDS or path.resolve() in _seen:
            raise UserError(f"{path}: extends must name one config file, without cycles, at "
                            f"most {MAX_EXTENDS} deep")
        parent = load_config(path.parent / base, _seen + (path.resolve(),))
        config = _merged(parent, config)
    if not _seen:
        for key in ("name", "embedders", "model", "train"):
            if key not in config:
                raise UserError(f"{path}: missing section {key!r}")
        _check_stacking(path, config.get("stacking"))
    return config


def _check_stacking(path: Path, section: Any) -> None:
    """A bad ``stacking`` section is named when the config is read, not after training."""
    from .stacking import check_weights

    if section is None:
        return
    if not isinstance(section, dict):
        raise UserError(f"{path}: stacking must be a mapping (e.g. {{}} or {{top_label: true}})")
    if "calibration_weights" in section:
        try:
            check_weights(section["calibration_weights"])
        except UserError as err:
            raise UserError(f"{path}: stacking: {err}") from None


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = _merged(base[key], value) if both else value
    return out


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
    groups = np.array([group_index(g) for g in table.get("group", ["unknown"] * len(table))])
    return FoldData([list(s) for s in zip(*per_stream)], labels, groups)


def source_weights(table: pd.DataFrame, weights: dict[str, float]) -> np.ndarray | None:
    """Each protein's weight in the networks' loss (``train.source_weights``): its source's
    weight, or 1; None when no source is weighted."""
    if not weights:
        return None
    unknown = sorted(set(weights) - set(table.get("source", pd.Series(dtype=str))))
    if unknown:
        raise UserError(f"train.source_weights names sources not in the dataset: {unknown}")
    return table["source"].map(weights).fillna(1.0).to_numpy(dtype=np.float32)


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


def train_experiment(
    data_dir: Path,
    config_path: Path,
    out: Path,
    folds: Sequence[int] = (0, 1, 2, 3, 4),
    cache_dir: Path | None = None,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> Path:
    """Embed the dataset with the config's embedders and train one model per test fold."""
    from .model import FusionConfig
    from .training import TrainConfig, train_cv

    config = load_config(config_path)
    table = load_dataset(data_dir, config.get("sources"))
    specs = [make_embedder(s).spec() for s in config["embedders"]]
    boosting = None if config.get("boosting") is None else dict(config["boosting"] or {})
    members = None if boosting is None else _boosting_members(boosting, [s["id"] for s in specs])
    try:
        train_cfg = TrainConfig.from_dict(config["train"])
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    row_weights = source_weights(table, train_cfg.source_weights)  # checked before embedding
    data = None if _all_done(out, folds, config) else embed_table(table, specs, cache_dir, log)
    if data is not None:
        data.weights = row_weights
    model_cfg = FusionConfig.from_dict(
        {**config["model"], "input_dims": [make_embedder(s).dim for s in specs]}
    )
    summary, trainable = data_summary(data_dir, table, config)
    ids, partitions = table["id"].tolist(), table["partition"].to_numpy()
    train_cv(
        data, ids, partitions, model_cfg, train_cfg,
        out, specs, name=config["name"], folds=list(folds), data_summary=summary,
        log=log, device=device, trainable=trainable,
    )
    if config.get("reference_set"):
        _write_reference_set(table, out)
    if boosting is not None:
        settings = boosting  # seeds and streams already taken out (members)
        calibrate_on = settings.pop("calibrate_on", None)
        calibration = None if calibrate_on is None else (
            _calibration_ids(table, calibrate_on), "validation proteins from " + ", ".join(calibrate_on))
        assembled = _add_boosting(settings, data, ids, partitions, out, folds, trainable,
                                  train_cfg, log, calibration, members)
        if assembled and config.get("homology") is not None:
            _add_homology(config["homology"] or {}, table, out, log)
        if assembled and config.get("stacking") is not None:
            _add_stacking(table, out, log, calibration, config["stacking"] or {})
    elif config.get("homology") is not None or config.get("stacking") is not None:
        raise UserError("homology mixing and stacking are fitted on the boosting member: "
                        "add a boosting section")
    return out


def _all_done(out: Path, folds: Sequence[int], config: dict[str, Any]) -> bool:
    """Every requested fold (and its boosting member) already trained: the run only assembles
    the checkpoint set, so the embeddings need not be loaded."""
    names = ["done.json"] + (["boost_heldout.csv"] if config.get("boosting") is not None else [])
    return all((out / "runs" / f"fold_{k}" / name).exists() for k in folds for name in names)


def _write_reference_set(table: pd.DataFrame, out: Path) -> None:
    """Proteins of redistributable sources, shipped for homology evidence (protloc.neighbours)."""
    from .neighbours import REDISTRIBUTABLE, REFERENCE_FILE, write_reference

    rows = table[table["source"].isin(REDISTRIBUTABLE)]
    write_reference(out / REFERENCE_FILE, rows["id"], rows["label"], rows["source"],
                    rows["sequence"])


def _calibration_ids(table: pd.DataFrame, sources: list[str]) -> set[str]:
    unknown = sorted(set(sources) - set(table["source"]))
    if unknown:
        raise UserError(f"boosting.calibrate_on names sources not in the dataset: {unknown}")
    return set(table.loc[table["source"].isin(sources), "id"])


def _boosting_members(settings: dict[str, Any], stream_ids: list[str]) -> dict[str, Any]:
    """``seeds`` (trees per fold, averaged) and ``streams`` (the embedder ids the trees read)
    taken out of the boosting settings, checked."""
    seeds = settings.pop("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 10:
        raise UserError(f"boosting.seeds must be a whole number from 1 to 10, not {seeds!r}")
    streams = settings.pop("streams", None)
    if streams is None:
        return {"seeds": seeds, "streams": None, "index": None}
    if not isinstance(streams, list) or not streams or len(set(map(str, streams))) != len(streams):
        raise UserError("boosting.streams must be a non-empty list of distinct embedder ids")
    unknown = [s for s in streams if s not in stream_ids]
    if unknown:
        raise UserError(f"boosting.streams names embedders the config does not have: {unknown}; "
                        f"it has {stream_ids}")
    index = sorted(stream_ids.index(s) for s in streams)  # the trees read them in config order
    return {"seeds": seeds, "streams": [stream_ids[i] for i in index], "index": index}


def _add_boosting(settings, data, ids, partitions, out, folds, trainable, train_cfg, log,
                  calibration=None, members=None):
    """The gradient-boosting member (protloc.mixing): trees for the folds trained here; the
    mixing weight and temperature once every fold has its trees."""
    from .checkpoint import read_manifest, write_manifest
    from .mixing import choose_mix, train_boosting

    members = members or {"seeds": 1, "streams": None, "index": None}
    train_boosting(data, ids, partitions, out, folds, trainable, settings,
                   train_cfg.group_dropout, train_cfg.seed, log, seeds=members["seeds"],
                   streams=members["index"])
    all_folds = range(5)
    if all((out / "runs" / f"fold_{k}" / "boost_heldout.csv").exists() for k in all_folds) and \
            (out / "manifest.json").exists() and len(folds) == 5:
        manifest = read_manifest(out)
        manifest.boosting = choose_mix(out, all_folds, *(calibration or (None, "")),
                                       seeds=members["seeds"])
        if members["streams"] is not None:
            manifest.boosting["streams"] = members["streams"]
        write_manifest(out, manifest)
        log(f"boosting weight {manifest.boosting['weight']}, "
            f"mix temperature {manifest.boosting['temperature']} (validation folds)")
        return True
    return False


def _add_stacking(table: pd.DataFrame, out: Path, log, calibration=None,
                  options: dict[str, Any] | None = None) -> None:
    """A stacker over the members (protloc.stacking), chosen on validation rows; calibrated on
    the same proteins as the boosting mix. ``options``, the config's ``stacking`` section:
    ``top_label: true`` adds a top-label map after the temperature; ``calibration_weights:
    [1, 2, 3, 4]`` lets the calibration rows count more in the stacker's fit, the weight chosen
    on those rows."""
    from .checkpoint import read_manifest, write_manifest
    from .stacking import fit_stage

    options = options or {}
    manifest = read_manifest(out)
    manifest.stacking = fit_stage(out, table.astype({"partition": int}),
                                  *(calibration or (None, "")), log=log,
                                  top_label=bool(options.get("top_label", False)),
                                  calibration_weights=options.get("calibration_weights", (1.0,)))
    write_manifest(out, manifest)


def _add_homology(settings: dict[str, Any], table: pd.DataFrame, out: Path, log) -> None:
    """Homology votes (protloc.homology_mix): weight chosen on validation folds, searches in each
    fold model's own training folds; needs the shipped reference set."""
    from .checkpoint import read_manifest, write_manifest
    from .homology_mix import add_homology
    from .neighbours import REFERENCE_FILE

    if not (out / REFERENCE_FILE).is_file():
        raise UserError("homology mixing needs the reference set: set reference_set: true")
    manifest = read_manifest(out)
    manifest.homology = add_homology(out, table, threads=int(settings.get("threads", 1)), log=log)
    write_manifest(out, manifest)
