"""Two checkpoint sets compared on the validation rows they share: the choice between them
made without their test folds.

    .venv/bin/python scripts/compare_validation.py data_build/dataset OLD NEW \
        [OLD_RESULTS [NEW_RESULTS]]

OLD and NEW are checkpoint sets trained with a stacker (``stacking: {}``). A set is read from
its run directory (``NEW/runs/fold_k/``, as ``protloc train`` leaves it) or, for a shipped set
without one (``checkpoints/default``), from the committed tables
``scripts/stacking_experiment.py`` reads (``OLD/validation.csv`` plus a results folder,
``docs/results/stacking/`` unless given). For each set: the stacker option it chose,
cross-fitted by fold model, as in ``protloc.stacking.fit_stage``. Printed, DeepLocPro's group
rule applied: MCC on the shared rows (each protein a validation protein of the same fold model in
both; the sets may train on different sources) and on the shared DeepLocPro-labelled rows, and
MCC(NEW) - MCC(OLD) with a paired bootstrap 95% interval (1,000 resamples, seed 0).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from protloc import stacking
from protloc.classes import apply_group_rules
from protloc.metrics import mcc, paired_bootstrap

try:  # imported as part of the scripts package (tests) or run as a file
    from scripts.stacking_experiment import run_dir
except ModuleNotFoundError:
    from stacking_experiment import run_dir

RESULTS = Path("docs/results/stacking")
BENCHMARK = "deeplocpro_benchmark"


def chosen(ckpt: Path, table: pd.DataFrame, results: Path = RESULTS) -> tuple[pd.DataFrame, tuple]:
    """Id, label index and predicted index of a set's chosen stacker option, and that option."""
    with tempfile.TemporaryDirectory() as tmp:
        v = stacking.validation_options(run_dir(ckpt, results, Path(tmp)).parent, table)
    probs = apply_group_rules(v["options"][v["best"]], v["groups"])
    calls = pd.DataFrame({"id": v["ids"], "y": v["y"], "call": probs.argmax(axis=1)})
    return calls, v["best"]


def main(argv: list[str]) -> int:
    dataset_dir, old, new = (Path(a) for a in argv[:3])
    old_results, new_results = (Path(a) for a in (argv[3:5] + [RESULTS, RESULTS])[:2])
    table = pd.read_csv(dataset_dir / "dataset.tsv", sep="\t").astype({"partition": int})
    (a, option_a), (b, option_b) = chosen(old, table, old_results), chosen(new, table, new_results)
    both = a.merge(b, on=["id", "y"], suffixes=("_old", "_new"))
    benchmark = both["id"].isin(table.loc[table["source"] == BENCHMARK, "id"]).to_numpy()
    print(f"| rows | n | MCC {old.name} | MCC {new.name} | difference, 95% CI |")
    print("|---|---|---|---|---|")
    for name, rows in (("shared validation rows", np.ones(len(both), bool)),
                       (f"of which {BENCHMARK}", benchmark)):
        y, p, q = (both.loc[rows, c].to_numpy() for c in ("y", "call_old", "call_new"))
        lo, hi = paired_bootstrap(y, p, q)
        print(f"| {name} | {rows.sum():,} | {mcc(y, p):.4f} | {mcc(y, q):.4f} | "
              f"{mcc(y, q) - mcc(y, p):+.4f} [{lo:+.4f}, {hi:+.4f}] |")
    print(f"\nOptions chosen: {old.name} {option_a}, {new.name} {option_b} "
          f"(group interactions, vote, C). Rows only in {new.name}: {len(b) - len(both):,}; "
          f"only in {old.name}: {len(a) - len(both):,}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
