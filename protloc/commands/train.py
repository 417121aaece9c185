"""``protloc train --data DIR --config CONFIG --out CHECKPOINT_DIR``: parse, call
:func:`protloc.experiment.train_experiment`, print."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TextIO

from ..errors import UserError


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
                   help="CPU threads for torch and for the boosting trees' OpenMP (1 is fastest "
                        "for small models; run folds in parallel processes)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from ..experiment import train_experiment

    try:
        folds = [int(k) for k in args.folds.split(",")]
    except ValueError:
        raise UserError(f"--folds must be comma-separated fold numbers, not {args.folds!r}") from None
    limit = contextlib.nullcontext()
    if args.threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        # scikit-learn's boosting uses OpenMP: two processes each taking every core slow
        # each other several-fold (a 3-minute fold took 16), so the limit covers it too.
        limit = threadpool_limits(limits=args.threads)

    def log(message: str) -> None:
        print(message, file=stderr, flush=True)

    with limit:
        train_experiment(args.data, args.config, args.out, folds, args.cache, args.device, log)
    print(f"checkpoint set written to {args.out}", file=stdout)
    return 0
