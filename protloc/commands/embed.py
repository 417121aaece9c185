"""``protloc embed -f in.fasta --embedder ID --out DIR``: fill an embedding cache, resumably."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from ..embedders import EmbeddingCache, embed_records, make_embedder, spec_from_id
from ..errors import UserError
from ..sequences import read_fasta


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "embed",
        help="compute per-residue embeddings into an on-disk cache",
        description="Embed every valid record of a FASTA file; already cached sequences are "
        "skipped, so an interrupted run resumes where it stopped.",
    )
    p.add_argument("-f", "--fasta", required=True, type=Path)
    p.add_argument("--embedder", required=True, help="embedder id, e.g. features-v1, "
                   "esm2_t33_650M_UR50D-L33, ProstT5-AA")
    p.add_argument("--out", required=True, type=Path, help="cache folder")
    p.add_argument("--weights", default=None, help="local weights file (ESM-2) or folder (ProstT5)")
    p.add_argument("-d", "--device", default=None, help="cpu, cuda or mps (default: best available)")
    precision = p.add_mutually_exclusive_group()
    precision.add_argument("--float32", dest="half", action="store_false",
                           help="store float32 (default: float16, half the disk; training keeps "
                           "float16 in memory anyway)")
    precision.add_argument("--half", dest="half", action="store_true",
                           help="store float16 (the default; kept for old scripts)")
    p.set_defaults(half=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if not args.fasta.is_file():
        raise UserError(f"input file {args.fasta} does not exist")
    records = read_fasta(args.fasta)
    overrides = {"device": args.device} if args.device else {}
    if args.weights:
        kind = spec_from_id(args.embedder)["kind"]
        overrides["weights_path" if kind == "esm2" else "local_path"] = args.weights
    embedder = make_embedder(args.embedder, **overrides)
    cache = EmbeddingCache(args.out, dtype="float16" if args.half else "float32")
    good = [(r.id, r.sequence) for r in records if r.ok]
    for r in records:
        if not r.ok:
            print(f"skipped {r.id}: {' '.join(r.messages)}", file=stderr)
    counts = embed_records(good, embedder, cache, progress=True)
    print(
        f"{counts['computed']} computed, {counts['cached']} already cached, "
        f"{len(records) - len(good)} invalid -> {args.out}",
        file=stdout,
    )
    return 0
