"""How far pyTMHMM's decoding (the evidence streams' inputs, ``protloc.evidence.tmhmm``) is
from TMHMM 2.0 as its model file defines it (``protloc.evidence.exact_tmhmm``) on random
dataset proteins: per-residue posterior differences (the mean over proteins of the per-residue
largest difference; per protein, the largest difference), the correlation of the per-protein
means (what the trees read), and how many Viterbi paths and helix counts differ.

    PYTHONPATH=. .venv/bin/python scripts/tmhmm_posteriors.py data_build/dataset [--n 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from protloc.evidence import exact_tmhmm, tmhmm


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = pd.read_csv(args.dataset / "dataset.tsv", sep="\t")
    mean_diff, max_diff, means, paths, counts = [], [], [], 0, 0
    for seq in table.sample(args.n, random_state=args.seed)["sequence"]:
        theirs, exact = tmhmm(seq), exact_tmhmm(seq)
        diff = np.abs(theirs.posteriors.astype(float) - exact.posteriors).max(axis=1)
        mean_diff.append(diff.mean())
        max_diff.append(diff.max())
        means.append(np.concatenate([theirs.posteriors.mean(axis=0),
                                     exact.posteriors.mean(axis=0)]))
        paths += theirs.path != exact.path
        counts += len(theirs.helices) != len(exact.helices)
    means = np.array(means)
    print(f"{args.n} proteins: mean per-residue largest difference {np.mean(mean_diff):.3f}; "
          f"per protein, largest difference: median {np.median(max_diff):.3f}, 90th percentile "
          f"{np.percentile(max_diff, 90):.3f}, max {np.max(max_diff):.3f}")
    for k, label in enumerate(("inside", "membrane", "outside")):
        r = np.corrcoef(means[:, k], means[:, 3 + k])[0, 1]
        print(f"per-protein mean {label}: correlation {r:.4f}")
    print(f"Viterbi paths that differ: {paths}; helix counts that differ: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
