"""Throughput of ``protloc predict`` on a Dask LocalCluster of 1 and 2 worker processes, against
the single-process predictor, with the default model; and from the measured cost per residue a
sizing table for 10 million proteins on CPU and GPU nodes (issue 17).

What is measured: single-process and cluster throughput on this machine (random proteins with
DeepLocPro-like lengths, no embedding cache, CSV output, the shards' Parquet files and the merge
included), cluster start-up, and the workers' busy share. What is projected: everything in the
sizing table (linear scaling over cores and nodes at the measured 1 -> 2 worker efficiency, and
for GPUs an assumed rate; see the assumptions printed with it).

    .venv/bin/python -m benchmarks.bench_cluster            # checkpoints/default: 3-10 min
    .venv/bin/python -m benchmarks.bench_cluster --quick    # 120 proteins, for checking
    .venv/bin/python -m benchmarks.bench_cluster --checkpoint checkpoints/other --cost-factor 1

Every process and worker uses ``--threads`` torch threads (default 1): the single process then
measures the cost of one core, and 2 workers on 2 cores show how the work scales over cores
(on a 2-core machine shared with other jobs, 2 torch threads spin-wait on each other).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _common as C

NAME = "bench_cluster"
TARGET_PROTEINS = 10_000_000
#: The protein-LM stream (UniRep mLSTM 1900) costs about 36 MFLOP per residue (issue 17).
LM_FLOP_PER_RESIDUE = 36e6
#: Assumed sustained rate of one data-centre GPU on that stream (batched mLSTM steps are
#: (B x 1900) x (1900 x 7600) matrix products): about a third of an A100's dense TF32 rate.
#: An assumption, not a measurement; re-run with --device cuda on a GPU node to replace it.
GPU_FLOPS = 20e12
CPU_NODE_CORES = 32
NODE_COUNTS = (1, 4, 16, 64)
GPU_COUNTS = (1, 4, 16, 64)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=C.ROOT / "checkpoints" / "default")
    p.add_argument("--quick", action="store_true", help="120 proteins")
    p.add_argument("--proteins", type=int, default=None, help="proteins per run (2000)")
    p.add_argument("--workers", default="1,2", help="worker counts to measure")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--shard-residues", type=int, default=None,
                   help="default: the input cut in 8 shards (2 workers get 4 each; 104,000 "
                   "for 2,000 proteins); small shards cost padding")
    p.add_argument("--cost-factor", type=float, default=10.0,
                   help="projected cost of the next default model relative to this one")
    p.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--reproject", action="store_true",
                   help="measure nothing: redo the projection from the saved results JSON")
    return p.parse_args(argv)


def write_fasta(path: Path, n: int) -> tuple[int, float]:
    lengths = C.deeplocpro_lengths(n, seed=1)
    rng = np.random.default_rng(0)
    with open(path, "w") as handle:
        for i, length in enumerate(lengths):
            handle.write(f">b{i}\n{C.random_protein(int(length), rng)}\n")
    return int(lengths.sum()), float(lengths.mean())


def single_process(checkpoint: Path, fasta: Path, threads: int) -> dict:
    import torch

    from protloc.predictor import EnsemblePredictor
    from protloc.sequences import read_fasta

    torch.set_num_threads(threads)
    predictor = EnsemblePredictor.from_dir(checkpoint)
    records = read_fasta(fasta)
    start = time.perf_counter()
    predictions = predictor.predict(records, group="unknown")
    seconds = time.perf_counter() - start
    probs = np.array([p.probabilities for p in predictions])
    return {"seconds": seconds, "torch_threads": torch.get_num_threads(), "_probs": probs}


def on_cluster(checkpoint: Path, fasta: Path, workers: int, shard_residues: int,
               tmp: Path, threads: int) -> dict:
    import pyarrow.parquet as pq
    from distributed import Client, LocalCluster

    from protloc import cluster

    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as lc, \
            Client(lc) as client:
        startup = time.perf_counter() - start
        out = tmp / f"w{workers}"
        job = cluster.Job(model=str(checkpoint.resolve()), shard_dir=str(out / "shards"),
                          threads=threads).with_fingerprint()
        warm = tmp / f"warm{workers}.fa"  # one tiny shard per worker: model loads, imports
        warm.write_text("".join(f">w{i}\nMKVLAAGIVALLLAACSSKEEPAQ\n" for i in range(workers)))
        cluster.predict_on_cluster(client, warm, tmp / f"warm{workers}", job, "csv", 10)
        summary = cluster.predict_on_cluster(client, fasta, out, job, "csv", shard_residues)
    tables = [pq.read_table(out / "shards" / f"{k}.parquet").to_pandas() for k in summary.shards]
    probs = np.array([p for t in tables for p in t["Probabilities"]])
    return {"workers": workers, "torch_threads_per_worker": threads, "startup_s": startup,
            "seconds": summary.seconds, "shards": len(summary.shards),
            "busy_share": summary.task_seconds / (summary.seconds * workers), "_probs": probs}


def sizing(cost_core_s: float, efficiency: float, mean_length: float, factor: float) -> dict:
    """Projected wall time for TARGET_PROTEINS proteins from a per-core cost per residue."""
    residues = TARGET_PROTEINS * mean_length
    cpu = {}
    for nodes in NODE_COUNTS:
        rate = nodes * CPU_NODE_CORES * efficiency / cost_core_s
        cpu[nodes] = {"now_h": residues / rate / 3600, "next_h": residues * factor / rate / 3600}
    gpu_rate = GPU_FLOPS / LM_FLOP_PER_RESIDUE
    gpu = {n: residues / (n * gpu_rate) / 3600 for n in GPU_COUNTS}
    return {"residues": residues, "cpu_hours": cpu, "gpu_lm_hours": gpu,
            "gpu_residues_per_s": gpu_rate}


def measure(args) -> dict:
    n = args.proteins or (120 if args.quick else 2000)
    info = C.machine_info()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        fasta = tmp / "bench.fa"
        residues, mean_length = write_fasta(fasta, n)
        shard_residues = args.shard_residues or -(-residues // 8)
        base = single_process(args.checkpoint, fasta, args.threads)
        runs = [on_cluster(args.checkpoint, fasta, int(w), shard_residues, tmp, args.threads)
                for w in args.workers.split(",")]
    for run in [base, *runs]:
        run["residues_per_s"] = residues / run["seconds"]
        run["proteins_per_s"] = n / run["seconds"]
    for run in runs:
        run["max_abs_diff_vs_single"] = float(np.abs(run.pop("_probs") - base["_probs"]).max())
    base.pop("_probs")
    return {"machine": info, "checkpoint": C._show(args.checkpoint), "proteins": n,
            "residues": residues, "mean_length": mean_length,
            "shard_residues": shard_residues, "single": base, "cluster": runs}


def add_projection(result: dict, factor: float) -> None:
    # core-seconds per residue on the cluster path with one worker (shards, Parquet and merge
    # included: what a big run pays), else the single process's
    one = [r for r in result["cluster"] if r["workers"] == 1] or [result["single"]]
    threads = one[0].get("torch_threads_per_worker", one[0].get("torch_threads", 1))
    cost = threads / one[0]["residues_per_s"]
    by_workers = {r["workers"]: r["residues_per_s"] for r in result["cluster"]}
    efficiency = min(1.0, by_workers.get(2, 0) / (2 * by_workers[1])) if 1 in by_workers else 1.0
    result["projection"] = {"core_seconds_per_residue": cost, "scaling_efficiency": efficiency,
                            "cost_factor_next_model": factor, "cpu_node_cores": CPU_NODE_CORES,
                            "gpu_flops_assumed": GPU_FLOPS,
                            "lm_flop_per_residue": LM_FLOP_PER_RESIDUE,
                            **sizing(cost, efficiency, result["mean_length"], factor)}


def markdown(result: dict) -> str:
    s, p = result["single"], result["projection"]
    lines = [
        C.machine_line(result["machine"]), "",
        f"Measured: {result['proteins']:,} random proteins, {result['residues']:,} residues "
        f"(mean {result['mean_length']:.0f}), `{result['checkpoint']}`, CSV output, shards of "
        f"{result['shard_residues']:,} residues.", "",
        "| run | workers x torch threads | time | residues/s | proteins/s | workers busy | "
        "start-up | max abs diff vs single |",
        "|---|---|---|---|---|---|---|---|",
        f"| one process (`EnsemblePredictor.predict`) | 1 x {s['torch_threads']} | "
        f"{s['seconds']:.1f} s | {s['residues_per_s']:,.0f} | {s['proteins_per_s']:.1f} | - | - "
        "| - |",
    ]
    for r in result["cluster"]:
        lines.append(
            f"| `--cluster local:{r['workers']}` ({r['shards']} shards) | {r['workers']} x "
            f"{r['torch_threads_per_worker']} | {r['seconds']:.1f} s | {r['residues_per_s']:,.0f}"
            f" | {r['proteins_per_s']:.1f} | {r['busy_share']:.0%} | {r['startup_s']:.1f} s | "
            f"{r['max_abs_diff_vs_single']:.1e} |")
    lines += ["", *projection_lines(p, result["mean_length"])]
    return "\n".join(lines)


def projection_lines(p: dict, mean_length: float) -> list[str]:
    factor = p["cost_factor_next_model"]
    rows = [
        f"**Projected** (not measured) for {TARGET_PROTEINS:,} proteins of mean length "
        f"{mean_length:.0f} ({p['residues'] / 1e9:.1f} G residues), from the "
        f"{p['core_seconds_per_residue'] * 1e6:.1f} core-microseconds per residue measured on "
        "the cluster path with 1 worker, "
        f"{CPU_NODE_CORES}-core CPU nodes, linear in cores and nodes at the measured 1 -> 2 "
        f"worker efficiency ({p['scaling_efficiency']:.0%}); the last column assumes the "
        f"next default model costs {factor:g}x more per residue (the UniRep stream being "
        "added); driver and start-up time not included:", "",
        f"| CPU nodes ({CPU_NODE_CORES} cores) | today's default model | a {factor:g}x costlier "
        "model |", "|---|---|---|",
    ]
    for nodes, h in p["cpu_hours"].items():
        rows.append(f"| {nodes} | {_hours(h['now_h'])} | {_hours(h['next_h'])} |")
    rows += [
        "", f"GPU nodes, **projected from an assumed rate**: the protein-LM stream at "
        f"{p['lm_flop_per_residue'] / 1e6:.0f} MFLOP per residue and an assumed sustained "
        f"{p['gpu_flops_assumed'] / 1e12:.0f} TFLOP/s per GPU "
        f"({p['gpu_residues_per_s']:,.0f} residues/s per GPU; one worker per GPU). No GPU was "
        "available to measure this; today's default model has no LM stream and gains nothing "
        "from a GPU.", "",
        "| GPUs | LM-stream model |", "|---|---|",
    ]
    rows += [f"| {n} | {_hours(h)} |" for n, h in p["gpu_lm_hours"].items()]
    return rows


def _hours(h: float) -> str:
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.reproject:
        import json

        saved = C.RESULTS / f"{NAME}{'-quick' if args.quick else ''}.json"
        result = json.loads(saved.read_text())
    else:
        result = measure(args)
    add_projection(result, args.cost_factor)
    md = markdown(result)
    print(md)
    C.record(NAME, result, md, args.quick, not (args.quick or args.no_doc))
    worst = max(r["max_abs_diff_vs_single"] for r in result["cluster"])
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
