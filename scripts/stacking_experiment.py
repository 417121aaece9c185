"""The default's stacker (protloc.stacking) refitted from committed files: the same stage
``protloc train`` runs, on a run directory rebuilt from the checkpoint set's own
cross-validation outputs, then checked against the shipped stackers.

    .venv/bin/python scripts/stacking_experiment.py data_build/dataset checkpoints/default \
        docs/results/stacking > docs/results/stacking/choices.md

Inputs: the set's fusion predictions (``validation.csv``: each fold model's validation fold;
``heldout_fusion.csv``: its test fold) and, in the results folder, its boosting trees'
predictions on the same rows (``boost_val.csv.gz``, ``boost_heldout.csv.gz``, as ``protloc
train`` wrote them into ``runs/fold_k/``) and each protein's top homology hit in its fold
model's training folds (``hits_val.csv.gz``, ``hits_test.csv.gz``:
``protloc.homology_mix.fold_hits``). Every choice is made on cross-fitted validation rows; each
test fold's stacker never sees a protein of that fold. Writes ``heldout_stacked.csv`` into the
results folder and prints the choices; exits 1 when the refitted stackers differ from the set's.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from protloc import stacking

CALIBRATE_ON = "deeplocpro_benchmark"


def rebuild_runs(ckpt: Path, results: Path, runs: Path) -> None:
    """runs/fold_k/{val,boost_val,heldout,boost_heldout,hits_val,hits_test}.csv as training left
    them, from the committed tables."""
    val, test = pd.read_csv(ckpt / "validation.csv"), pd.read_csv(ckpt / "heldout_fusion.csv")
    boost_val = pd.read_csv(results / "boost_val.csv.gz").set_index(["id", "model_fold"])
    boost_test = pd.read_csv(results / "boost_heldout.csv.gz").set_index("id")
    hits = {w: pd.read_csv(results / f"hits_{w}.csv.gz", dtype=str, keep_default_na=False)
            for w in ("val", "test")}
    for k in range(5):
        fold = runs / f"fold_{k}"
        fold.mkdir(parents=True)
        v = val[val["model_fold"] == k].drop(columns="model_fold")
        v.to_csv(fold / "val.csv", index=False)
        boost_val.loc[[(i, k) for i in v["id"]]].reset_index().to_csv(fold / "boost_val.csv",
                                                                      index=False)
        t = test[test["partition"] == k]
        t.to_csv(fold / "heldout.csv", index=False)
        boost_test.loc[t["id"]].reset_index().to_csv(fold / "boost_heldout.csv", index=False)
        for which, frame in hits.items():
            frame[frame["model_fold"] == str(k)].drop(columns="model_fold").to_csv(
                fold / f"hits_{which}.csv", index=False)


def run_dir(ckpt: Path, results: Path, tmp: Path) -> Path:
    """A set's ``runs/`` folder: its own when training left one, else rebuilt under ``tmp`` from
    the committed tables (``ckpt``'s and ``results``')."""
    if (ckpt / "runs" / "fold_0" / "val.csv").exists():
        return ckpt / "runs"
    rebuild_runs(ckpt, results, tmp / "runs")
    return tmp / "runs"


def main(argv: list[str]) -> int:
    dataset_dir, ckpt, results = (Path(a) for a in argv[:3])
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").astype({"partition": int})
    calibration = set(table.loc[table["source"] == CALIBRATE_ON, "id"])
    manifest = ckpt / "manifest.json"  # whether the shipped stackers carry top-label maps
    shipped = (json.loads(manifest.read_text()).get("stacking") or {}) if manifest.is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rebuild_runs(ckpt, results, out / "runs")
        setting = stacking.fit_stage(out, table, calibration,
                                     f"validation proteins from {CALIBRATE_ON}",
                                     log=lambda m: None,
                                     top_label=bool(shipped.get("top_label")),
                                     calibration_weights=grid(shipped))
        (out / "heldout.csv").replace(results / "heldout_stacked.csv")
        print("| stacker (validation rows cross-fitted by fold model) | validation MCC |")
        print("|---|---|")
        best = max(setting["validation_mcc"].values())
        for key, score in setting["validation_mcc"].items():
            print(f"| {key} | {score:.4f}{' **chosen**' if score == best else ''} |")
        print(f"\nChosen: group interactions {setting['by_group']}, vote {setting['vote']}, "
              f"C {setting['c']}; temperature {setting['temperature']} on the "
              f"{len(calibration)} proteins from {CALIBRATE_ON} (their validation rows).")
        if "calibration_weight" in setting:
            print(f"\nThose rows counted {setting['calibration_weight']:g} times in the stacker's "
                  "fit, chosen by their MCC (cross-fitted, temperature and group rule after): "
                  + ", ".join(f"weight {w}: {m:.4f}"
                              for w, m in setting["calibration_weight_mcc"].items()) + ".")
        same = _same_stackers(out, ckpt, setting)
    print(f"Refitted stackers {'equal' if same else 'DIFFER FROM'} the ones in {ckpt}.")
    return 0 if same else 1


def grid(shipped: dict) -> tuple[float, ...]:
    """The calibration weights the shipped stacker chose among (1 alone when it had none)."""
    return tuple(float(w) for w in shipped.get("calibration_weight_mcc") or ("1",))


def _same_stackers(refit: Path, ckpt: Path, setting: dict) -> bool:
    for name in setting["folds"].values():
        if not (ckpt / name).is_file():
            return False
        a, b = stacking.load(refit / name), stacking.load(ckpt / name)
        if a.keys() != b.keys() or not all(np.allclose(a[k], b[k], atol=1e-6) for k in a):
            return False
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
