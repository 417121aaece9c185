"""Variants compared from their final calls alone (a compact file, one column per variant): on
the validation folds, where choices are made, and on the held-out test folds.

    .venv/bin/python scripts/compare_calls.py data_build/dataset \
        docs/results/boosting_variants/calls.csv.gz > docs/results/boosting_variants/tables.md

The calls file has columns ``split`` (validation | test), ``id`` and one column per variant (the
first is the baseline). Per split: MCC of each variant, and MCC(variant) - MCC(baseline) with a
paired bootstrap interval (1,000 resamples, seed 0) at 95% and at the Bonferroni-corrected level
for the number of variants compared (a variant picked as the best of several on validation
folds should clear the corrected interval, not only its own 95% one). Test calls carry
DeepLocPro's group rule already; they are scored on the 1,131 benchmark proteins and on all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from protloc.metrics import mcc, paired_bootstrap_levels


def corrected_level(variants: list[str]) -> float:
    """Bonferroni: a 95% family-wise level over every variant compared with the first."""
    return 1 - 0.05 / (len(variants) - 1)


def rows(table: pd.DataFrame, variants: list[str], labels: pd.Series) -> list[str]:
    base = variants[0]
    out = []
    for name in variants:
        y, p = labels.loc[table.index], table[name]
        cells = [f"{accuracy_score(y, p):.3f}", f"{f1_score(y, p, average='macro'):.3f}",
                 f"{mcc(y, p):.4f}"]
        if name == base:
            cells += ["–", "–"]
        else:
            delta = mcc(y, p) - mcc(y, table[base])
            for lo, hi in paired_bootstrap_levels(y, table[base], p, (0.95, corrected_level(variants))):
                cells.append(f"{delta:+.4f} [{lo:+.4f}, {hi:+.4f}]")
        out.append(f"| {name} | {len(table):,} | " + " | ".join(cells) + " |")
    return out


def main(dataset_dir: Path, calls_path: Path) -> None:
    dataset = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t", keep_default_na=False)
    labels = dataset.set_index("id")["label"]
    benchmark = set(dataset.loc[dataset["in_benchmark"].astype(str).str.lower() == "true", "id"])
    calls = pd.read_csv(calls_path)
    variants = [c for c in calls.columns if c not in ("split", "id")]
    level = 100 * corrected_level(variants)
    header = ("| variant | n | accuracy | macro-F1 | MCC | ΔMCC, 95% | "
              f"ΔMCC, {level:.2f}% (Bonferroni, {len(variants) - 1} variants) |\n"
              "|---|---|---|---|---|---|---|")
    parts = {"validation folds (all validation proteins; where choices are made)":
             calls[calls["split"] == "validation"],
             "test folds, DeepLocPro benchmark proteins":
             calls[(calls["split"] == "test") & calls["id"].isin(benchmark)],
             "test folds, all proteins": calls[calls["split"] == "test"]}
    for title, part in parts.items():
        print(f"### {title}\n\n{header}")
        print("\n".join(rows(part.set_index("id"), variants, labels)) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
