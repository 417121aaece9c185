"""``protloc data build``: the dataset subcommand (registered by :mod:`protloc.cli`)."""

from __future__ import annotations

import argparse
import os
from typing import TextIO

from ..errors import UserError
from . import sources as S


def add_parser(subparsers) -> argparse.ArgumentParser:
    data = subparsers.add_parser(
        "data", help="build the homology-partitioned training dataset",
        description="Training data commands.",
    )
    data_sub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    data.set_defaults(func=_no_subcommand(data))

    b = data_sub.add_parser(
        "build",
        help="parse all sources, deduplicate, partition by homology (MMseqs2), write DIR",
        description=(
            "Build dataset.tsv, dataset.fasta, removed.tsv and datasheet.md in --out. "
            "Sources are read from --data-dir or $PROTLOC_DATA (a folder with deeplocpro/ and "
            "extra/). Needs the mmseqs binary (apt-get install mmseqs2)."
        ),
    )
    b.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    b.add_argument("--data-dir", metavar="PATH", default=None,
                   help="data folder (default: $PROTLOC_DATA)")
    b.add_argument("--sources", nargs="+", metavar="NAME", default=None,
                   help="sources to use (default: all): " + ", ".join(sorted(S.SOURCE_ALIASES)))
    b.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                   help="MMseqs2 threads (results do not depend on it; default: %(default)s)")
    b.add_argument("--threshold", type=float, default=0.30,
                   help="homology identity threshold (default: %(default)s)")
    b.add_argument("--cache-dir", metavar="PATH", default=None,
                   help="cache for alignment results (default: $PROTLOC_CACHE/dataset or ~/.cache/protloc/dataset)")
    b.add_argument("--psortb-deb", metavar="FILE", default=None,
                   help="use the PSORTb database from this Debian package (psortb_*.deb)")
    b.add_argument("--no-fetch-psortb", action="store_true",
                   help="never run 'apt-get download psortb' when DATA/extra/psortb_sclblast/ is absent")
    b.add_argument("--mmseqs", metavar="PATH", default=None, help="mmseqs binary (default: on PATH)")
    b.add_argument("--sensitivity", type=float, default=7.5, help="mmseqs search -s (default: %(default)s)")
    b.add_argument("--max-seqs", type=int, default=300, help="mmseqs search --max-seqs (default: %(default)s)")
    b.set_defaults(func=run_build)
    return data


def _no_subcommand(parser: argparse.ArgumentParser):
    def func(args, stdout: TextIO, stderr: TextIO) -> int:
        parser.print_help(stdout)
        return 2
    return func


def run_build(args, stdout: TextIO, stderr: TextIO) -> int:
    from .build import build_dataset
    from .homology import SearchParams

    if not 0.0 < args.threshold <= 1.0:
        raise UserError("--threshold must be in (0, 1].")
    if args.threads < 1:
        raise UserError("--threads must be at least 1.")
    params = SearchParams(sensitivity=args.sensitivity, max_seqs=args.max_seqs, min_identity=args.threshold)

    def log(msg: str) -> None:
        print(msg, file=stderr, flush=True)

    res = build_dataset(
        args.out, data_dir=args.data_dir, sources=args.sources, threads=args.threads,
        cache_dir=args.cache_dir, threshold=args.threshold, params=params,
        psortb_deb=args.psortb_deb, fetch_psortb=not args.no_fetch_psortb, mmseqs=args.mmseqs, log=log,
    )
    ds = res.dataset
    print(f"{len(ds)} proteins written to {args.out} "
          f"(partitions: {', '.join(f'{p}:{n}' for p, n in sorted(ds['partition'].value_counts().items()))})",
          file=stdout)
    if not res.check_passed:
        raise UserError(
            f"cross-partition check FAILED: {len(res.violations)} pair(s) at or above "
            f"{args.threshold:.0%} identity in different partitions (see datasheet.md)."
        )
    print("cross-partition check passed", file=stdout)
    return 0
