"""The reliability cases (tests/reliability_cases.py): each fault behaves as expected, the
committed table docs/reliability.md is exactly what the cases produce, and the README states
every input limit the library enforces."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import reliability_cases as R
from pages import settings
from protloc import sequences

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "reliability.md"
#: Outcomes seen by the case tests, reused by the table test so nothing runs twice.
OBSERVED: dict[str, str] = {}


@pytest.mark.parametrize("case", R.CASES, ids=[c.id for c in R.CASES])
def test_fault_is_handled_as_expected(case: R.Case) -> None:
    outcome = R.observe(case)
    OBSERVED[case.id] = outcome
    assert "\n" not in outcome and "Traceback" not in outcome, outcome
    assert re.search(case.expect, outcome), f"{case.id}: {outcome}"


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in R.CASES]
    assert len(set(ids)) == len(ids)


def test_committed_table_matches_the_cases() -> None:
    """With PROTLOC_REFRESH_DOCS=1 (the README's docs command) the table is rewritten instead."""
    outcomes = {c.id: OBSERVED.get(c.id) or R.observe(c) for c in R.CASES}
    if os.environ.get("PROTLOC_REFRESH_DOCS") == "1":
        TABLE.write_text(R.render(outcomes), encoding="utf-8")
    assert TABLE.read_text(encoding="utf-8") == R.render(outcomes), (
        "docs/reliability.md is out of date: run "
        "PROTLOC_REFRESH_DOCS=1 .venv/bin/python -m pytest tests/test_reliability.py"
    )


@pytest.mark.parametrize("node, text", R.PROPERTIES)
def test_every_listed_property_test_exists(node: str, text: str) -> None:
    module, name = node.split("::")
    source = (ROOT / "tests" / module).read_text(encoding="utf-8")
    assert re.search(rf"^def {re.escape(name)}\(", source, re.MULTILINE), node


def test_readme_states_every_limit() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    limits = readme.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for value in (
        sequences.MAX_RECORDS,
        sequences.MAX_LENGTH,
        sequences.MIN_LENGTH,
        sequences.MAX_TOTAL_RESIDUES,
        settings.APP_BATCH_LIMIT,
        settings.SINGLE_PAGE_LIMIT,
    ):
        assert f"{value:,}" in limits, value
    assert f"{settings.MAX_UPLOAD_MB} MB" in limits
    decompressed_mib = sequences._MAX_DECOMPRESSED_BYTES // 2**20
    assert f"{decompressed_mib} MiB" in limits
    for ext in settings.FASTA_UPLOAD_TYPES:
        assert f"`.{ext}`" in limits, ext
