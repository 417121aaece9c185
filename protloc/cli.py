"""Command-line interface: ``protloc predict | embed | data | train | evaluate | reproduce | peers``.

``main(argv, stdout, stderr)`` returns an exit code and never lets a traceback reach the user:
expected failures become one clear line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence, TextIO

from . import __version__
from .errors import UserError

# name -> (module, one-line help). Each module exposes ``add_parser(subparsers)`` and sets
# ``func(args, stdout, stderr) -> int`` on its parser. Only the module of the subcommand being
# run is imported, so ``protloc --help`` and ``--version`` never load torch or scikit-learn.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("protloc.commands.predict", "predict localizations of proteins in a FASTA file"),
    "embed": ("protloc.commands.embed", "compute per-residue embeddings into an on-disk cache"),
    "data": ("protloc.dataset.cli", "build the homology-partitioned training dataset"),
    "train": ("protloc.commands.train", "5-fold cross-validation training that writes a checkpoint set"),
    "evaluate": (
        "protloc.commands.evaluate",
        "cross-validation metrics of a checkpoint set, beside DeepLocPro and PSORTb",
    ),
    "reproduce": (
        "protloc.commands.reproduce",
        "the reference study's model end to end: weights, embeddings, training, evaluation",
    ),
    "peers": ("protloc.commands.peers", "run other predictors (PSORTb 3.0) for comparison"),
}


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; the full arguments only of the subcommand named in ``argv``."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="protloc",
        description="Predict the subcellular localization of prokaryotic proteins.",
    )
    parser.add_argument("--version", action="version", version=f"protloc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv)
    for name, (module, help_text) in SUBCOMMANDS.items():
        if name == chosen:
            importlib.import_module(module).add_parser(subparsers)
        else:  # listed in --help; never parsed, since argv does not name it
            subparsers.add_parser(name, help=help_text)
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        return int(exc.code or 0)
    func: Callable[..., int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(stdout)
        return 2
    try:
        return int(func(args, stdout, stderr) or 0)
    except UserError as exc:
        print(f"protloc {args.command}: error: {exc}", file=stderr)
        return 1
    except KeyboardInterrupt:
        print(f"protloc {args.command}: interrupted", file=stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
