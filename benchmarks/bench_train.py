"""Training throughput of the paper-size fusion model (inputs 1280 + 1024, hidden 512, BiLSTM
2 x 256, 8,412,936 parameters, batch 32): protloc's training step against a naive loop, in one run,
on the same machine, with the same model maths (the same weights give the same logits: checked
at the start).

* ``naive`` (``--naive padded``, the default): shuffle, cut into batches of 32, pad each batch to
  its longest member, float32 inputs, a bidirectional ``nn.LSTM`` over the padded batch (no
  packing). ``--naive packed`` runs the variant that packs the batch (``pack_padded_sequence``)
  before the same ``nn.LSTM``; ``--naive padded,packed`` runs both.
* ``protloc``: :mod:`protloc.training`: length-bucketed batches (:func:`epoch_batches`), inputs
  kept in float16 and padded in float16 (:func:`to_batch`), the BiLSTM run as two padded
  one-direction LSTMs with in-length reversal (exactly a packed BiLSTM, without its slow CPU
  backward pass), attention through ``scaled_dot_product_attention``; float32 maths.
* ``protloc-bf16`` (measured, not a default; ``--no-bf16`` skips it): the protloc step under
  bfloat16 autocast (``train.precision: bf16``).

The same weights give the same logits in every loop (checked at the start: on equal-length
proteins for the padded naive loop, whose backward direction otherwise starts in the padding; on
mixed lengths for the packed one). All draw an epoch's batches from the same protein lengths
(distributed like DeepLocPro's set: mean about 418, at most 999; a fold model trains on 3/5 of
11,906 proteins = 7,144). Only a few batches are timed: the epoch's batches are sorted by padded
size, cut into as many strata as batches are timed, the median batch of each stratum is timed,
and the epoch time is the sum of each timed batch's time times its stratum's size. Each timed
step is a full AdamW step with gradient clipping and class-weighted cross-entropy, after one
untimed warm-up step.

    .venv/bin/python -m benchmarks.bench_train           # full size, CPU: about 4-7 min
    .venv/bin/python -m benchmarks.bench_train --naive padded,packed --naive-batches 1 \
        --batches 4 --no-doc                            # with the packed naive variant
    .venv/bin/python -m benchmarks.bench_train --quick --threads 1   # batch 8, <= 120 aa: ~10 s
    .venv/bin/python -m benchmarks.bench_train --device cuda --naive-batches 0 --batches 12
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import _common as C

NAME = "bench_train"
PAPER_PARAMETERS = 8_412_936


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke-test sizes: proteins <= 120 aa, batch 8, 1 + 2 timed batches")
    p.add_argument("--naive-batches", type=int, default=None, help="timed naive batches (2)")
    p.add_argument("--batches", type=int, default=None, help="timed protloc batches (6)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--train-proteins", type=int, default=round(C.DLP_PROTEINS * 3 / 5))
    p.add_argument("--val-proteins", type=int, default=round(C.DLP_PROTEINS / 5))
    p.add_argument("--epochs", type=int, default=50, help="for the 5-fold projection (paper: 50)")
    p.add_argument("--naive", default="padded", help="naive variants: padded, packed or both")
    p.add_argument("--no-bf16", action="store_true", help="skip the bf16-autocast protloc loop")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    return p.parse_args(argv)


def naive_model(model, packed: bool):
    """The same weights in a bidirectional ``nn.LSTM``, run on the padded batch or packed."""
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from protloc.model import padding_mask

    class NaiveFusion(nn.Module):
        def __init__(self, fm):
            super().__init__()
            fm = copy.deepcopy(fm)
            cfg = fm.config
            self.fusion, self.pool, self.head, self.norm = (
                fm.fusion, fm.pool, fm.head, fm.encoder.norm)
            self.lstm = nn.LSTM(cfg.hidden, cfg.lstm_hidden, num_layers=cfg.lstm_layers,
                                bidirectional=True, batch_first=True,
                                dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0)
            with torch.no_grad():
                layers = zip(fm.encoder.forward_layers, fm.encoder.backward_layers)
                for i, (fwd, bwd) in enumerate(layers):
                    for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                        getattr(self.lstm, f"{w}_l{i}").copy_(getattr(fwd, f"{w}_l0"))
                        getattr(self.lstm, f"{w}_l{i}_reverse").copy_(getattr(bwd, f"{w}_l0"))

        def forward(self, streams, lengths):
            total = streams[0].shape[1]
            pad = padding_mask(lengths, total)
            x = self.fusion(streams, pad)
            if packed:
                seq = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                           enforce_sorted=False)
                out, _ = self.lstm(seq)
                x, _ = pad_packed_sequence(out, batch_first=True, total_length=total)
            else:
                x, _ = self.lstm(x)
            pooled, attention = self.pool(self.norm(x), pad)
            return self.head(pooled), attention

    return NaiveFusion(model)


class Lengths:
    """Just enough of :class:`protloc.training.FoldData` for :func:`epoch_batches`."""

    def __init__(self, lengths, labels):
        self._lengths, self.labels = np.asarray(lengths), np.asarray(labels)

    def lengths(self):
        return self._lengths


def stratified(batches, lengths, k):
    """``k`` (batch, weight) pairs: median batch of each of k equal strata by padded size."""
    if k <= 0:
        return []
    cost = [len(b) * lengths[b].max() for b in batches]
    order = np.argsort(cost, kind="stable")
    picks = []
    for stratum in np.array_split(order, min(k, len(order))):
        picks.append((batches[stratum[len(stratum) // 2]], len(stratum)))
    return picks


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from protloc.model import FusionConfig, FusionModel, count_parameters, pad_batch
    from protloc.training import FoldData, TrainConfig, epoch_batches, loss_fn, to_batch

    if args.threads:
        torch.set_num_threads(args.threads)
    quick = args.quick
    batch_size = args.batch_size or (8 if quick else 32)
    max_length = args.max_length or (120 if quick else C.DLP_MAX_LENGTH)
    n_naive = args.naive_batches if args.naive_batches is not None else (1 if quick else 2)
    if n_naive == 0:
        args.naive = ""
    n_fast = args.batches or (2 if quick else 6)
    device = torch.device(args.device)
    info = C.machine_info()
    mean = C.DLP_MEAN_LENGTH * max_length / C.DLP_MAX_LENGTH
    lengths = C.deeplocpro_lengths(args.train_proteins, seed=0, max_length=max_length, mean=mean)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, size=len(lengths))
    print(f"{NAME}: {len(lengths)} training proteins, mean length {lengths.mean():.0f}, max "
          f"{lengths.max()}, batch {batch_size}, device {device}, {torch.get_num_threads()} "
          "threads", flush=True)

    cfg = TrainConfig(batch_size=batch_size, lr=1e-4)
    model_cfg = FusionConfig()  # the paper's sizes
    torch.manual_seed(0)
    fast = FusionModel(model_cfg)
    variants = [v for v in args.naive.split(",") if v]
    if set(variants) - {"padded", "packed"}:
        raise SystemExit("--naive takes padded, packed or padded,packed")
    naives = {f"naive-{v}": naive_model(fast, packed=v == "packed") for v in variants}
    params = count_parameters(fast)
    assert all(count_parameters(m) == params for m in naives.values())

    # Same maths: the same weights give the same outputs (eval mode).
    def logits(model, lengths_):
        arrays = [[torch.from_numpy(np.random.default_rng(n).standard_normal((n, d))
                                    .astype(np.float32)) for n in lengths_]
                  for d in model_cfg.input_dims]
        streams_ = [pad_batch(a) for a in arrays]
        with torch.no_grad():
            return model.eval()([b for b, _ in streams_], streams_[0][1])[0]

    diffs = {}
    for name, model in naives.items():
        lengths_ = (37, 11, 60) if name == "naive-packed" else (40, 40, 40)
        diffs[name] = float((logits(fast, lengths_) - logits(model, lengths_)).abs().max())
    diff = max(diffs.values(), default=0.0)
    print(f"same maths: max |logit difference| {diffs}; {params:,} parameters", flush=True)
    assert diff < 1e-4, diffs

    # How far bf16 autocast moves one training step (not proof of equal accuracy: that needs
    # an A/B training run): logits and the gradient direction on 8 proteins of mixed lengths.
    bf16_check = {}
    if not args.no_bf16:
        lens8 = [int(n) for n in lengths[:8]]
        arrays8 = [[torch.from_numpy(np.random.default_rng(n).standard_normal((n, d))
                                     .astype(np.float16)).float() for n in lens8]
                   for d in model_cfg.input_dims]
        streams8 = [pad_batch(a) for a in arrays8]
        target8 = torch.as_tensor(labels[:8])
        probe = copy.deepcopy(fast).train()
        outs, grads = [], []
        for bf16 in (False, True):
            torch.manual_seed(0)  # same dropout masks
            probe.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = probe([b for b, _ in streams8], streams8[0][1])[0].float()
            F_loss = torch.nn.functional.cross_entropy(out, target8)
            F_loss.backward()
            outs.append(out.detach())
            grads.append(torch.cat([p.grad.flatten() for p in probe.parameters()
                                    if p.grad is not None]))
        bf16_check = {
            "max_abs_logit_diff": round(float((outs[0] - outs[1]).abs().max()), 5),
            "logit_scale": round(float(outs[0].abs().max()), 5),
            "gradient_cosine": round(float(torch.nn.functional.cosine_similarity(
                grads[0], grads[1], dim=0)), 5),
        }
        print(f"bf16 autocast vs fp32, one step on 8 proteins: {bf16_check}", flush=True)
        del probe

    fast.to(device).train()
    for model in naives.values():
        model.to(device).train()
    weight = torch.ones(6, device=device)  # class weights: same cost as real ones

    def make_step(model, bf16=False):
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

        def step(streams, lengths, target):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits, _ = model(streams, lengths.to(device))
            logits = logits.float()
            loss = loss_fn(logits, target, weight, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            return float(loss.detach())

        return step

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    arrays: dict[int, list[np.ndarray]] = {}
    data_rng = np.random.default_rng(1)

    def proteins(index):
        for i in index:
            if i not in arrays:
                arrays[i] = [data_rng.standard_normal((lengths[i], d), dtype=np.float32)
                             .astype(np.float16) for d in model_cfg.input_dims]

    def naive_batch(index):  # a naive loader: float32 arrays, padded to the longest member
        streams = []
        for s in range(2):
            batch, lens = pad_batch([torch.from_numpy(arrays[i][s].astype(np.float32))
                                     for i in index])
            streams.append(batch.to(device))
        return streams, lens, torch.as_tensor(labels[index], device=device)

    def fast_batch(index):  # protloc.training.to_batch on float16 arrays, as from the cache
        data = FoldData([arrays[i] for i in index], labels[index])
        return to_batch(data, list(range(len(index))), device)[:3]

    results = {"machine": info, "settings": {
        "batch_size": batch_size, "train_proteins": len(lengths), "max_length": int(max_length),
        "mean_length": round(float(lengths.mean()), 1), "device": str(device),
        "threads": torch.get_num_threads(), "parameters": params,
        "same_maths_max_logit_diff": diffs, "bf16_vs_fp32_one_step": bf16_check}, "loops": {}}
    epoch_rng = np.random.default_rng([0, 1])
    naive_order = np.random.default_rng(2).permutation(len(lengths))
    naive_batches = [naive_order[i:i + batch_size] for i in range(0, len(lengths), batch_size)]
    fast_batches = epoch_batches(Lengths(lengths, labels), cfg, epoch_rng)
    plans = {name: (naive_batches, n_naive, model, naive_batch, False)
             for name, model in naives.items()}
    plans["protloc"] = (fast_batches, n_fast, fast, fast_batch, False)
    if not args.no_bf16:
        plans["protloc-bf16"] = (fast_batches, n_fast, copy.deepcopy(fast), fast_batch, True)
    for name, (batches, k, model, loader, bf16) in plans.items():
        picks = stratified(batches, lengths, k)
        if not picks:
            continue
        step = make_step(model, bf16)
        warm = np.argsort(lengths)[:batch_size][: max(2, batch_size // 4)]
        proteins(warm)
        step(*loader(warm))  # warm-up (allocator, kernels), untimed
        sync()
        padded_all = sum(len(b) * int(lengths[b].max()) for b in batches)
        timed = []
        for index, weight_k in picks:
            proteins(index)
            batch = loader(index)
            sync()
            t0 = time.perf_counter()
            step(*batch)
            sync()
            seconds = time.perf_counter() - t0
            timed.append({"seconds": round(seconds, 3), "proteins": len(index),
                          "padded_length": int(lengths[index].max()),
                          "residues": int(lengths[index].sum()), "stratum_batches": weight_k})
            print(f"  {name}: {len(index)} x {int(lengths[index].max())} padded "
                  f"({int(lengths[index].sum())} residues): {seconds:.2f} s", flush=True)
        epoch_s = sum(t["seconds"] * t["stratum_batches"] for t in timed)
        entry = {"timed_batches": timed, "batches_per_epoch": len(batches),
                 "seconds_per_batch": round(epoch_s / len(batches), 3),
                 "epoch_seconds": round(epoch_s, 1),
                 "padding_fraction": round(1 - lengths.sum() / padded_all, 3)}
        if name.startswith("protloc"):
            # validation pass of a fold (forward only) and the projection for 5 folds
            model.eval()
            t_fwd = 0.0
            with torch.inference_mode():
                for index, weight_k in picks:
                    batch = loader(index)
                    sync()
                    t0 = time.perf_counter()
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                        model(batch[0], batch[1].to(device))
                    sync()
                    t_fwd += (time.perf_counter() - t0) * weight_k
            val_s = t_fwd * args.val_proteins / len(lengths)
            entry["validation_seconds"] = round(val_s, 1)
            entry["five_folds_hours_at_max_epochs"] = round(
                5 * args.epochs * (epoch_s + val_s) / 3600, 2)
            model.train()
        results["loops"][name] = entry
        print(f"{name}: {entry['seconds_per_batch']:.2f} s per batch of {batch_size}, "
              f"{entry['epoch_seconds'] / 3600:.2f} h per epoch ({len(batches)} batches)",
              flush=True)

    loops = results["loops"]
    lines = [
        "| loop | s per batch of %d (epoch mean) | batches per epoch | padding | h per epoch |"
        % batch_size,
        "|---|---|---|---|---|",
    ]
    for name, e in loops.items():
        lines.append(f"| {name} | {e['seconds_per_batch']:.2f} | {e['batches_per_epoch']} | "
                     f"{e['padding_fraction']:.0%} | {e['epoch_seconds'] / 3600:.3f} |")
    summary = ""
    for name in [n for n in loops if n.startswith("naive")]:
        for fast_name in ("protloc", "protloc-bf16"):
            if fast_name not in loops:
                continue
            ratio = loops[name]["epoch_seconds"] / loops[fast_name]["epoch_seconds"]
            results.setdefault("speedup_per_epoch", {})[f"{fast_name} vs {name}"] = round(ratio, 2)
            summary += f"\n**{fast_name} is {ratio:.1f}x faster per epoch than {name}** " \
                       f"(target: at least 10x).\n"
    if "protloc" in loops:
        p = loops["protloc"]
        summary += (f"\nprotloc, one fold: {p['epoch_seconds'] / 60:.1f} min per training epoch "
                    f"+ {p['validation_seconds'] / 60:.1f} min validation; 5 folds x "
                    f"{args.epochs} epochs (no early stop): {p['five_folds_hours_at_max_epochs']}"
                    f" h on {device.type}.\n")
    table = "\n".join(lines)
    print("\n" + table + summary)
    if bf16_check:
        summary += (f"\nbf16 autocast vs float32, one training step on 8 proteins: max |logit "
                    f"difference| {bf16_check['max_abs_logit_diff']} (largest logit "
                    f"{bf16_check['logit_scale']}), gradient cosine similarity "
                    f"{bf16_check['gradient_cosine']}.\n")
    markdown = (f"{C.machine_line(info)} Same maths: max |logit difference| "
                f"{diff:.1e}, {params:,} parameters; mean length {lengths.mean():.0f}, max "
                f"{lengths.max()}, {len(lengths)} training proteins.\n\n{table}\n{summary}")
    C.record(NAME + ("" if device.type == "cpu" else f"-{device.type}"), results, markdown,
             quick, to_doc=not (quick or args.no_doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
