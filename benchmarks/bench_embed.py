"""Embedding throughput (residues/s) and peak memory of the ESM-2 650M and ProstT5 encoder
architectures with random weights, through protloc's embedders:

* ``one-by-one``: one forward pass per protein (as DeepLocPro embeds);
* ``batched``: protloc's default, length-sorted batches within a padded-token budget.

The proteins come in groups of near-equal lengths (``--per-group``, lengths L, L-2, L-4, ...)
centred on quantiles of DeepLocPro's length distribution (``--groups``); the batched mode embeds
each group with one call. That is what a length-sorted pass over a whole dataset gives (sorted
neighbours differ by a fraction of a residue), whereas a handful of proteins of very different
lengths in one call would be padded to the longest and measure padding, not batching.

Each backbone runs in its own subprocess (so peak memory is its own); inside it the one-by-one
pass runs first, then the batched one, each timed over the same proteins after a short warm-up.
Peak memory: resident set size on CPU (sampled; the model's weights included, and the growth over
the loaded model reported separately), ``torch.cuda.max_memory_allocated`` on a GPU. On CUDA the
embedders run in float16 (their default there).

    .venv/bin/python -m benchmarks.bench_embed            # full size, CPU: about 4-5 min
    .venv/bin/python -m benchmarks.bench_embed --quick --threads 1   # 4 + 2 layers, short: < 1 min
    .venv/bin/python -m benchmarks.bench_embed --device cuda --per-group 32   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _common as C

NAME = "bench_embed"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke-test sizes: 4-layer ESM-2, 2-layer ProstT5, proteins <= 120 aa")
    p.add_argument("--models", default="esm2,prostt5")
    p.add_argument("--groups", type=int, default=3,
                   help="length groups, at quantiles of DeepLocPro's lengths (default 3)")
    p.add_argument("--per-group", type=int, default=3,
                   help="proteins of near-equal length per group (default 3)")
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--esm-layers", type=int, default=None)
    p.add_argument("--prostt5-layers", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--token-budget", type=int, default=None,
                   help="padded tokens per batch (default: the embedder's default)")
    p.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def settings(args) -> dict:
    quick = args.quick
    return {
        "groups": args.groups,
        "per_group": args.per_group,
        "max_length": args.max_length or (120 if quick else C.DLP_MAX_LENGTH),
        "esm_layers": args.esm_layers or (4 if quick else C.ESM2_650M["num_layers"]),
        "prostt5_layers": args.prostt5_layers or (2 if quick else C.PROSTT5_ENCODER["num_layers"]),
    }


def worker(args) -> dict:
    import torch

    from protloc.embedders import ESM2Embedder, ProstT5Embedder

    if args.threads:
        torch.set_num_threads(args.threads)
    s = settings(args)
    scale = min(1.0, s["max_length"] / C.DLP_MAX_LENGTH)  # quick runs: same shape, shorter
    centres = [max(8, round(n * scale)) for n in C.length_quantiles(s["groups"])]
    groups, lengths = [], []
    for centre in centres:  # near-equal lengths, as sorted neighbours in a whole dataset
        groups.append(list(range(len(lengths), len(lengths) + s["per_group"])))
        lengths += [centre - 2 * j for j in range(s["per_group"])]
    rng = np.random.default_rng(0)
    seqs = [C.random_protein(n, rng) for n in lengths]
    device = torch.device(args.device)
    kw = {"device": device}
    if args.token_budget:
        kw["token_budget"] = args.token_budget
    started = time.perf_counter()
    if args.worker == "esm2":
        model, alphabet = C.random_esm2(num_layers=s["esm_layers"])
        embedder = ESM2Embedder.from_model(model, alphabet, name="esm2_random", **kw)
        arch = {**C.ESM2_650M, "num_layers": s["esm_layers"]}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            model, tokenizer = C.random_prostt5(Path(tmp), num_layers=s["prostt5_layers"])
        embedder = ProstT5Embedder.from_model(model, tokenizer, name="ProstT5-random", **kw)
        arch = {**C.PROSTT5_ENCODER, "num_layers": s["prostt5_layers"]}
    del model
    params = sum(p.numel() for p in embedder.model.parameters())
    build_s = time.perf_counter() - started
    embedder.embed([seqs[-1][:20]])  # warm-up: first-call allocations and kernel selection
    loaded = C.rss_bytes()
    out = {"model": args.worker, "architecture": arch, "parameters": params,
           "dtype": str(next(embedder.model.parameters()).dtype).replace("torch.", ""),
           "token_budget": embedder.token_budget, "lengths": lengths,
           "groups": groups, "residues": int(sum(lengths)), "build_seconds": round(build_s, 1),
           "rss_loaded_gib": C.gib(loaded), "modes": {}}
    reference = None
    for mode in ("one-by-one", "batched"):
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        with C.PeakRSS() as peak:
            t0 = time.perf_counter()
            if mode == "one-by-one":
                result = [embedder.embed([q])[0] for q in seqs]
            else:  # one call per group: what a length-sorted pass over a dataset gives
                result = [None] * len(seqs)
                for group in groups:
                    for i, arr in zip(group, embedder.embed([seqs[i] for i in group])):
                        result[i] = arr
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
        entry = {"seconds": round(seconds, 3),
                 "residues_per_s": round(sum(lengths) / seconds, 1),
                 "peak_rss_gib": C.gib(peak.peak),
                 "peak_rss_over_loaded_gib": C.gib(max(peak.peak - loaded, 0))}
        if device.type == "cuda":
            entry["peak_cuda_gib"] = C.gib(torch.cuda.max_memory_allocated())
        if mode == "batched":
            from protloc.embedders import length_sorted_batches

            batches = [length_sorted_batches([lengths[i] + 2 for i in g], embedder.token_budget,
                                             embedder.max_batch) for g in groups]
            entry["batches"] = sum(len(b) for b in batches)
            padded = sum(len(b) * max(lengths[g[i]] for i in b)
                         for g, bs in zip(groups, batches) for b in bs)
            entry["padding_fraction"] = round(1 - sum(lengths) / padded, 4)
            entry["max_abs_diff_vs_one_by_one"] = float(max(
                np.abs(a - b).max() for a, b in zip(result, reference)))
        reference = result
        out["modes"][mode] = entry
        print(f"  {args.worker} {mode}: {entry}", file=sys.stderr, flush=True)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # so that machine_info reports it
    info = C.machine_info()
    s = settings(args)
    print(f"{NAME}: {s} on {args.device}", flush=True)
    results = {"machine": info, "settings": {**s, "device": args.device}, "models": {}}
    for name in args.models.split(","):
        cmd = [sys.executable, "-m", "benchmarks.bench_embed", "--worker", name, "--device", args.device,
               "--groups", str(s["groups"]), "--per-group", str(s["per_group"]),
               "--max-length", str(s["max_length"]),
               "--esm-layers", str(s["esm_layers"]), "--prostt5-layers", str(s["prostt5_layers"])]
        if args.token_budget:
            cmd += ["--token-budget", str(args.token_budget)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        print(f"{name}: building a random-weight model and embedding...", flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, cwd=C.ROOT)
        results["models"][name] = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = []
    for name, r in results["models"].items():
        one, bat = r["modes"]["one-by-one"], r["modes"]["batched"]
        mem = "peak_cuda_gib" if "peak_cuda_gib" in one else "peak_rss_gib"
        rows.append(
            f"| {name} ({r['parameters'] / 1e6:.0f} M params, {r['architecture']['num_layers']} "
            f"layers, {r['dtype']}) | {r['residues']} aa in {len(r['lengths'])} proteins | "
            f"{one['residues_per_s']:.1f} | {bat['residues_per_s']:.1f} "
            f"({bat['batches']} batches, {bat['padding_fraction']:.1%} padding) | "
            f"{bat['residues_per_s'] / one['residues_per_s']:.2f}x | "
            f"{one[mem]:.2f} / {bat[mem]:.2f} | "
            f"+{one['peak_rss_over_loaded_gib']:.2f} / +{bat['peak_rss_over_loaded_gib']:.2f} |"
        )
    table = "\n".join([
        "| backbone | proteins | one-by-one (aa/s) | batched (aa/s) | speed-up | "
        "peak memory GiB (1-by-1 / batched) | RSS growth over loaded model GiB |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])
    print("\n" + table)
    markdown = f"{C.machine_line(info)}\n\n{table}\n"
    C.record(NAME + ("" if args.device == "cpu" else f"-{args.device.split(':')[0]}"),
             results, markdown, args.quick, to_doc=not (args.quick or args.no_doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
