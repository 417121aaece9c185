"""Where on the benchmark do protloc and DeepLocPro lose? One accession series against the rest.

    PROTLOC_DATA=../shared/data .venv/bin/python -m scripts.benchmark_subsets \
        data_build/dataset checkpoints/default --prefix A0A0H3P

Prints markdown: the series' labels, accuracy and MCC of both tools on the series, on the other
benchmark proteins and on all 1,131 (DeepLocPro's group rule on both), and what each tool calls
the series' proteins of its most common label. A diagnosis of the benchmark, used for no choice.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from protloc.metrics import mcc
from protloc.reference import benchmark_reference
from scripts.compare_models import load


def counts(calls: np.ndarray) -> str:
    return ", ".join(f"{name} {n}" for name, n in pd.Series(calls).value_counts().items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--prefix", required=True, help="accession prefix of the series")
    parser.add_argument("--data-dir", help="shared data folder (default: PROTLOC_DATA)")
    args = parser.parse_args(argv)
    reference = benchmark_reference(args.data_dir).set_index("id")
    labels = reference["label"].to_numpy()
    theirs = reference["prediction"].to_numpy()
    dataset = pd.read_csv(args.dataset / "dataset.tsv", sep="\t", keep_default_na=False)
    ours = load(args.checkpoint, dataset).loc[reference.index, "call"].to_numpy()
    series = reference.index.str.startswith(args.prefix)
    print(f"Benchmark proteins whose accession starts {args.prefix}: {series.sum()} "
          f"({counts(labels[series])}).\n")
    print("| proteins | n | accuracy protloc | accuracy DeepLocPro | MCC protloc | MCC DeepLocPro |")
    print("|---|---|---|---|---|---|")
    for name, rows in ((f"{args.prefix}…", series), ("the others", ~series),
                       ("all", np.ones(len(labels), bool))):
        y, a, b = labels[rows], ours[rows], theirs[rows]
        print(f"| {name} | {rows.sum():,} | {np.mean(a == y):.3f} | {np.mean(b == y):.3f} | "
              f"{mcc(y, a):.3f} | {mcc(y, b):.3f} |")
    top = pd.Series(labels[series]).value_counts().index[0]
    rows = series & (labels == top)
    print(f"\nThe {rows.sum()} labelled {top}: protloc calls {counts(ours[rows])}; "
          f"DeepLocPro calls {counts(theirs[rows])}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
