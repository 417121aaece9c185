"""Speed of the app's predictions with the default model that ships (issue 5 targets): one
protein on the Predict page (target: under 1 s after warm-up) and a batch of 1,000 proteins on
the Batch page (target: under 60 s), on CPU.

Both go through the same calls the pages make: ``parse_text`` on the pasted or uploaded FASTA,
then ``EnsemblePredictor.predict(records, group, attention=True, progress=...)`` with the
checkpoint set loaded once (as ``st.cache_resource`` keeps it). Proteins are random sequences
with DeepLocPro-like lengths (mean about 418, at most 999); the single protein has 400 residues.
No embedding cache: every protein is embedded from scratch, as a new upload would be.

    .venv/bin/python -m benchmarks.bench_app            # checkpoints/default: about 1 min
    .venv/bin/python -m benchmarks.bench_app --quick    # 50 proteins, 2 repeats
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import _common as C

NAME = "bench_app"
SINGLE_TARGET_S = 1.0
BATCH_TARGET_S = 60.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=C.ROOT / "checkpoints" / "default")
    p.add_argument("--quick", action="store_true", help="50 proteins, 2 repeats")
    p.add_argument("--batch", type=int, default=None, help="proteins in the batch (1000)")
    p.add_argument("--repeats", type=int, default=None, help="single-protein repeats (5)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--fasta", type=Path, default=None,
                   help="time the batch on the first --batch records of this FASTA file (real "
                        "proteins: the homology vote then has hits to align) instead of random "
                        "sequences; recorded as bench_app-fasta.json, the doc is left alone")
    return p.parse_args(argv)


def real_batch(path: Path, n: int) -> tuple[str, np.ndarray]:
    """The first ``n`` records of a FASTA file, re-written plainly, and their lengths."""
    from Bio import SeqIO

    records = [r for _, r in zip(range(n), SeqIO.parse(path, "fasta"))]
    text = "".join(f">{r.id}\n{r.seq}\n" for r in records)
    return text, np.array([len(r.seq) for r in records])


def fasta(lengths, rng: np.random.Generator) -> str:
    return "".join(f">p{i}\n{C.random_protein(int(n), rng)}\n" for i, n in enumerate(lengths))


def time_single(predictor, text: str, repeats: int) -> list[float]:
    from protloc.sequences import parse_text

    predictor.predict(parse_text(text), group="negative", attention=True)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(parse_text(text), group="negative", attention=True)
        times.append(time.perf_counter() - start)
    return times


def time_batch(predictor, text: str) -> tuple[float, int, int]:
    from protloc.sequences import parse_text

    updates = []
    start = time.perf_counter()
    records = parse_text(text)
    preds = predictor.predict(records, group="unknown", attention=True,
                              progress=lambda done, total: updates.append(done))
    elapsed = time.perf_counter() - start
    return elapsed, sum(p is not None for p in preds), len(updates)


def markdown(result: dict) -> str:
    s, b = result["single"], result["batch"]
    return "\n".join([
        C.machine_line(result["machine"]),
        "",
        "| what | proteins | residues | time | target | met |",
        "|---|---|---|---|---|---|",
        f"| one protein (Predict page), median of {len(s['times_s'])} after warm-up | 1 | "
        f"{s['residues']} | {s['median_s']:.3f} s | < {SINGLE_TARGET_S:g} s | "
        f"{'yes' if s['median_s'] < SINGLE_TARGET_S else 'no'} |",
        f"| batch (Batch page), {b['progress_updates']} progress updates | {b['proteins']} | "
        f"{b['residues']:,} | {b['seconds']:.1f} s ({b['proteins_per_s']:.1f} proteins/s) | "
        f"< {BATCH_TARGET_S:g} s | {'yes' if b['seconds'] < BATCH_TARGET_S else 'no'} |",
        "",
        f"Checkpoint set `{result['checkpoint']}` ({result['folds']} fold models, "
        f"{result['parameters_per_model']:,} parameters each), loading {result['load_s']:.2f} s "
        "(once per server, `st.cache_resource`).",
    ])


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from protloc.model import count_parameters
    from protloc.predictor import EnsemblePredictor

    n_batch = args.batch or (50 if args.quick else 1000)
    repeats = args.repeats or (2 if args.quick else 5)
    info = C.machine_info()
    start = time.perf_counter()
    predictor = EnsemblePredictor.from_dir(args.checkpoint, device="cpu")
    load_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    single = time_single(predictor, fasta([400], rng), repeats)
    if args.fasta is None:
        lengths = C.deeplocpro_lengths(n_batch, seed=1)
        batch_text = fasta(lengths, rng)
    else:
        batch_text, lengths = real_batch(args.fasta, n_batch)
        n_batch = len(lengths)
    seconds, answered, updates = time_batch(predictor, batch_text)
    result = {
        "machine": info,
        "checkpoint": C._show(args.checkpoint),
        "folds": len(predictor.models),
        "parameters_per_model": count_parameters(predictor.models[0]),
        "load_s": load_s,
        "single": {"residues": 400, "times_s": single, "median_s": statistics.median(single)},
        "batch": {"proteins": n_batch, "answered": answered, "residues": int(lengths.sum()),
                  "seconds": seconds, "proteins_per_s": n_batch / seconds,
                  "progress_updates": updates,
                  "source": "random" if args.fasta is None else args.fasta.name},
    }
    md = markdown(result)
    print(md)
    name = NAME if args.fasta is None else f"{NAME}-fasta"
    C.record(name, result, md, args.quick, not (args.quick or args.no_doc or args.fasta))
    return 0 if answered == n_batch else 1


if __name__ == "__main__":
    sys.exit(main())
