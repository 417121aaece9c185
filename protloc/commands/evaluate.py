"""``protloc evaluate [CHECKPOINT_DIR] [--data DIR] [--data-dir DIR] [--peers DIR] [--out DIR]``:
parse, call :func:`protloc.crossval.evaluate_checkpoint`, write ``results.json`` (the
:class:`protloc.evaluation.Evaluation`) and ``results.md``, print a summary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from ..errors import UserError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="cross-validation metrics of a checkpoint set, beside DeepLocPro and PSORTb",
        description="Metrics of a checkpoint set's held-out predictions (heldout.csv), on all "
        "proteins and on the DeepLocPro benchmark proteins next to DeepLocPro, PSORTb and the "
        "reference study. Writes results.json and results.md.",
    )
    p.add_argument(
        "checkpoint",
        nargs="?",
        type=Path,
        default=None,
        metavar="CHECKPOINT_DIR",
        help="checkpoint set folder holding heldout.csv (omit to evaluate only the peers)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="dataset folder (protloc data build) whose dataset.tsv gives groups and in_benchmark",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="raw data folder with deeplocpro/ (default: $PROTLOC_DATA)",
    )
    p.add_argument(
        "--peers",
        type=Path,
        default=None,
        help="folder with cached peer predictions (psortb_benchmark.tsv); default: DATA/peers",
    )
    p.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="reference study results folder (default: $PROTLOC_REFERENCE or "
        "<parent of the data folder>/reference)",
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default: CHECKPOINT_DIR)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from ..crossval import evaluate_checkpoint, render_report
    from ..evaluation import RESULTS_FILE, save_results

    if args.checkpoint is None and args.out is None:
        raise UserError("without CHECKPOINT_DIR (peers only), --out is required")
    if args.checkpoint is not None and not args.checkpoint.is_dir():
        raise UserError(f"checkpoint folder {args.checkpoint} does not exist")
    if args.data is not None and not args.data.is_dir():
        raise UserError(f"dataset folder {args.data} does not exist")
    results = evaluate_checkpoint(
        args.checkpoint, args.data, args.data_dir, args.peers, args.reference
    )
    if args.checkpoint is None and results.benchmark is None:
        raise UserError(
            "nothing to evaluate: no checkpoint and no DeepLocPro data (--data-dir or PROTLOC_DATA)"
        )
    out = args.out or args.checkpoint
    out.mkdir(parents=True, exist_ok=True)
    save_results(results, out / RESULTS_FILE)
    (out / "results.md").write_text(render_report(results), encoding="utf-8")
    if results.all:
        o = results.all.overall
        print(
            f"all held-out proteins (n={results.all.n}): accuracy {o.accuracy:.3f}, "
            f"macro-F1 {o.macro_f1:.3f}, MCC {o.mcc:.3f}",
            file=stdout,
        )
    for name, r in (results.benchmark.predictors if results.benchmark else {}).items():
        o = r.overall
        print(
            f"benchmark {name} (n={r.n}, coverage {r.coverage:.3f}): accuracy {o.accuracy:.3f}, "
            f"macro-F1 {o.macro_f1:.3f}, MCC {o.mcc:.3f}",
            file=stdout,
        )
    for note in results.notes:
        print(f"note: {note}", file=stderr)
    print(f"wrote {out / RESULTS_FILE} and {out / 'results.md'}", file=stdout)
    return 0
