"""``protloc predict``: DeepLocPro-compatible options, one output row per input record."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from .. import cluster
from ..checkpoint import read_manifest
from ..classes import canonical_group
from ..embedders.cache import CachedEmbedder
from ..errors import UserError
from ..files import prepare_output_dir
from ..output import write_predictions
from ..predictor import DEFAULT_CHECKPOINT, EnsemblePredictor, resolve_checkpoint
from ..sequences import read_fasta


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="predict localizations for the proteins in a FASTA file",
        description="Predict the subcellular localization of every protein in a FASTA file.",
    )
    p.add_argument("-f", "--fasta", required=True, type=Path, help="input FASTA file")
    p.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    p.add_argument(
        "-g",
        "--group",
        default="any",
        choices=["any", "archaea", "positive", "negative"],
        help="organism group; archaea/positive move Outer membrane and Periplasmic "
        "probability to Extracellular (DeepLocPro's rule)",
    )
    p.add_argument(
        "-m", "--model", default=str(DEFAULT_CHECKPOINT),
        help="checkpoint set folder, or the name of a shipped one (fast = the features-only model)"
    )
    p.add_argument("-d", "--device", default="cpu", choices=["cpu", "cuda", "mps"])
    p.add_argument("--format", default="csv", choices=["csv", "json"])
    p.add_argument(
        "-p", "--attention", action="store_true", help="also write per-residue attention"
    )
    p.add_argument("--cache", type=Path, default=None, help="embedding cache folder")
    p.add_argument(
        "--no-homology", action="store_true",
        help="leave out the homology vote of the nearest labelled protein in the checkpoint's "
        "reference set (faster: the search costs about 0.5 s per protein on 2 cores)",
    )
    p.add_argument(
        "--allow-external-weights",
        action="store_true",
        help="let the checkpoint's manifest load embedder weights from outside its folder "
        "(off by default: a manifest names only files inside its own folder)",
    )
    cluster.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if not args.fasta.is_file():
        raise UserError(f"input file {args.fasta} does not exist")
    args.model = resolve_checkpoint(args.model)
    if cluster.requested(args):  # sharded on Dask: protloc/cluster.py, docs/cluster.md
        return cluster.run_command(args, stdout, stderr)
    records = read_fasta(args.fasta)
    read_manifest(args.model)  # a bad model folder fails before any output folder is made
    prepare_output_dir(args.output)  # a bad output path fails before the slow part
    group = canonical_group(args.group)
    predictor = EnsemblePredictor.from_dir(
        args.model, device=args.device, cache_dir=args.cache,
        allow_external_weights=args.allow_external_weights,
    )
    if args.no_homology:
        predictor.use_homology = False
    predictions = predictor.predict(
        records, group=group, attention=args.attention, progress=_progress(stderr)
    )
    _report_damaged_cache(predictor, stderr)
    path = write_predictions(
        args.output, records, predictions, args.format, predictor.name, group, args.attention
    )
    bad = sum(not r.ok for r in records)
    print(
        f"{len(records)} records, {len(records) - bad} predicted, {bad} with errors -> {path}",
        file=stdout,
    )
    if bad == len(records):
        raise UserError(
            f"none of the {len(records)} records could be predicted; "
            f"the Error column of {path.name} says why for each"
        )
    return 0


def _report_damaged_cache(predictor: EnsemblePredictor, stderr: TextIO) -> None:
    damaged = [
        path for e in predictor.embedders if isinstance(e, CachedEmbedder) for path in e.cache.damaged
    ]
    if damaged:
        noun = "entry" if len(damaged) == 1 else "entries"
        print(f"recomputed {len(damaged)} damaged embedding cache {noun} "
              f"(first: {damaged[0]})", file=stderr)


def _progress(stderr: TextIO):
    def report(done: int, total: int) -> None:
        print(f"\rpredicted {done}/{total}", end="\n" if done == total else "", file=stderr)

    return report
