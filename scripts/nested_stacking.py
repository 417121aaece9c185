"""A strictly nested evaluation of a checkpoint set's stacking stage (a sensitivity check; the
shipped set is unchanged).

``protloc.stacking.fit_stage`` makes its set-level choices (group interactions, vote, C, the
calibration rows' weight, the temperature) once, on every fold model's validation rows. Each of
those rows is a protein that is the test protein of another fold model, so for test fold k those
choices have seen partition k's labels (in their validation role). Here every choice for test
fold k is made again on validation rows of proteins outside partition k only, cross-fitted by
fold model among those rows, and test fold k is predicted with them: the held-out predictions a
fully nested procedure would have given.

    .venv/bin/python scripts/nested_stacking.py data_build/dataset checkpoints/default \
        docs/results/joined OUT.csv

Prints each fold's choices; writes OUT.csv in ``heldout.csv``'s layout (then
``scripts/compare_models.py data_build/dataset checkpoints/default OUT.csv``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import matthews_corrcoef

from protloc import stacking

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.stacking_experiment import CALIBRATE_ON, run_dir
except ModuleNotFoundError:
    from stacking_experiment import CALIBRATE_ON, run_dir


def choices_for(v: dict, k: int, pick: np.ndarray, weights, top_label: bool = True) -> dict:
    """Every set-level setting for test fold k, from validation rows outside partition k (and a
    top-label map when the set has them)."""
    rows = v["partition"] != k
    sub = {**v, "y": v["y"][rows], "groups": v["groups"][rows],
           "model_fold": v["model_fold"][rows], "fusion": v["fusion"][rows],
           "boosting": v["boosting"][rows],
           "hits": None if v["hits"] is None else [h for h, r in zip(v["hits"], rows) if r]}
    options = stacking.option_grid(sub["fusion"], sub["boosting"], sub["groups"], sub["hits"],
                                   sub["y"], sub["model_fold"])
    best, _ = stacking.choose(options, sub["y"])
    sub["options"], sub["best"] = options, best
    setting = {"by_group": best[0], "vote": best[1], "c": best[2]}
    x = stacking.member_inputs(setting, sub["fusion"], sub["boosting"], sub["groups"],
                               sub["hits"])
    weight, chosen, _ = stacking._calibration_weight(x, sub, setting, pick[rows], weights)
    setting["weight"] = weight
    setting["temperature"] = round(stacking.fit_temperature(
        chosen[pick[rows]], sub["y"][pick[rows]], sub["groups"][pick[rows]]), 4)
    stacker = stacking.to_arrays(stacking._fit(
        x, sub["y"], setting["c"], np.where(pick[rows], weight, 1.0) if weight != 1 else None))
    if top_label:
        stacker["top_label"] = stacking._top_label_map(chosen, sub, setting, pick[rows])
    return {"setting": setting, "stacker": stacker}


def main(argv: list[str]) -> int:
    dataset_dir, ckpt, results, out_csv = (Path(a) for a in argv[:4])
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").astype({"partition": int})
    shipped = json.loads((ckpt / "manifest.json").read_text())["stacking"]
    weights = tuple(float(w) for w in shipped.get("calibration_weight_mcc") or ("1",))
    by_id = table.set_index("id")
    heldout = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = run_dir(ckpt, results, Path(tmp))
        v = stacking.validation_options(runs.parent, table)
        pick = np.isin(v["ids"], table.loc[table["source"] == CALIBRATE_ON, "id"])
        print("| test fold | group interactions | vote | C | weight | temperature |")
        print("|---|---|---|---|---|---|")
        for k in range(5):
            fold = choices_for(v, k, pick, weights, bool(shipped.get("top_label")))
            s = fold["setting"]
            print(f"| {k} | {s['by_group']} | {s['vote']} | {s['c']} | {s['weight']:g} "
                  f"| {s['temperature']:.4f} |")
            heldout.append(stacking.predict_test_fold(runs / f"fold_{k}", fold["stacker"], s,
                                                      by_id))
    out = pd.concat(heldout)
    out.to_csv(out_csv, index=False, float_format="%.5f")
    bench = out.merge(table[["id", "in_benchmark"]], on="id")
    bench = bench[bench["in_benchmark"].astype(bool)]
    print(f"\nwrote {out_csv}: {len(out)} proteins; before the group rule, MCC all "
          f"{matthews_corrcoef(out['label'], out['prediction']):.4f}, benchmark "
          f"{matthews_corrcoef(bench['label'], bench['prediction']):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
