"""protloc.cli: one table of subcommands, each imported only when it is the one being run."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from protloc import cli

HEAVY = ("torch", "sklearn", "pandas", "scipy", "Bio", "transformers", "streamlit")


def _loaded_after(argv: list[str]) -> list[str]:
    """Heavy packages in sys.modules after ``main(argv)`` in a fresh interpreter."""
    code = (
        "import sys, io\n"
        "from protloc.cli import main\n"
        f"main({argv!r}, io.StringIO(), io.StringIO())\n"
        f"print('LOADED', *[m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()[-1].split()[1:]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []])
def test_help_and_version_load_no_heavy_dependency(argv):
    assert _loaded_after(argv) == []


def test_train_help_stays_light():
    """A thin command imports its library only when it runs."""
    assert _loaded_after(["train", "--help"]) == []


def test_help_lists_every_subcommand_and_each_module_defines_its_parser(capsys):
    assert cli.main(["--help"]) == 0
    listing = capsys.readouterr().out
    for name, (module, help_text) in cli.SUBCOMMANDS.items():
        assert name in listing and help_text.split()[0] in listing
        assert callable(importlib.import_module(module).add_parser)
        args = cli.build_parser([name]).parse_args([name, *_required(name)])
        assert args.command == name


def _required(name: str) -> list[str]:
    """The least arguments each subcommand parses without error (never run here)."""
    return {
        "predict": ["-f", "x.fasta", "-o", "out"],
        "embed": ["-f", "x.fasta", "--embedder", "features-v1", "--out", "c"],
        "data": ["build", "--out", "d"],
        "train": ["--data", "d", "--config", "c.yaml", "--out", "o"],
        "evaluate": ["ckpt"],
        "reproduce": ["--data", "d", "--out", "o"],
        "peers": ["psortb", "x.fasta", "--out", "o.tsv"],
    }[name]


def test_unknown_subcommand_is_a_usage_error(capsys):
    assert cli.main(["nonsense"]) == 2
    assert "invalid choice" in capsys.readouterr().err
