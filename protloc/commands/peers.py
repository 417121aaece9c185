"""``protloc peers psortb FASTA --out TSV``: run PSORTb 3.0 locally into the cache ``evaluate`` reads.

The cache is keyed by sequence hash and organism group and written after every chunk, so an
interrupted run resumes and a rerun is instant. ``protloc evaluate --peers DIR`` reads
``DIR/psortb_benchmark.tsv``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TextIO

from ..errors import UserError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "peers",
        help="run other predictors (PSORTb 3.0) for comparison",
        description="Run other predictors locally and cache their answers for protloc evaluate.",
    )
    sub = p.add_subparsers(dest="peer", metavar="PEER", required=True)
    ps = sub.add_parser(
        "psortb",
        help="PSORTb 3.0 (apt-get install psortb; see docs)",
        description="Run psort -n|-p|-a (by organism group) on every protein of FASTA not yet "
        "in the cache TSV. Headers like DeepLocPro's (>ACC|Location|group) carry the group; "
        "for other FASTA files pass --group.",
    )
    ps.add_argument("fasta", type=Path, help="proteins to run")
    ps.add_argument("--out", required=True, type=Path,
                    help="cache TSV, e.g. data_build/peers/psortb_benchmark.tsv")
    ps.add_argument("--group", default=None,
                    help="organism group of every protein (negative, positive, archaea) when "
                    "the headers carry none")
    ps.add_argument("--psort", default="psort", help="psort executable (default: psort on PATH)")
    ps.add_argument("--chunk-size", type=int, default=25, help="proteins per psort call")
    ps.add_argument("--retry-errors", action="store_true",
                    help="run again the proteins cached with an error")
    ps.set_defaults(func=run_psortb)


def run_psortb(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .. import peers

    if not args.fasta.is_file():
        raise UserError(f"input file {args.fasta} does not exist")
    if args.chunk_size < 1:
        raise UserError("--chunk-size must be at least 1")
    table = peers.run_psortb(
        args.fasta,
        args.out,
        group=args.group,
        psort=args.psort,
        chunk_size=args.chunk_size,
        log=lambda message: print(message, file=stderr, flush=True),
        retry_errors=args.retry_errors,
    )
    counts = Counter(table["prediction"])
    errors = int((table["error"] != "").sum())
    summary = ", ".join(f"{name} {n}" for name, n in counts.most_common())
    print(f"{len(table)} proteins -> {args.out}: {summary}; {errors} with errors", file=stdout)
    return 0
