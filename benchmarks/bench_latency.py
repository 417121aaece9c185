"""Latency of one 400-residue prediction through the full stack on CPU: input parsing, ESM-2 650M
and ProstT5 encoder (random weights, real sizes), the 5 paper-size fusion models of a checkpoint
set (8,412,936 parameters each, random weights), calibrated ensemble averaging and the group rule
(:class:`protloc.predictor.EnsemblePredictor`). The backbones' time is measured inside the
predictor (their embedders are wrapped in a timer); the fusion share is everything else, as a
fraction of the backbones' time (target: at most 5 %).

    .venv/bin/python -m benchmarks.bench_latency          # full size, CPU: about 1.5 min
    .venv/bin/python -m benchmarks.bench_latency --quick  # 4 + 2 backbone layers, 100 aa
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _common as C

NAME = "bench_latency"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke-test sizes: 4-layer ESM-2, 2-layer ProstT5, 100 residues")
    p.add_argument("--length", type=int, default=None, help="residues (400)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--esm-layers", type=int, default=None)
    p.add_argument("--prostt5-layers", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from protloc.checkpoint import FoldEntry, Manifest
    from protloc.embedders import ESM2Embedder, ProstT5Embedder
    from protloc.embedders.base import Embedder
    from protloc.model import FusionConfig, FusionModel
    from protloc.predictor import EnsemblePredictor
    from protloc.sequences import parse_text

    if args.threads:
        torch.set_num_threads(args.threads)
    quick = args.quick
    length = args.length or (100 if quick else 400)
    esm_layers = args.esm_layers or (4 if quick else C.ESM2_650M["num_layers"])
    t5_layers = args.prostt5_layers or (2 if quick else C.PROSTT5_ENCODER["num_layers"])
    info = C.machine_info()
    print(f"{NAME}: {length} residues, ESM-2 {esm_layers} layers, ProstT5 {t5_layers} layers, "
          f"{torch.get_num_threads()} threads", flush=True)

    class Timed(Embedder):
        def __init__(self, inner):
            self.inner, self.id, self.dim, self.kind = inner, inner.id, inner.dim, inner.kind
            self.seconds = 0.0

        def spec(self):
            return self.inner.spec()

        def embed(self, sequences):
            t0 = time.perf_counter()
            try:
                return self.inner.embed(sequences)
            finally:
                self.seconds += time.perf_counter() - t0

    esm_model, alphabet = C.random_esm2(num_layers=esm_layers)
    with tempfile.TemporaryDirectory() as tmp:
        t5_model, tokenizer = C.random_prostt5(Path(tmp), num_layers=t5_layers)
    embedders = [Timed(ESM2Embedder.from_model(esm_model, alphabet, name="esm2_random",
                                               device="cpu")),
                 Timed(ProstT5Embedder.from_model(t5_model, tokenizer, name="ProstT5-random",
                                                  device="cpu"))]
    del esm_model, t5_model
    config = FusionConfig(input_dims=[e.dim for e in embedders])
    models = []
    for k in range(5):
        torch.manual_seed(k)
        models.append(FusionModel(config).eval())
    folds = [FoldEntry(f"fold_{k}.safetensors", k, (k + 1) % 5, temperature=1.0 + 0.1 * k)
             for k in range(5)]
    manifest = Manifest("latency-bench", [e.spec() for e in embedders], config, folds)
    predictor = EnsemblePredictor(manifest, models, embedders, device="cpu")

    rng = np.random.default_rng(0)
    text = f">bench\n{C.random_protein(length, rng)}\n"
    predictor.predict(parse_text(f">warm\n{C.random_protein(30, rng)}\n"))  # warm-up
    runs = []
    for _ in range(args.repeats):
        for e in embedders:
            e.seconds = 0.0
        t0 = time.perf_counter()
        [pred] = predictor.predict(parse_text(text), group="negative", attention=True)
        total = time.perf_counter() - t0
        assert pred is not None and pred.attention.shape == (config.pool_heads, length)
        backbones = sum(e.seconds for e in embedders)
        runs.append({"total_s": round(total, 3), "esm2_s": round(embedders[0].seconds, 3),
                     "prostt5_s": round(embedders[1].seconds, 3),
                     "fusion_and_rest_s": round(total - backbones, 3)})
        print(f"  {runs[-1]}", flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    share = med["fusion_and_rest_s"] / (med["esm2_s"] + med["prostt5_s"])
    results = {"machine": info, "settings": {"length": length, "esm2_layers": esm_layers,
                                             "prostt5_layers": t5_layers, "folds": 5,
                                             "threads": torch.get_num_threads()},
               "runs": runs, "median": med, "fusion_share_of_backbones": round(share, 4)}
    table = "\n".join([
        "| total (s) | ESM-2 (s) | ProstT5 (s) | 5 fusion models + rest (s) | "
        "fusion / backbones |",
        "|---|---|---|---|---|",
        f"| {med['total_s']:.2f} | {med['esm2_s']:.2f} | {med['prostt5_s']:.2f} | "
        f"{med['fusion_and_rest_s']:.3f} | {share:.1%} |",
    ])
    verdict = f"\nFusion share {share:.1%} of the backbones' time (target: at most 5 %); " \
              f"median of {len(runs)} runs after a warm-up.\n"
    print("\n" + table + verdict)
    markdown = f"{C.machine_line(info)}\n\n{table}\n{verdict}"
    C.record(NAME, results, markdown, quick, to_doc=not (quick or args.no_doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
