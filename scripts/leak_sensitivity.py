#!/usr/bin/env python
"""How much the cross-partition pairs of a GraphPart-check report move a checkpoint's figures.

    .venv/bin/python -m scripts.leak_sensitivity docs/results/graphpart_check.md \
        data_build/dataset checkpoints/default

For each table of pairs in the report (GraphPart's criterion; the project's own criterion),
the checkpoint's held-out MCC (DeepLocPro's group rule, as scripts/compare_models.py) on the
benchmark and on all proteins, with and without every protein named in those pairs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from protloc.metrics import mcc
from scripts.compare_models import load

SECTIONS = (("GraphPart's criterion", "# Cross-partition", "## Project"),
            ("project's own criterion", "## Project", "## Random"))


def pair_proteins(report: str, start: str, end: str) -> set[str]:
    """Protein ids in the first two columns of the Markdown tables between two headings."""
    text = report.split(start, 1)[1].split(end, 1)[0]
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and not line.startswith(("| a ", "| ---"))]
    return {cell.strip() for row in rows for cell in row.strip("|").split("|")[:2]}


def main(report: Path, dataset_dir: Path, checkpoint: Path) -> None:
    dataset = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t", keep_default_na=False)
    dataset["in_benchmark"] = dataset["in_benchmark"].astype(str).str.lower() == "true"
    table = load(checkpoint, dataset)
    text = report.read_text()
    bench = table["in_benchmark"].to_numpy()
    print("| pairs | proteins named | of them benchmark | benchmark MCC with / without | "
          "all MCC with / without |\n|---|---|---|---|---|")
    for name, start, end in SECTIONS:
        named = pair_proteins(text, start, end) & set(table.index)
        keep = ~table.index.isin(named)
        figures = [mcc(t["label"], t["call"]) for t in
                   (table[bench], table[bench & keep], table, table[keep])]
        print(f"| {name} | {len(named)} | {int(table.loc[list(named), 'in_benchmark'].sum())} | "
              f"{figures[0]:.4f} / {figures[1]:.4f} | {figures[2]:.4f} / {figures[3]:.4f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
