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

# Each subcommand module exposes ``add_parser(subparsers)`` and sets ``func`` on its parser:
# ``func(args, stdout, stderr) -> int``.
_SUBCOMMAND_MODULES = (
    "protloc.commands.predict",
    "protloc.commands.embed",
    "protloc.commands.train",
    "protloc.commands.evaluate",
    "protloc.commands.reproduce",
    "protloc.commands.peers",
    "protloc.dataset.cli",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="protloc",
        description="Predict the subcellular localization of prokaryotic proteins.",
    )
    parser.add_argument("--version", action="version", version=f"protloc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an absent optional module
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
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
