"""Checkpoint sets trained on the same partitions (same embedders and network shape) joined into
one: per test fold, every set's networks and every set's boosting trees, each kind averaged (the
seed-ensemble path of the predictor), then a stacker fitted afresh on the averaged members
(``protloc.stacking.fit_stage``: every choice on cross-fitted validation rows, each test fold's
stacker without that fold's proteins).

    .venv/bin/python scripts/combine_sets.py data_build/dataset BASE OTHER [OTHER ...] OUT NAME \
        [--results RESULTS]

Each set is read like ``scripts/compare_validation.py`` reads one (its ``runs/`` folder, or for a
shipped set the committed tables, RESULTS defaulting to ``docs/results/stacking``). Validation
rows are BASE's (the proteins of its training sources), so the stacker is chosen on the rows
BASE's own stacker was; every OTHER set must have those rows (be trained on at least BASE's
sources), else the join stops with a message. OUT gets every set's weight files (the i-th
OTHER's with a ``_b``, ``_c``, ... suffix), a manifest listing them (the OTHER sets' networks as
fold members, their trees beside BASE's), the stackers, the averaged member tables
(``validation.csv``, ``heldout_fusion.csv``, ``boost_val.csv.gz``, ``boost_heldout.csv.gz``),
and the held-out predictions (``heldout.csv``).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import string
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from protloc import stacking
from protloc.classes import CLASSES
from protloc.errors import UserError
from protloc.mixing import PROBS

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.stacking_experiment import run_dir
except ModuleNotFoundError:
    from stacking_experiment import run_dir

TABLES = ("val.csv", "boost_val.csv", "heldout.csv", "boost_heldout.csv")
CALIBRATE_ON = "deeplocpro_benchmark"


class MissingRows(ValueError):
    """An OTHER set lacks some of BASE's rows (trained on fewer sources than BASE)."""


def average(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The other tables' probabilities on the first table's rows, averaged with its own."""
    out = tables[0].copy()
    ids = out["id"]
    for i, table in enumerate(tables[1:]):
        missing = ids[~ids.isin(table["id"])]
        if len(missing):
            raise MissingRows(f"{len(missing)} of BASE's rows (e.g. {missing.iloc[0]}) are not "
                              f"in OTHER set {i + 1}'s tables: every OTHER set must be trained on "
                              "at least BASE's sources (order the sets so)")
    out[PROBS] = np.mean([out[PROBS].to_numpy()] + [
        t.set_index("id").loc[ids, PROBS].to_numpy() for t in tables[1:]], axis=0)
    out["prediction"] = [CLASSES[i] for i in out[PROBS].to_numpy().argmax(axis=1)]
    return out


def suffixed(name: str, i: int) -> str:
    """The i-th other set's copy of a weight file: fold_0.safetensors -> fold_0_b.safetensors."""
    return name.replace(".safetensors", f"_{string.ascii_lowercase[i + 1]}.safetensors")


def train_sources(manifest: dict) -> list[str]:
    # a set trained on every source has no train_sources entry
    return manifest["data"].get("train_sources", manifest["data"].get("sources", []))


def joined_manifest(base: dict, others: list[dict]) -> dict:
    manifest = copy.deepcopy(base)
    for i, other in enumerate(others):
        for fold, extra in zip(manifest["folds"], other["folds"]):
            member = {k: extra[k] for k in ("temperature", "val_mcc", "best_epoch")}
            member.update(weights=suffixed(extra["weights"], i),
                          test_fold=extra["test_fold"], val_fold=extra["val_fold"],
                          seed=other["data"].get("config", {}).get("train", {}).get("seed", 0),
                          set=other["name"], train_sources=train_sources(other))
            fold["members"] = fold.get("members", []) + [member]
    manifest["boosting"]["folds"] = {
        k: [name] + [suffixed(o["boosting"]["folds"][k], i) for i, o in enumerate(others)]
        for k, name in manifest["boosting"]["folds"].items()}
    manifest["data"]["joined"] = {"base": base["name"], "others": [
        {"name": o["name"], "train_sources": train_sources(o)} for o in others]}
    return manifest


def joined_description(base: dict, others: list[dict]) -> str:
    what = " and ".join(f"{o['name']}'s (trained on {', '.join(train_sources(o))})"
                        for o in others)
    return (f"{base['description']} Joined with {what} networks and trees, averaged per fold "
            "before the stacker.")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Join checkpoint sets under one stacker.")
    parser.add_argument("dataset", type=Path)
    parser.add_argument("base", type=Path)
    parser.add_argument("others", type=Path, nargs="+")
    parser.add_argument("out", type=Path)
    parser.add_argument("name")
    parser.add_argument("--results", type=Path, default=Path("docs/results/stacking"),
                        help="committed tables of a shipped set without a runs/ folder")
    parser.add_argument("--top-label", action="store_true",
                        help="a top-label map after the stacker's temperature "
                             "(protloc.top_label), fitted per test fold")
    parser.add_argument("--calibration-weights", default="1",
                        help="comma-separated weights of the DeepLocPro validation rows in the "
                             "stacker's fit, one chosen on those rows (e.g. 1,2,3,4)")
    return parser.parse_args(argv)


def weights(args: argparse.Namespace) -> tuple[float, ...]:
    return stacking.check_weights(args.calibration_weights.split(","))


def check_paths(args: argparse.Namespace) -> str:
    """What is wrong with the command's folders or weights, or an empty string."""
    try:
        weights(args)
    except UserError:
        return (f"--calibration-weights {args.calibration_weights!r}: give positive numbers "
                "separated by commas, e.g. 1,2,3,4")
    if not (args.dataset / "dataset.tsv").is_file():
        return f"{args.dataset} has no dataset.tsv (a folder from protloc data build)"
    for folder in (args.base, *args.others):
        if not (folder / "manifest.json").is_file():
            return f"{folder} is not a checkpoint set (no manifest.json)"
    if args.out.exists():
        return f"{args.out} exists already: give a new folder"
    return ""


def write_fold_tables(out_runs: Path, k: int, network_runs: list[Path],
                      tree_runs: list[Path]) -> None:
    """Fold k's member tables averaged over the sets (the networks' from ``network_runs``, the
    trees' from ``tree_runs``, both ``runs/`` folders) and the first set's homology hits."""
    fold = out_runs / f"fold_{k}"
    fold.mkdir(parents=True)
    for name in TABLES:
        sources = tree_runs if name.startswith("boost") else network_runs
        average([pd.read_csv(r / f"fold_{k}" / name) for r in sources]).to_csv(
            fold / name, index=False, float_format="%.5f")
    for name in ("hits_val.csv", "hits_test.csv"):  # a set with homology votes
        if (network_runs[0] / f"fold_{k}" / name).exists():
            shutil.copy(network_runs[0] / f"fold_{k}" / name, fold / name)


def write_folds(sets: list[Path], results: Path, out: Path, tmp: Path) -> None:
    """Each fold's averaged member tables (BASE's homology hits beside them) and every set's
    weight files under OUT."""
    runs = [run_dir(s, results, tmp / str(i)) for i, s in enumerate(sets)]
    for k in range(5):
        write_fold_tables(out / "runs", k, runs, runs)
        for name in (f"fold_{k}.safetensors", f"boost_fold_{k}.safetensors"):
            shutil.copy(sets[0] / name, out / name)
            for i, other in enumerate(sets[1:]):
                shutil.copy(other / name, out / suffixed(name, i))


def main(argv: list[str]) -> int:
    args = parse(argv)
    problem = check_paths(args)
    if problem:
        print(f"combine_sets: {problem}", file=sys.stderr)
        return 2
    table = pd.read_csv(args.dataset / "dataset.tsv", sep="\t").astype({"partition": int})
    out = args.out
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            write_folds([args.base, *args.others], args.results, out, Path(tmp))
        except MissingRows as err:
            print(f"combine_sets: {err}", file=sys.stderr)
            shutil.rmtree(out)
            return 2
    if (args.base / "reference.fasta.gz").exists():
        shutil.copy(args.base / "reference.fasta.gz", out / "reference.fasta.gz")
    base = json.loads((args.base / "manifest.json").read_text())
    others = [json.loads((o / "manifest.json").read_text()) for o in args.others]
    manifest = joined_manifest(base, others)
    manifest["name"] = args.name
    manifest["description"] = joined_description(base, others)
    calibration = set(table.loc[table["source"] == CALIBRATE_ON, "id"])
    # as protloc train does: all validation rows when the set has no DeepLocPro proteins
    manifest["stacking"] = stacking.fit_stage(out, table, calibration or None,
                                              f"validation proteins from {CALIBRATE_ON}",
                                              top_label=args.top_label,
                                              calibration_weights=weights(args))
    if manifest["stacking"].get("calibration_weight", 1.0) != 1.0:
        manifest["description"] += (f" The DeepLocPro validation rows count "
                                    f"{manifest['stacking']['calibration_weight']:g} times in the "
                                    "stacker's fit.")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    runs = out / "runs"
    pd.concat(pd.read_csv(runs / f"fold_{k}" / "val.csv").assign(model_fold=k)
              for k in range(5)).to_csv(out / "validation.csv", index=False, float_format="%.5f")
    pd.concat(pd.read_csv(runs / f"fold_{k}" / "heldout.csv") for k in range(5)).to_csv(
        out / "heldout_fusion.csv", index=False, float_format="%.5f")
    for which in ("val", "heldout"):
        pd.concat(pd.read_csv(runs / f"fold_{k}" / f"boost_{which}.csv") for k in range(5)).to_csv(
            out / f"boost_{which}.csv.gz", index=False, float_format="%.5f")
    print(f"joined set written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
