"""scripts/compare_calls.py: variants scored from their calls alone, per split, with intervals."""

import io
from contextlib import redirect_stdout

import numpy as np
import pandas as pd

from scripts.compare_calls import main

CLASSES = ["Cytoplasmic", "Periplasmic", "Extracellular"]


def test_tables_per_split_from_calls(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    ids = [f"p{i}" for i in range(n)]
    labels = rng.choice(CLASSES, n)
    pd.DataFrame({"id": ids, "label": labels, "in_benchmark": ["True"] * 100 + ["False"] * 200}
                 ).to_csv(tmp_path / "dataset.tsv", sep="\t", index=False)
    noisy = np.where(rng.random(n) < 0.6, labels, rng.choice(CLASSES, n))
    calls = pd.DataFrame({"split": ["validation"] * 150 + ["test"] * 150, "id": ids[:150] + ids[:150],
                          "base": list(noisy[:150]) * 2, "same": list(noisy[:150]) * 2,
                          "perfect": list(labels[:150]) * 2})
    calls.to_csv(tmp_path / "calls.csv.gz", index=False)
    out = io.StringIO()
    with redirect_stdout(out):
        main(tmp_path, tmp_path / "calls.csv.gz")
    text = out.getvalue()
    assert text.count("| base | ") == 3  # validation, benchmark, all
    assert "| base | 100 |" in text and "| base | 150 |" in text  # the benchmark: p0-p99 only
    assert "+0.0000 [+0.0000, +0.0000]" in text  # identical calls: no difference
    assert "97.50% (Bonferroni, 2 variants)" in text
    perfect = [line for line in text.splitlines() if line.startswith("| perfect |")]
    assert all(line.split(" | ")[4] == "1.0000" for line in perfect)  # MCC of perfect calls
