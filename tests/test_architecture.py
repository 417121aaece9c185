"""docs/architecture.md names only what exists: every module path, and every name listed for a
module in its table row, is checked here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
ROWS = [line for line in DOC.splitlines() if line.startswith("| `")]
PAGE_SCRIPTS = {"app.py", "pages/predict.py", "pages/batch.py", "pages/explorer.py",
                "pages/structure.py", "pages/cv_results.py", "pages/about.py"}  # run on import


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip("|").split("|")]


def _module(path: str):
    return importlib.import_module(path.removesuffix(".py").replace("/", "."))


def test_every_path_mentioned_exists():
    paths = set(re.findall(r"`((?:protloc|pages|tests|benchmarks|docs|scripts)/[\w/.*-]+|app\.py)`", DOC))
    assert len(paths) > 30
    missing = [p for p in sorted(paths) if "*" not in p and not (ROOT / p).exists()]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


@pytest.mark.parametrize("row", ROWS, ids=lambda r: _cells(r)[0].strip("`"))
def test_every_listed_name_exists(row):
    cells = _cells(row)
    paths = re.findall(r"`([\w/]+\.py)`", cells[0])
    names = re.findall(r"`(\w+)`", cells[-1])
    for path in paths:
        if path in PAGE_SCRIPTS:
            assert not names or path == "app.py", f"{path} is a page script: list no names"
            continue
        if "commands" in path or path == "protloc/dataset/cli.py":
            # the 'calls' column names library functions the command uses
            text = (ROOT / path).read_text(encoding="utf-8")
            for name in names:
                assert name in text, f"{path} does not call {name}"
            continue
        module = _module(path)
        for name in names:
            assert hasattr(module, name), f"{path} has no {name}"
