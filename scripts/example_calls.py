"""The app's built-in examples: their label and each checkpoint set's out-of-fold call (the fold
model that never saw the protein, DeepLocPro's group rule applied with the example's group),
found in the dataset by sequence. Used for no choice.

    PYTHONPATH=. .venv/bin/python scripts/example_calls.py data_build/dataset checkpoints/offline-v2 \
        checkpoints/default > docs/results/example_calls.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from pages.examples import EXAMPLES
from protloc.classes import CLASSES, COLUMN_NAMES, apply_group_rule


def main(dataset_dir: Path, checkpoints: list[Path]) -> None:
    dataset = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t", keep_default_na=False)
    by_sequence = dict(zip(dataset["sequence"], dataset["id"]))
    heldout = [pd.read_csv(c / "heldout.csv").set_index("id") for c in checkpoints]
    print("| example | label | " + " | ".join(c.name for c in checkpoints) + " |")
    print("|---|---|" + "---|" * len(checkpoints))
    for example in EXAMPLES.values():
        pid = by_sequence.get(example.sequence)
        calls = []
        for table in heldout:
            if pid is None or pid not in table.index:
                calls.append("not in the dataset")
                continue
            probs = apply_group_rule(table.loc[pid, [COLUMN_NAMES[c] for c in CLASSES]]
                                     .to_numpy(dtype=float), example.group)
            call = CLASSES[int(probs.argmax())]
            mark = "✓" if call == example.label else "✗"
            calls.append(f"{mark} {call} ({probs.max():.2f})")
        print(f"| {example.short} ({example.accession}) | {example.label} | " + " | ".join(calls) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])
