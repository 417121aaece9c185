"""Ablation table: fold-0 held-out metrics of each ablation run beside the baseline's fold 0.

    python scripts/ablation_table.py --data BUILD --data-dir DATA --baseline checkpoints/default \
        --out docs/results/ablations.md runs/ablations/*/

Every run is evaluated by ``protloc evaluate``'s code on the same proteins (test partition 0:
all of them, and the DeepLocPro benchmark proteins among them, with the organism-group rule).
The MCC difference to the baseline gets a paired bootstrap 95% interval (1,000 resamples of the
proteins, seed 0), so that differences inside the noise of one fold are not read as wins.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from protloc.classes import CLASSES, COLUMN_NAMES
from protloc.crossval import evaluate_checkpoint, read_heldout
from protloc.metrics import mcc, paired_bootstrap

FOLD = 0
N_BOOT = 1000


def fold_results(checkpoint: Path, data: Path, data_dir: Path) -> tuple[dict, pd.DataFrame]:
    """evaluate_checkpoint on the fold-0 rows of a checkpoint set's heldout.csv."""
    table = read_heldout(checkpoint)
    table = table[table["partition"].astype(str) == str(FOLD)]
    with tempfile.TemporaryDirectory() as tmp:
        table.to_csv(Path(tmp) / "heldout.csv", index=False)
        results = evaluate_checkpoint(Path(tmp), data=data, data_dir=data_dir).to_dict()
    return results, table.set_index("id")


def run_facts(checkpoint: Path) -> dict:
    """Best epoch and training seconds of fold 0 (from the run's log and done marker)."""
    run = checkpoint / "runs" / f"fold_{FOLD}"
    facts = {"best_epoch": None, "seconds": None}
    if (run / "done.json").is_file():
        facts["best_epoch"] = json.loads((run / "done.json").read_text()).get("best_epoch")
    if (run / "log.tsv").is_file():
        log = pd.read_csv(run / "log.tsv", sep="\t")  # header: epoch, train_loss, val_mcc, seconds
        facts["seconds"] = float(log["seconds"].sum())
    return facts


def predictions(table: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """Predicted class indices (held-out probabilities, no group rule: a paired comparison)."""
    probs = table.loc[ids, [COLUMN_NAMES[c] for c in CLASSES]].to_numpy(dtype=float)
    return probs.argmax(axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args(argv)

    base_results, base_table = fold_results(args.baseline, args.data, args.data_dir)
    ids = base_table.index
    y = np.array([CLASSES.index(c) for c in base_table.loc[ids, "label"]])
    base_pred = predictions(base_table, ids)
    rows = [_row(f"baseline ({args.baseline.name})", base_results, run_facts(args.baseline), None)]
    unfinished = []
    for run in sorted(args.runs):
        if not (run / "heldout.csv").is_file():
            print(f"skipping {run}: no heldout.csv", file=sys.stderr)
            unfinished.append((run.name, last_error(run)))
            continue
        results, table = fold_results(run, args.data, args.data_dir)
        if set(table.index) != set(ids):
            raise SystemExit(f"{run}: fold {FOLD} proteins differ from the baseline's")
        interval = paired_bootstrap(y, base_pred, predictions(table, ids), N_BOOT)
        rows.append(_row(run.name, results, run_facts(run), interval))
    text = render(rows, base_results, unfinished, baseline=str(args.baseline))
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def last_error(run: Path) -> str:
    """The last line of the run's log (``RUNS/NAME.log``, as scripts/ablations.sh writes it)."""
    log = run.parent / f"{run.name}.log"
    lines = log.read_text(errors="replace").strip().splitlines() if log.is_file() else []
    return lines[-1].strip() if lines else "no log"


def _row(name: str, results: dict, facts: dict, interval) -> dict:
    overall = results["all"]["overall"]
    bench = (results.get("benchmark") or {}).get("predictors", {}).get("protloc")
    return {
        "name": name,
        "n": results["all"]["n"],
        "acc": overall["accuracy"],
        "f1": overall["macro_f1"],
        "mcc": overall["mcc"],
        "ece": results["all"]["calibration"]["ece"],
        "bench_n": bench["n"] if bench else None,
        "bench_mcc": bench["overall"]["mcc"] if bench else None,
        "bench_f1": bench["overall"]["macro_f1"] if bench else None,
        "interval": interval,
        **facts,
    }


def render(
    rows: list[dict], base_results: dict, unfinished=(), baseline: str = "checkpoints/offline-v1"
) -> str:
    dlp = (base_results.get("benchmark") or {}).get("predictors", {}).get("DeepLocPro")
    lines = [
        "# Ablations of the offline model",
        "",
        "Written by `scripts/ablation_table.py` (run by `PROTLOC_DATA=../shared/data bash "
        "scripts/ablations.sh`). Each variant changes one thing in `configs/offline.yaml` "
        "(its config is `configs/ablations/NAME.yaml`) and is trained on test partition 0 "
        f"(validation partition 1, seed 0); the baseline is fold 0 of `{baseline}` "
        "(trained from `configs/offline.yaml`). "
        "All rows are held-out predictions on the same partition-0 proteins, organism-group "
        "rule applied. ΔMCC: paired bootstrap 95% interval of the variant's MCC minus the "
        "baseline's on all partition-0 proteins (1,000 resamples); an interval containing 0 "
        "means no measurable difference on one fold. A row named after a checkpoint set "
        "(such as `default`) is fold 0 of that set; its manifest names its config.",
        "",
        "| variant | n | accuracy | macro-F1 | MCC | ΔMCC 95% CI | ECE | benchmark n | "
        "benchmark macro-F1 | benchmark MCC | best epoch | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ci = "–" if r["interval"] is None else f"[{r['interval'][0]:+.3f}, {r['interval'][1]:+.3f}]"
        secs = "–" if r["seconds"] is None else f"{r['seconds']:.0f}"
        epoch = "–" if r["best_epoch"] is None else str(r["best_epoch"])
        lines.append(
            f"| {r['name']} | {r['n']} | {r['acc']:.3f} | {r['f1']:.3f} | {r['mcc']:.3f} | {ci} | "
            f"{r['ece']:.3f} | {r['bench_n'] or '–'} | {_f(r['bench_f1'])} | {_f(r['bench_mcc'])} | "
            f"{epoch} | {secs} |"
        )
    if dlp:
        lines += [
            "",
            f"DeepLocPro's own held-out predictions on the same {dlp['n']} benchmark proteins of "
            f"partition 0: macro-F1 {dlp['overall']['macro_f1']:.3f}, MCC {dlp['overall']['mcc']:.3f}.",
        ]
    if unfinished:
        lines += ["", "Not in the table (the run did not finish; last line of its log):", ""]
        lines += [f"- {name}: `{message}`" for name, message in unfinished]
    return "\n".join(lines) + "\n"


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    sys.exit(main())
