"""A set's boosting trees retrained with the DeepLocPro proteins counted W times in their fit
(``protloc.mixing.train_boosting(row_weight=...)``), the trees' analogue of the stacker's
calibration weight (docs/results/calibration_weight.md). Measured on validation rows by joining
them with the default's networks (``scripts/pooled_state_trees.py join``) and refitting the
stacker; not served by any shipped set.

    # the embedding cache (unirep-256, evidence-v1; about 10 min on 2 cores)
    PROTLOC_CACHE=CACHE bash scripts/embed_dataset.sh data_build/dataset unirep-256 evidence-v1
    # trees per fold, about 5 min each on one core (two processes: v4's and v5's sources)
    .venv/bin/python scripts/weighted_trees.py data_build/dataset configs/unirep_v4.yaml CACHE \
        TREES_V4 --weight 3
    .venv/bin/python scripts/pooled_state_trees.py join data_build/dataset JOIN \
        checkpoints/default:TREES_V4 checkpoints/default:TREES_V5 --results docs/results/joined
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.pooled_state_trees import train_set_trees
except ModuleNotFoundError:
    from pooled_state_trees import train_set_trees

CALIBRATE_ON = "deeplocpro_benchmark"


def main(argv: list[str]) -> int:
    from protloc.experiment import load_config, load_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("dataset", "config", "cache", "out"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--weight", type=float, default=3.0)
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.weight > 0:
        print("weighted_trees: --weight must be a positive number", file=sys.stderr)
        return 2
    config = load_config(args.config)
    table = load_dataset(args.dataset, config.get("sources"))
    row_weight = np.where(table["source"].to_numpy() == CALIBRATE_ON, args.weight, 1.0)
    train_set_trees(args, config, table, row_weight=row_weight)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
