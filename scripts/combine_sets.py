"""Two checkpoint sets trained on the same partitions (same embedders and network shape) joined
into one: per test fold, both sets' networks and both sets' boosting trees, each pair averaged
(the seed-ensemble path of the predictor), then a stacker fitted afresh on the averaged members
(``protloc.stacking.fit_stage``: every choice on cross-fitted validation rows, each test fold's
stacker without that fold's proteins).

    .venv/bin/python scripts/combine_sets.py data_build/dataset BASE OTHER OUT NAME [RESULTS]

BASE and OTHER are read like ``scripts/compare_validation.py`` reads a set (its ``runs/`` folder,
or for a shipped set the committed tables, RESULTS defaulting to ``docs/results/stacking``).
Validation rows are BASE's (the proteins of its training sources), so the stacker is chosen on
the rows BASE's own stacker was. OUT gets both sets' weight files (OTHER's with a ``_b`` suffix),
a manifest listing them (OTHER's networks as fold members, its trees beside BASE's), the
stackers, the averaged member tables (``validation.csv``, ``heldout_fusion.csv``,
``boost_val.csv.gz``, ``boost_heldout.csv.gz``), and the held-out predictions (``heldout.csv``).
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from protloc import stacking
from protloc.classes import CLASSES
from protloc.mixing import PROBS

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.stacking_experiment import run_dir
except ModuleNotFoundError:
    from stacking_experiment import run_dir

TABLES = ("val.csv", "boost_val.csv", "heldout.csv", "boost_heldout.csv")
CALIBRATE_ON = "deeplocpro_benchmark"


def average(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """b's probabilities on a's rows, averaged with a's."""
    out = a.copy()
    out[PROBS] = (a[PROBS].to_numpy() + b.set_index("id").loc[a["id"], PROBS].to_numpy()) / 2
    out["prediction"] = [CLASSES[i] for i in out[PROBS].to_numpy().argmax(axis=1)]
    return out


def joined_manifest(base: dict, other: dict) -> dict:
    manifest = copy.deepcopy(base)
    # a set trained on every source has no train_sources entry
    sources = other["data"].get("train_sources", other["data"].get("sources", []))
    for fold, extra in zip(manifest["folds"], other["folds"]):
        member = {k: extra[k] for k in ("temperature", "val_mcc", "best_epoch")}
        member.update(weights=extra["weights"].replace(".safetensors", "_b.safetensors"),
                      test_fold=extra["test_fold"], val_fold=extra["val_fold"],
                      seed=other["data"].get("config", {}).get("train", {}).get("seed", 0),
                      set=other["name"], train_sources=sources)
        fold["members"] = fold.get("members", []) + [member]
    manifest["boosting"]["folds"] = {
        k: [name, other["boosting"]["folds"][k].replace(".safetensors", "_b.safetensors")]
        for k, name in manifest["boosting"]["folds"].items()}
    manifest["data"]["joined"] = {"base": base["name"], "other": other["name"],
                                  "other_train_sources": sources}
    return manifest


def main(argv: list[str]) -> int:
    dataset_dir, base, other, out = (Path(a) for a in argv[:4])
    set_name = argv[4]
    results = Path(argv[5]) if len(argv) > 5 else Path("docs/results/stacking")
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").astype({"partition": int})
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        runs_a = run_dir(base, results, Path(tmp) / "a")
        runs_b = run_dir(other, results, Path(tmp) / "b")
        for k in range(5):
            fold = out / "runs" / f"fold_{k}"
            fold.mkdir(parents=True)
            for name in TABLES:
                a = pd.read_csv(runs_a / f"fold_{k}" / name)
                average(a, pd.read_csv(runs_b / f"fold_{k}" / name)).to_csv(
                    fold / name, index=False, float_format="%.5f")
            for name in ("hits_val.csv", "hits_test.csv"):  # a set with homology votes
                if (runs_a / f"fold_{k}" / name).exists():
                    shutil.copy(runs_a / f"fold_{k}" / name, fold / name)
            for name in (f"fold_{k}.safetensors", f"boost_fold_{k}.safetensors"):
                shutil.copy(base / name, out / name)
                shutil.copy(other / name, out / name.replace(".safetensors", "_b.safetensors"))
    if (base / "reference.fasta.gz").exists():
        shutil.copy(base / "reference.fasta.gz", out / "reference.fasta.gz")
    manifest = joined_manifest(json.loads((base / "manifest.json").read_text()),
                               json.loads((other / "manifest.json").read_text()))
    manifest["name"] = set_name
    joined = manifest["data"]["joined"]
    manifest["description"] = (
        f"{manifest['description']} Joined with {joined['other']}'s networks and trees (trained "
        f"on {', '.join(joined['other_train_sources'])}), averaged per fold before the stacker.")
    calibration = set(table.loc[table["source"] == CALIBRATE_ON, "id"])
    # as protloc train does: all validation rows when the set has no DeepLocPro proteins
    manifest["stacking"] = stacking.fit_stage(out, table, calibration or None,
                                              f"validation proteins from {CALIBRATE_ON}")
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
