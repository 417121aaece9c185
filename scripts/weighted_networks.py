"""Fusion networks retrained with the DeepLocPro proteins counted W times in their loss
(``train.source_weights``, ``configs/unirep_v4_w3_networks.yaml``), the networks' analogue of
the stacker's calibration weight (docs/results/calibration_weight.md). The new networks take
unirep-v4's place in the default's per-fold network average (the default averages unirep-v4's
and unirep-v5's calibrated probabilities, so the join is ``joined + (new - v4) / 2``); the
default's trees and homology hits are kept, and the stacker stage is run again with the shipped
grid of weights, beside the default's own stage refitted the same way. Validation rows only:
test folds are not scored.

    # the networks, about 15 min a fold on one core (two processes), then the manifest
    OMP_NUM_THREADS=1 .venv/bin/protloc train --data data_build/dataset --cache CACHE \
        --config configs/unirep_v4_w3_networks.yaml --out NETS --folds 0,2,4 --threads 1 &
    OMP_NUM_THREADS=1 .venv/bin/protloc train --data data_build/dataset --cache CACHE \
        --config configs/unirep_v4_w3_networks.yaml --out NETS --folds 1,3 --threads 1; wait
    .venv/bin/protloc train --data data_build/dataset --cache CACHE \
        --config configs/unirep_v4_w3_networks.yaml --out NETS
    # unirep-v4's own tables (its networks are the default's first set)
    mkdir V4 && git archive 540c563 checkpoints/default | tar -x -C V4 --strip-components=2
    .venv/bin/python scripts/weighted_networks.py data_build/dataset NETS V4 OUT
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.stacking_experiment import grid, rebuild_runs
except ModuleNotFoundError:
    from stacking_experiment import grid, rebuild_runs

CALIBRATE_ON = "deeplocpro_benchmark"
TOLERANCE = 2e-4  # the committed tables keep 5 decimals


def swapped(joined: pd.DataFrame, old: pd.DataFrame, new: pd.DataFrame,
            add: bool = False) -> pd.DataFrame:
    """``joined``'s rows with ``old``'s share of the two-set average replaced by ``new``'s
    (``add``: ``new`` as a third set beside both)."""
    from protloc.classes import CLASSES
    from protloc.mixing import PROBS

    ids = joined["id"]
    p_old, p_new = (t.set_index("id").loc[ids, PROBS].to_numpy() for t in (old, new))
    p_joined = joined[PROBS].to_numpy()
    other = 2 * p_joined - p_old  # the second set's probabilities
    if other.min() < -TOLERANCE:  # OLD can't be half of the average (main also checks weights)
        raise ValueError("the old tables are not one half of the joined ones: wrong OLD set?")
    probs = np.clip((p_old + other + p_new) / 3 if add else (other + p_new) / 2, 0, None)
    out = joined.copy()
    out[PROBS] = probs / probs.sum(axis=1, keepdims=True)
    out["prediction"] = [CLASSES[i] for i in out[PROBS].to_numpy().argmax(axis=1)]
    return out


def write_runs(default_runs: Path, old: Path, new_runs: Path, out_runs: Path,
               add: bool = False) -> None:
    """The default's run folder with the new networks in the old set's place (``add``: as a
    third set)."""
    old_tables = {"val.csv": pd.read_csv(old / "validation.csv"),
                  "heldout.csv": pd.read_csv(old / "heldout_fusion.csv")}
    for k in range(5):
        fold = out_runs / f"fold_{k}"
        shutil.copytree(default_runs / f"fold_{k}", fold)
        for name, table in old_tables.items():
            rows = table[table["model_fold"] == k] if "model_fold" in table else \
                table[table["partition"] == k]
            joined = pd.read_csv(fold / name)
            swapped(joined, rows, pd.read_csv(new_runs / f"fold_{k}" / name), add).to_csv(
                fold / name, index=False, float_format="%.5f")


def same_networks(old: Path, default: Path) -> bool:
    """OLD's fold networks are the default's first set's, byte for byte: only then is
    ``2 * joined - old`` the second set."""
    return all((old / f"fold_{k}.safetensors").read_bytes()
               == (default / f"fold_{k}.safetensors").read_bytes() for k in range(5))


def stage(out: Path, table: pd.DataFrame, weights) -> dict:
    from protloc import stacking

    calibration = set(table.loc[table["source"] == CALIBRATE_ON, "id"])
    return stacking.fit_stage(out, table, calibration, f"validation proteins from {CALIBRATE_ON}",
                              log=lambda m: None, top_label=True, calibration_weights=weights)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("dataset", "nets", "old", "out"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--default", type=Path, default=Path("checkpoints/default"))
    parser.add_argument("--results", type=Path, default=Path("docs/results/joined"))
    parser.add_argument("--add", action="store_true",
                        help="the new networks as a third set beside both, not in v4's place")
    args = parser.parse_args(argv)
    needed = [args.old / "validation.csv", args.old / "heldout_fusion.csv"] + [
        path for k in range(5) for path in (args.nets / "runs" / f"fold_{k}" / "val.csv",
                                            args.nets / "runs" / f"fold_{k}" / "heldout.csv",
                                            args.old / f"fold_{k}.safetensors")]
    missing = [p for p in needed if not p.is_file()]
    problem = (f"{missing[0]} is missing" if missing
               else f"{args.out} exists already" if args.out.exists()
               else None if same_networks(args.old, args.default)
               else f"{args.old}'s networks are not {args.default}'s first set")
    if problem:
        print(f"weighted_networks: {problem}", file=sys.stderr)
        return 2
    table = pd.read_csv(args.dataset / "dataset.tsv", sep="\t").astype({"partition": int})
    weights = grid(json.loads((args.default / "manifest.json").read_text()).get("stacking", {}))
    print("| networks | stacker's all-row validation MCC (its grid's best) | DeepLocPro "
          "validation rows' MCC, by the stacker's weight |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "default"
        rebuild_runs(args.default, args.results, base / "runs")
        write_runs(base / "runs", args.old, args.nets / "runs", args.out / "runs", args.add)
        trained = json.loads((args.nets / "manifest.json").read_text())["metrics"]["training"]
        label = "unirep-v4's retrained, " + ", ".join(
            f"{s} × {w:g}" for s, w in trained["source_weights"].items()) + " in the loss" + (
            ", beside v4's and v5's" if args.add else "")
        for label, folder in (("as shipped", base), (label, args.out)):
            setting = stage(folder, table, weights)
            by_weight = " / ".join(f"{m:.4f}" for m in setting["calibration_weight_mcc"].values())
            print(f"| {label} | {max(setting['validation_mcc'].values()):.4f} | {by_weight} "
                  f"(chosen {setting['calibration_weight']:g}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
