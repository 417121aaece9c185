"""Which inputs matter? The gradient-boosting read-out of a config's streams, with one input left
out at a time, on the same 5 homology partitions (test fold k, trees chosen on fold k+1).

    nice .venv/bin/python scripts/ablate_streams.py data_build/dataset configs/unirep_v1.yaml \
        > docs/results/stream_ablations.md

Variants: all inputs; without each stream of the config; without the organism group (every
protein "unknown"). Out-of-fold predictions, DeepLocPro's group rule applied for the metrics
(also when the group is not an input: it is the rule both use), benchmark and all proteins,
ΔMCC against "all inputs" with a paired bootstrap 95% interval. Boosting stands in for the fusion
network here because it trains in minutes; seed 0 everywhere; embeddings from the cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from protloc.boosting import POOLS, fit, pooled_matrix, predict_raw, tree_arrays
from protloc.classes import CLASSES, GROUPS, apply_group_rules
from protloc.embedders import make_embedder
from protloc.experiment import data_summary, embed_table, load_config, load_dataset
from protloc.metrics import calibration, mcc, paired_bootstrap
from protloc.mixing import softmax
from protloc.training import fold_split

FAST = dict(learning_rate=0.15, max_iter=150)


def column_blocks(specs: list[dict], dims: list[int]) -> dict[str, np.ndarray]:
    blocks, start = {}, 0
    for spec, dim in zip(specs, dims):
        blocks[spec["id"]] = np.arange(start, start + len(POOLS) * dim)
        start += len(POOLS) * dim
    blocks["group"] = np.arange(start + 1, start + 1 + len(GROUPS))
    return blocks


def out_of_fold(x, labels, partitions, trainable, log) -> np.ndarray:
    probs = np.zeros((len(labels), len(CLASSES)))
    for k in range(5):
        train, val, test = fold_split(partitions, k, trainable)
        model = fit(x[train], labels[train], x[val], labels[val], len(CLASSES), **FAST)
        probs[test] = softmax(predict_raw(tree_arrays(model), x[test]))
        log(f"  fold {k}: {model.n_iter_} rounds")
    return probs


def main(dataset_dir: Path, config_path: Path) -> None:
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    config = load_config(config_path)
    table = load_dataset(dataset_dir, config.get("sources"))
    specs = [make_embedder(s).spec() for s in config["embedders"]]
    data = embed_table(table, specs, None, log)
    x_all = pooled_matrix(data.streams, data.groups)
    blocks = column_blocks(specs, [make_embedder(s).dim for s in specs])
    _, trainable = data_summary(dataset_dir, table, config)
    partitions = table["partition"].to_numpy()
    variants = {"all inputs": x_all}
    for name, columns in blocks.items():
        x = x_all.copy()
        if name == "group":
            x[:, columns] = 0.0
            x[:, columns[0]] = 1.0  # every protein "unknown"
        else:
            x = np.delete(x, columns, axis=1)
        variants[f"without {name}"] = x
    groups = table["group"].to_numpy()
    bench = (table["in_benchmark"].astype(str).str.lower() == "true").to_numpy()
    calls = {}
    print("| variant | benchmark accuracy | macro-F1 | MCC | ECE | ΔMCC, 95% CI | all: MCC |\n"
          "|---|---|---|---|---|---|---|")
    for name, x in variants.items():
        log(name)
        probs = apply_group_rules(out_of_fold(x, data.labels, partitions, trainable, log), groups)
        calls[name] = probs.argmax(axis=1)
        y, p = data.labels, calls[name]
        delta = "–"
        if name != "all inputs":
            lo, hi = paired_bootstrap(y[bench], calls["all inputs"][bench], p[bench])
            delta = f"{mcc(y[bench], p[bench]) - mcc(y[bench], calls['all inputs'][bench]):+.3f} [{lo:+.3f}, {hi:+.3f}]"
        ece = calibration(probs[bench], [CLASSES[i] for i in y[bench]])["ece"]
        print(f"| {name} | {np.mean(y[bench] == p[bench]):.3f} | "
              f"{f1_score(y[bench], p[bench], average='macro'):.3f} | {mcc(y[bench], p[bench]):.3f} | "
              f"{ece:.3f} | {delta} | {mcc(y, p):.3f} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
