"""Write docs/reliability.md from the reliability cases (tests/reliability_cases.py).

Usage: .venv/bin/python scripts/reliability_table.py [--check]
Runs every case for real (about 10 s) and renders what happened; --check only compares with
the committed file and exits 1 when it is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "reliability.md"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import torch  # noqa: E402

import reliability_cases  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as in the test suite (tests/conftest.py)
    outcomes = {case.id: reliability_cases.observe(case) for case in reliability_cases.CASES}
    text = reliability_cases.render(outcomes)
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run {Path(__file__).name}")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(reliability_cases.CASES)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
