"""Boosting trees that also read UniRep-1900's mean hidden state (issue 14's "UniRep-256 per
residue plus UniRep-1900 pooled states"): the state projected on principal components fitted on
each fold's training proteins only, beside the pooled streams a set's trees already read
(``protloc.mixing.train_boosting(states=...)``). Measured on validation rows; the predictor does
not serve such trees yet (a checkpoint holding them is refused with a message).

    # the states, about 35 min on 2 cores, resumable (scripts/pool_unirep.py)
    OMP_NUM_THREADS=1 .venv/bin/python scripts/pool_unirep.py data_build/dataset STATES --part 0/2 &
    OMP_NUM_THREADS=1 .venv/bin/python scripts/pool_unirep.py data_build/dataset STATES --part 1/2
    .venv/bin/python scripts/pool_unirep.py data_build/dataset STATES --combine
    # a set's trees with the states (per fold about 5 min on one core; two processes share)
    .venv/bin/python scripts/pooled_state_trees.py train data_build/dataset STATES/pooled.npz \
        configs/unirep_v4.yaml CACHE TREES_V4 [--folds 0,2,4] [--components 128] [--reps h_avg]
    # sets' networks with those trees, averaged per fold (as scripts/combine_sets.py does)
    .venv/bin/python scripts/pooled_state_trees.py join data_build/dataset JOIN \
        V4_DIR:TREES_V4 RUN_V5:TREES_V5 [--results docs/results/stacking]
    .venv/bin/python scripts/compare_validation.py data_build/dataset checkpoints/default JOIN \
        docs/results/joined

A set without its own ``runs/`` folder (a shipped one, e.g. unirep-v4 at 540c563) is rebuilt
from its committed tables in ``--results``; its networks' tables and homology hits are kept, its
trees' tables replaced by TREES'.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.combine_sets import write_fold_tables
    from scripts.stacking_experiment import run_dir
except ModuleNotFoundError:
    from combine_sets import write_fold_tables
    from stacking_experiment import run_dir


def train_set_trees(args: argparse.Namespace, config: dict, table: pd.DataFrame,
                    **extra) -> None:
    """A set's trees per fold as ``protloc train`` makes them (the config's streams and
    settings, from ``args.cache``) into ``args.out``, with ``extra`` passed on to
    ``protloc.mixing.train_boosting``; prints each fold's validation MCC."""
    from threadpoolctl import threadpool_limits

    from protloc.embedders import make_embedder
    from protloc.experiment import _boosting_members, data_summary, embed_table
    from protloc.metrics import mcc
    from protloc.mixing import train_boosting

    specs = [make_embedder(s).spec() for s in config["embedders"]]
    data = embed_table(table, specs, args.cache, print)
    _, trainable = data_summary(args.dataset, table, config)
    settings = {k: v for k, v in config["boosting"].items() if k != "calibrate_on"}
    members = _boosting_members(settings, [s["id"] for s in specs])
    with threadpool_limits(args.threads):
        train_boosting(data, table["id"].tolist(), table["partition"].to_numpy(), args.out,
                       [int(k) for k in args.folds.split(",")], trainable, settings,
                       config["train"]["group_dropout"], config["train"]["seed"],
                       seeds=members["seeds"], streams=members["index"], **extra)
    for k in args.folds.split(","):
        val = pd.read_csv(args.out / "runs" / f"fold_{k}" / "boost_val.csv")
        print(f"fold {k}: the trees' validation MCC {mcc(val['label'], val['prediction']):.4f}")


def train(args: argparse.Namespace) -> int:
    from protloc.experiment import load_config, load_dataset

    config = load_config(args.config)
    table = load_dataset(args.dataset, config.get("sources"))
    pooled = np.load(args.states)
    where = {pid: i for i, pid in enumerate(pooled["ids"].tolist())}
    missing = [pid for pid in table["id"] if pid not in where]
    if missing:
        print(f"pooled_state_trees: {len(missing)} proteins (e.g. {missing[0]}) have no state in "
              f"{args.states}", file=sys.stderr)
        return 2
    order = [where[pid] for pid in table["id"]]
    states = np.hstack([pooled[r][order] for r in args.reps.split(",")]).astype(np.float64)
    train_set_trees(args, config, table, states=states, components=args.components)
    return 0


def join(args: argparse.Namespace) -> int:
    pairs = [Path(p) for pair in args.pairs for p in pair.split(":", 1)]
    sets, trees = pairs[0::2], pairs[1::2]
    if len(sets) != len(trees) or not all(t.is_dir() for t in trees):
        print("pooled_state_trees: give SET:TREES pairs of existing folders", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_dir(s, args.results, Path(tmp) / str(i)) for i, s in enumerate(sets)]
        for k in range(5):
            write_fold_tables(args.out / "runs", k, runs, [t / "runs" for t in trees])
    print(f"joined run folder written to {args.out / 'runs'}")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    for name in ("dataset", "states", "config", "cache", "out"):
        t.add_argument(name, type=Path)
    t.add_argument("--folds", default="0,1,2,3,4")
    t.add_argument("--components", type=int, default=128)
    t.add_argument("--reps", default="h_avg", help="h_avg, h_final, c_final, comma-separated")
    t.add_argument("--threads", type=int, default=1)
    j = sub.add_parser("join")
    j.add_argument("dataset", type=Path)
    j.add_argument("out", type=Path)
    j.add_argument("pairs", nargs="+", help="SET:TREES")
    j.add_argument("--results", type=Path, default=Path("docs/results/stacking"))
    args = parser.parse_args(argv)
    if args.command == "join" and args.out.exists():
        print(f"pooled_state_trees: {args.out} exists already: give a new folder", file=sys.stderr)
        return 2
    return train(args) if args.command == "train" else join(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
