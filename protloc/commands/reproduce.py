"""``protloc reproduce --data DIR --out CHECKPOINT_DIR``: the reference study's model, end to end.

A thin orchestration of the other commands' building blocks, for a machine with a GPU (and
internet, or local copies of the weights):

1. **embed** the dataset with every embedder of the config (default ``configs/paper.yaml``:
   ESM-2 650M last layer + ProstT5 encoder), one backbone at a time (the previous one is freed
   first), each with length-sorted token-budget batches and half precision on CUDA, into the
   embedding cache **in float16** (half the disk of float32; training keeps float16 in memory
   anyway). Weights are fetched by the embedders (fair-esm / Hugging Face hub caches) unless
   local paths are given. Resumable: cached sequences are skipped, and when every sequence of
   the dataset is already cached under the embedder recorded in ``OUT/reproduce.json`` the
   backbone is not even loaded.
2. **train** the fusion model of the config on 5 folds (validation = test + 1 mod 5), reading
   the embeddings from the cache (the backbones are not loaded again). Resumable per fold and
   per epoch (:func:`protloc.training.train_cv`).
3. **evaluate** the held-out predictions (``protloc evaluate``: results.json / results.md).

``OUT`` is a complete checkpoint set (manifest.json + safetensors): put it under ``checkpoints/``
(or ``$PROTLOC_CHECKPOINTS``) and the app lists it. The manifest records the embedders' specs,
including local weight paths when given, so predictions on this machine use the same backbones.
Reproduce itself never loads its manifest's embedders (it builds them from the command line), so
it needs no ``allow_external``. But a checkpoint set may name files only inside its own folder
(:func:`protloc.checkpoint.embedder_spec`), and no manifest can vouch for itself: when the weights
given lie outside ``OUT``, predicting with the set needs ``--allow-external-weights``
(``allow_external_weights=True``), which the command says at the end, naming the files.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..checkpoint import EMBEDDER_PATH_KEYS, embedder_spec
from ..classes import CLASSES
from ..embedders import EmbeddingCache, embed_records, make_embedder, pick_device, spec_from_id
from ..embedders.cache import default_cache_root
from ..errors import UserError
from ..model import FusionConfig
from ..training import FoldData, TrainConfig, train_cv
from ..experiment import data_summary, load_config, load_dataset, source_weights

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "paper.yaml"
if not DEFAULT_CONFIG.is_file():  # an installed package: the repository's configs/ from the cwd
    DEFAULT_CONFIG = Path("configs") / "paper.yaml"
STATE_FILE = "reproduce.json"
CACHE_DTYPE = "float16"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce",
        help="embed with both backbones, train 5 folds and evaluate (the reference study's model)",
        description="Embed the dataset with the config's backbones (float16 cache, resumable), "
        "train the fusion model on 5 folds from the cache and evaluate the held-out predictions. "
        "Rerunning skips finished work.",
    )
    p.add_argument("--data", required=True, type=Path, help="dataset folder (protloc data build)")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help="experiment config (default: configs/paper.yaml)")
    p.add_argument("--out", required=True, type=Path, help="checkpoint set folder to write")
    p.add_argument("--cache", type=Path, default=None,
                   help="embedding cache folder (default: $PROTLOC_CACHE or ~/.cache/protloc)")
    p.add_argument("-d", "--device", default="auto", help="auto (default), cpu, cuda, cuda:N, mps")
    p.add_argument("--folds", default="0,1,2,3,4", help="test folds to train (comma-separated)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--esm-weights", type=Path, default=None,
                   help="local fair-esm .pt file (e.g. esm2_t33_650M_UR50D.pt) instead of the hub")
    p.add_argument("--esm-model", default=None, help="fair-esm model name to fetch instead")
    p.add_argument("--prostt5-path", type=Path, default=None,
                   help="local ProstT5 folder (huggingface-cli download Rostlab/ProstT5)")
    p.add_argument("--prostt5-model", default=None, help="Hugging Face model name instead")
    p.add_argument("--token-budget", type=int, default=None,
                   help="padded tokens per embedding forward pass (default: the embedder's)")
    p.add_argument("--skip-evaluate", action="store_true", help="stop after training")
    p.set_defaults(func=run)


def embedder_request(spec: dict[str, Any] | str, args: argparse.Namespace) -> dict[str, Any]:
    """The embedder spec to build for one config entry, with the command's weight options.

    With other weights than the config names (a local file, another model name), the config's id
    (and the layer it implies) cannot hold any more: the id is then the one those weights give.
    """
    spec = {"id": spec} if isinstance(spec, str) else dict(spec)
    kind = spec.get("kind") or spec_from_id(spec["id"])["kind"]
    if kind == "esm2":
        weights = {"weights_path": args.esm_weights, "model_name": args.esm_model}
    elif kind == "prostt5":
        weights = {"local_path": args.prostt5_path, "model_name": args.prostt5_model}
    else:
        weights = {}
    weights = {k: str(v) for k, v in weights.items() if v is not None}
    if not weights:
        return spec
    implied = spec_from_id(spec["id"]) if "id" in spec else {}
    explicit = {k: v for k, v in spec.items() if k not in ("id", "kind", "model_name")}
    keep = {k: implied[k] for k in ("window", "overlap") if k in implied}
    return {"kind": kind, **keep, **explicit, **weights}


def _request_key(request: dict[str, Any]) -> str:
    return json.dumps(request, sort_keys=True)


def _read_state(out: Path) -> dict[str, Any]:
    path = out / STATE_FILE
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
    return {}


def _write_state(out: Path, state: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out / STATE_FILE)


def _free(device) -> None:
    gc.collect()
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.empty_cache()


def embed_dataset(
    sequences: list[str], requests: list[dict[str, Any]], cache: EmbeddingCache, device,
    token_budget: int | None, state: dict[str, Any], out: Path, log,
) -> list[dict[str, Any]]:
    """Fill the cache for every requested embedder; returns ``{"spec", "id", "dim"}`` per stream."""
    done = state.setdefault("embedders", {})
    built = []
    unique = list(dict.fromkeys(s for s in sequences if s))
    for request in requests:
        key = _request_key(request)
        known = done.get(key)
        if known and all(cache.contains(known["id"], s) for s in unique):
            log(f"{known['id']}: all {len(unique)} sequences already cached, backbone not loaded")
            built.append(known)
            continue
        overrides: dict[str, Any] = {"device": str(device)}
        if token_budget is not None:
            overrides["token_budget"] = token_budget
        started = time.perf_counter()
        embedder = make_embedder(request, **overrides)
        log(f"{embedder.id}: loaded on {device} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        counts = embed_records(list(enumerate(sequences)), embedder, cache, progress=True)
        seconds = time.perf_counter() - started
        residues = sum(len(s) for s in unique)
        log(f"{embedder.id}: {counts['computed']} embedded, {counts['cached']} already cached "
            f"({seconds:.1f} s)")
        entry = {"spec": embedder.spec(), "id": embedder.id, "dim": embedder.dim,
                 "seconds": round(seconds, 2), "computed": counts["computed"],
                 "residues": residues}
        done[key] = entry
        _write_state(out, state)
        built.append(entry)
        del embedder
        _free(device)
    return built


def external_files(specs: list[dict[str, Any]], out: Path) -> list[str]:
    """The files the embedder ``specs`` name outside the checkpoint folder ``out``: those that
    loading the set refuses without ``allow_external_weights`` (the same rule, applied)."""
    outside = []
    for spec in specs:
        for key in EMBEDDER_PATH_KEYS:
            if spec.get(key) is None:
                continue
            try:
                embedder_spec({key: spec[key]}, out, given={})
            except UserError:
                outside.append(str(spec[key]))
    return outside


def fold_data_from_cache(
    sequences: list[str], labels: list[str], streams: list[dict[str, Any]], cache: EmbeddingCache
) -> FoldData:
    """Per-protein float16 arrays read from the cache (no backbone needed)."""
    per_protein = []
    for seq in sequences:
        arrays = []
        for stream in streams:
            arr = cache.get(stream["id"], seq)
            if arr is None or arr.shape[1] != stream["dim"]:
                raise UserError(f"the cache {cache.root} lacks {stream['id']} for a sequence "
                                f"of {len(seq)} residues: rerun to embed it")
            arrays.append(arr.astype(np.float16))
        per_protein.append(arrays)
    return FoldData(per_protein, np.array([CLASSES.index(c) for c in labels], dtype=np.int64))


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import torch

    def log(message: str) -> None:
        print(message, file=stderr, flush=True)

    config = load_config(args.config)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        train_cfg = TrainConfig.from_dict(config["train"])
        folds = [int(k) for k in args.folds.split(",")]
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    table = load_dataset(args.data, config.get("sources"))
    if (table["sequence"] == "").any():
        raise UserError(f"{args.data}/dataset.tsv has empty sequences")
    row_weights = source_weights(table, train_cfg.source_weights)  # checked before embedding
    device = pick_device(args.device)
    cache = EmbeddingCache(args.cache or default_cache_root(), dtype=CACHE_DTYPE)
    state = _read_state(args.out)
    state["device"] = str(device)
    timings = state.setdefault("seconds", {})

    started = time.perf_counter()
    requests = [embedder_request(s, args) for s in config["embedders"]]
    sequences = table["sequence"].tolist()
    streams = embed_dataset(sequences, requests, cache, device, args.token_budget, state,
                            args.out, log)
    timings["embed"] = round(time.perf_counter() - started, 2)
    _write_state(args.out, state)

    started = time.perf_counter()
    data = fold_data_from_cache(sequences, table["label"].tolist(), streams, cache)
    data.weights = row_weights
    model_cfg = FusionConfig.from_dict(
        {**config["model"], "input_dims": [s["dim"] for s in streams]}
    )
    summary, trainable = data_summary(args.data, table, config, command="reproduce")
    log(f"training {len(folds)} fold(s) on {device}: {len(table)} proteins, "
        f"input dims {model_cfg.input_dims}")
    train_cv(
        data, table["id"].tolist(), table["partition"].to_numpy(), model_cfg, train_cfg,
        args.out, [s["spec"] for s in streams], name=config["name"], folds=folds,
        data_summary=summary, log=log, device=str(device), trainable=trainable,
    )
    timings["train"] = round(time.perf_counter() - started, 2)
    _write_state(args.out, state)
    del data
    _free(device)

    if not args.skip_evaluate:
        from . import evaluate

        started = time.perf_counter()
        evaluate.run(
            argparse.Namespace(checkpoint=args.out, data=args.data, data_dir=None, peers=None,
                               reference=None, out=None),
            stdout, stderr,
        )
        timings["evaluate"] = round(time.perf_counter() - started, 2)
        _write_state(args.out, state)
    print(f"checkpoint set written to {args.out} (put it under checkpoints/ or "
          "$PROTLOC_CHECKPOINTS to use it in the app)", file=stdout)
    outside = external_files([s["spec"] for s in streams], args.out)
    if outside:
        print(f"its embedders read weights outside {args.out} ({', '.join(outside)}): predict "
              "with it using protloc predict --allow-external-weights (in Python "
              "EnsemblePredictor.from_dir(..., allow_external_weights=True))", file=stdout)
    return 0
