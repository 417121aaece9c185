"""Training: one fold model at a time, then the 5-fold cross-validation that makes a checkpoint set.

For test fold k the validation fold is k+1 (mod 5) and the other three train. Early stopping and
temperature scaling only ever see the validation fold; the test fold is predicted once, at the
end, by the selected model.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import matthews_corrcoef

from .checkpoint import FoldEntry, Manifest, save_weights, write_manifest
from .classes import CLASSES, COLUMN_NAMES
from .model import FusionConfig, FusionModel, pad_batch

N_FOLDS = 5


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0  # linear warm-up before the cosine decay: LSTMs diverge without it
    patience: int = 8
    grad_clip: float = 1.0
    loss: str = "ce"  # "ce" (class-weighted cross-entropy) or "focal"
    focal_gamma: float = 2.0
    class_weights: bool = True
    sampler: str = "none"  # "none" or "weighted" (inverse class frequency, with replacement)
    seed: int = 0
    eval_batch_tokens: int = 32_768
    # "fp32", or "bf16": the training forward pass under bfloat16 autocast (about 2-3x faster on
    # CPUs with AVX512-BF16/AMX and on recent GPUs; not a default until an A/B run shows equal
    # accuracy; see docs/benchmarks.md). Evaluation and temperature fitting stay in float32.
    precision: str = "fp32"
    # Most residue pairs (batch size x longest length squared) in one training batch, or None
    # for no bound. Cross-attention keeps batch x heads x L x L scores for the backward pass, so
    # a batch of 32 proteins of 3,000-5,000 residues needs over 22 GiB; length-bucketed batches
    # over the bound are split into consecutive pieces that fit. 32_000_000 (= 32 x 1,000^2)
    # only splits batches of proteins longer than 1,000 residues.
    max_batch_pairs: int | None = None
    # Share of training proteins whose organism group is hidden (set to unknown) in each epoch,
    # so that a model with a group input still works when the user does not know the group.
    group_dropout: float = 0.2
    # Networks per fold, trained with seeds seed, seed+1, ...; their calibrated probabilities
    # are averaged (a seed ensemble: one network's validation MCC moves by up to 0.03 between
    # epochs, so one seed's pick is noisy).
    seeds: int = 1
    # Training proteins of these data sources count this many times in the networks' loss
    # (others once), e.g. {deeplocpro_benchmark: 3}: the stacker's calibration weight, one level
    # down. Networks only: the boosting trees are not weighted by it.
    source_weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', not {self.precision!r}")
        if not 1 <= self.seeds <= 11:
            raise ValueError(f"seeds must be between 1 and 11, not {self.seeds!r}")
        if not isinstance(self.source_weights, dict) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w > 0
            for w in self.source_weights.values()
        ):
            raise ValueError("source_weights must map data sources to positive numbers, not "
                             f"{self.source_weights!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        return cls(**data)


@dataclass
class FoldData:
    """Per-protein embeddings (one array per stream) with labels, for one fold's split."""

    streams: list[list[np.ndarray]]  # [protein][stream] -> (L, d)
    labels: np.ndarray  # (N,) class indices
    groups: np.ndarray | None = None  # (N,) indices into classes.GROUPS; None: all unknown
    weights: np.ndarray | None = None  # (N,) each protein's weight in the loss; None: all 1

    def __post_init__(self) -> None:
        if self.groups is None:
            self.groups = np.zeros(len(self.labels), dtype=np.int64)

    def lengths(self) -> np.ndarray:
        return np.array([s[0].shape[0] for s in self.streams])

    def subset(self, index: Sequence[int]) -> "FoldData":
        index = np.asarray(index)
        weights = None if self.weights is None else self.weights[index]
        return FoldData([self.streams[i] for i in index], self.labels[index], self.groups[index],
                        weights)


def class_weight_vector(labels: np.ndarray, n_classes: int = len(CLASSES)) -> torch.Tensor:
    """w_c = N / (C * N_c), with absent classes given weight 0 instead of infinity."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    weights = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def loss_fn(logits: torch.Tensor, target: torch.Tensor, weight, cfg: TrainConfig,
            row_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Class-weighted loss, as PyTorch's weighted mean: sum(w_i l_i) / sum(w_i), where w_i is
    the class weight of protein i's label times its row weight (1 when None)."""
    if cfg.loss == "ce" and row_weight is None:
        return F.cross_entropy(logits, target, weight=weight)
    log_p = F.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    if cfg.loss == "ce":
        per = -log_p
    elif cfg.loss == "focal":
        per = (1 - log_p.exp()) ** cfg.focal_gamma * -log_p
    else:
        raise ValueError(f"unknown loss {cfg.loss!r}: use 'ce' or 'focal'")
    w = weight[target] if weight is not None else torch.ones_like(per)
    if row_weight is not None:
        w = w * row_weight
    return (w * per).sum() / w.sum()


def epoch_batches(data: FoldData, cfg: TrainConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """Length-bucketed batches in random order: similar lengths share a batch, so little padding.

    Lengths get a random jitter so batch composition changes from epoch to epoch.
    """
    n = len(data.labels)
    if cfg.sampler == "weighted":
        counts = np.bincount(data.labels, minlength=len(CLASSES))
        p = 1.0 / counts[data.labels]
        index = rng.choice(n, size=n, replace=True, p=p / p.sum())
    else:
        index = rng.permutation(n)
    lengths = data.lengths()[index] * rng.uniform(0.9, 1.1, size=n)
    index = index[np.argsort(lengths, kind="stable")]
    batches = [index[i : i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    if cfg.max_batch_pairs is None:
        return batches
    all_lengths = data.lengths()
    return [piece for batch in batches
            for piece in _split_by_pairs(batch, all_lengths[batch], cfg.max_batch_pairs)]


def _split_by_pairs(batch: np.ndarray, lengths: np.ndarray, max_pairs: int) -> list[np.ndarray]:
    """Consecutive pieces of ``batch`` with len(piece) x max_length^2 <= max_pairs (a protein
    over the bound on its own gets a piece of its own). No randomness: the epoch's other
    batches and the random stream stay exactly as without the bound."""
    pieces, start, longest = [], 0, 0
    for i, length in enumerate(lengths):
        longest = max(longest, int(length))
        if i > start and (i - start + 1) * longest**2 > max_pairs:
            pieces.append(batch[start:i])
            start, longest = i, int(length)
    pieces.append(batch[start:])
    return pieces


def to_batch(data: FoldData, index: Sequence[int], device: torch.device):
    """Padded float32 batches on ``device``. Padding happens in the stored precision (float16
    for cached embeddings), so only half the bytes are copied and moved to a GPU; the exact
    float16 -> float32 conversion happens last, on the device."""
    streams = []
    lengths = None
    for s in range(len(data.streams[index[0]])):
        arrays = [torch.from_numpy(np.asarray(data.streams[i][s])) for i in index]
        batch, lengths = pad_batch(arrays)
        streams.append(batch.to(device, non_blocking=True).float())
    index = np.asarray(index)
    labels = torch.as_tensor(data.labels[index], device=device)
    return streams, lengths, labels, torch.as_tensor(data.groups[index], device=device)


@torch.inference_mode()
def predict_logits(model: FusionModel, data: FoldData, cfg: TrainConfig, device) -> np.ndarray:
    model.eval()
    order = np.argsort(data.lengths(), kind="stable")
    out = np.zeros((len(order), model.config.n_classes), dtype=np.float32)
    start = 0
    lengths = data.lengths()
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * lengths[order[stop]] <= cfg.eval_batch_tokens:
            stop += 1
        index = order[start:stop]
        streams, lens, _, groups = to_batch(data, index, device)
        out[index] = model(streams, lens.to(device), groups)[0].float().cpu().numpy()
        start = stop
    return out


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood on held-out (validation) logits."""
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    return t if math.isfinite(t) and 0.05 < t < 20 else 1.0


def warmup_cosine(opt, warmup_steps: int, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the base learning rate, then cosine decay to zero at ``total_steps``."""

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / max(warmup_steps, 1))
        progress = min(step, total_steps) / max(total_steps, 1)
        return warm * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def mcc(labels: np.ndarray, logits: np.ndarray) -> float:
    """Validation MCC; 0.0 for an empty validation fold (only tiny data sets have one), as
    scikit-learn 1.7 returns and newer releases refuse with an error."""
    if len(labels) == 0:
        return 0.0
    return float(matthews_corrcoef(labels, logits.argmax(axis=1)))


@dataclass
class FoldResult:
    best_epoch: int
    val_mcc: float
    temperature: float
    epochs_run: int


Log = Callable[[str], None]


def train_fold(
    model_cfg: FusionConfig,
    cfg: TrainConfig,
    train: FoldData,
    val: FoldData,
    out_dir: Path,
    log: Log = print,
    device: str = "cpu",
) -> tuple[FusionModel, FoldResult]:
    """Train with early stopping on validation MCC; resumable from ``out_dir/state.pt``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    model = FusionModel(model_cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train.labels) / cfg.batch_size)
    sched = warmup_cosine(opt, int(cfg.warmup_epochs * steps_per_epoch), cfg.epochs * steps_per_epoch)
    weight = class_weight_vector(train.labels).to(dev) if cfg.class_weights else None
    state = _Progress()
    state_path = out_dir / "state.pt"
    if state_path.exists():
        state = _resume(state_path, model, opt, sched)
        log(f"resumed after epoch {state.epoch} (best epoch {state.best_epoch})")
    if len(val.labels) == 0:
        log("warning: no validation proteins in this fold: the first epoch is kept")
    while state.epoch < cfg.epochs and state.epoch - state.best_epoch < cfg.patience:
        epoch = state.epoch + 1
        started = time.perf_counter()
        loss = _train_epoch(model, opt, sched, train, cfg, weight, epoch, dev)
        val_mcc = mcc(val.labels, predict_logits(model, val, cfg, dev))
        if val_mcc > state.best_mcc:
            state.best_mcc, state.best_epoch = val_mcc, epoch
            state.best_weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        state.epoch = epoch
        _append_log(out_dir, epoch, loss, val_mcc, time.perf_counter() - started)
        _save_state(state_path, model, opt, sched, state)
        log(f"epoch {epoch}: loss {loss:.4f} val MCC {val_mcc:.4f} (best {state.best_mcc:.4f} @ {state.best_epoch})")
    model.load_state_dict(state.best_weights or model.state_dict())
    temperature = fit_temperature(predict_logits(model, val, cfg, dev), val.labels)
    return model, FoldResult(state.best_epoch, state.best_mcc, temperature, state.epoch)


def _train_epoch(model, opt, sched, data: FoldData, cfg: TrainConfig, weight, epoch: int, dev) -> float:
    model.train()
    rng = np.random.default_rng([cfg.seed, epoch])
    torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout masks reproducible after a resume
    total, count = 0.0, 0
    for index in epoch_batches(data, cfg, rng):
        streams, lengths, target, groups = to_batch(data, index, dev)
        hide = torch.from_numpy(rng.random(len(index)) < cfg.group_dropout).to(dev)
        groups = torch.where(hide, torch.zeros_like(groups), groups)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            logits, _ = model(streams, lengths.to(dev), groups)
        rows = None if data.weights is None else torch.as_tensor(
            data.weights[index], dtype=torch.float32, device=dev)
        loss = loss_fn(logits.float(), target, weight, cfg, rows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(index)
        count += len(index)
    return total / max(count, 1)


@dataclass
class _Progress:
    epoch: int = 0
    best_epoch: int = 0
    best_mcc: float = -1.0
    best_weights: dict[str, torch.Tensor] | None = None


def _save_state(path: Path, model, opt, sched, state: _Progress) -> None:
    payload = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "best_weights": state.best_weights or {},
        "epoch": state.epoch,
        "best_epoch": state.best_epoch,
        "best_mcc": state.best_mcc,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _resume(path: Path, model, opt, sched) -> _Progress:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(payload["model"])
    opt.load_state_dict(payload["optimizer"])
    sched.load_state_dict(payload["scheduler"])
    return _Progress(
        epoch=int(payload["epoch"]),
        best_epoch=int(payload["best_epoch"]),
        best_mcc=float(payload["best_mcc"]),
        best_weights=payload["best_weights"] or None,
    )


def _append_log(out_dir: Path, epoch: int, loss: float, val_mcc: float, seconds: float) -> None:
    path = out_dir / "log.tsv"
    if not path.exists():
        path.write_text("epoch\ttrain_loss\tval_mcc\tseconds\n")
    with open(path, "a") as handle:
        handle.write(f"{epoch}\t{loss:.5f}\t{val_mcc:.5f}\t{seconds:.1f}\n")


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables stacked; empty ones (a fold with no proteins, in tiny runs) are left out so that
    they do not decide the columns' types."""
    full = [t for t in tables if len(t)]
    return pd.concat(full) if full else tables[0]


def fold_split(
    partitions: np.ndarray, test_fold: int, trainable: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, val, test) for one test fold: val = test + 1 (mod 5).

    ``trainable`` (bool per protein) limits training and validation to a subset, e.g. some data
    sources, while the test fold stays whole so that variants are compared on the same proteins.
    """
    val_fold = (test_fold + 1) % N_FOLDS
    usable = np.ones(len(partitions), dtype=bool) if trainable is None else np.asarray(trainable)
    test = np.flatnonzero(partitions == test_fold)
    val = np.flatnonzero((partitions == val_fold) & usable)
    train = np.flatnonzero((partitions != test_fold) & (partitions != val_fold) & usable)
    return train, val, test


def train_cv(
    data: FoldData,
    ids: Sequence[str],
    partitions: np.ndarray,
    model_cfg: FusionConfig,
    cfg: TrainConfig,
    out_dir: Path,
    embedders: list[dict[str, Any]],
    name: str = "protloc",
    folds: Sequence[int] = range(N_FOLDS),
    data_summary: dict[str, Any] | None = None,
    log: Log = print,
    device: str = "cpu",
    trainable: np.ndarray | None = None,
) -> Manifest:
    """Train one model per test fold and write a complete checkpoint set to ``out_dir``.

    ``trainable``: see :func:`fold_split`.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    entries, heldout, validation = [], [], []
    for k in folds:
        fold_dir = out_dir / "runs" / f"fold_{k}"
        done_marker = fold_dir / "done.json"
        if done_marker.exists():
            entry = FoldEntry.from_dict(json.loads(done_marker.read_text()))
            log(f"fold {k}: already trained, skipping")
        else:
            split = fold_split(partitions, k, trainable)
            log(f"fold {k}: train {len(split[0])}, val {len(split[1])}, test {len(split[2])}")
            nets = [_train_network(data, ids, split, k, s, model_cfg, cfg, out_dir, log, device)
                    for s in range(cfg.seeds)]
            entry = nets[0]
            if cfg.seeds > 1:
                entry.members = [{**n.to_dict(), "seed": cfg.seed + s}
                                 for s, n in enumerate(nets[1:], start=1)]
                for name in ("heldout.csv", "val.csv"):
                    _average_tables([fold_dir / f"seed_{s}" / name for s in range(cfg.seeds)],
                                    fold_dir / name)
            done_marker.write_text(json.dumps(entry.to_dict()))
        entries.append(entry)
        heldout.append(pd.read_csv(fold_dir / "heldout.csv"))
        if (fold_dir / "val.csv").exists():
            validation.append(pd.read_csv(fold_dir / "val.csv").assign(model_fold=k))
    _concat(heldout).to_csv(out_dir / "heldout.csv", index=False, float_format="%.5f")
    if validation:  # each fold model on its validation fold: what post-hoc choices are fitted on
        _concat(validation).to_csv(out_dir / "validation.csv", index=False, float_format="%.5f")
    manifest = Manifest(
        name=name,
        embedders=embedders,
        model_config=model_cfg,
        folds=entries,
        data=data_summary or {},
        metrics={"training": asdict(cfg)},
    )
    write_manifest(out_dir, manifest)
    return manifest


def _train_network(data, ids, split, k, s, model_cfg, cfg, out_dir, log, device) -> FoldEntry:
    """Network s of test fold k (seed ``cfg.seed + s``); its calibrated predictions for the
    test and validation folds go to its run folder: the fold's own for a single network,
    ``seed_{s}/`` in it for a seed ensemble (resumable: a finished network is not retrained)."""
    train_idx, val_idx, test_idx = split
    run_dir = out_dir / "runs" / f"fold_{k}"
    if cfg.seeds > 1:
        run_dir = run_dir / f"seed_{s}"
        if (run_dir / "done.json").exists():
            return FoldEntry.from_dict(json.loads((run_dir / "done.json").read_text()))
    weights = f"fold_{k}.safetensors" if s == 0 else f"fold_{k}_seed{s}.safetensors"
    tag = f"fold {k}" if cfg.seeds == 1 else f"fold {k} seed {cfg.seed + s}"
    model, result = train_fold(
        model_cfg, replace(cfg, seed=cfg.seed + s), data.subset(train_idx),
        data.subset(val_idx), run_dir, log=lambda m: log(f"{tag} {m}"), device=device,
    )
    save_weights(model, out_dir / weights)
    test_logits = predict_logits(model, data.subset(test_idx), cfg, torch.device(device))
    _write_heldout(run_dir / "heldout.csv", [ids[i] for i in test_idx], k,
                   data.labels[test_idx], test_logits / result.temperature)
    # The validation fold's predictions too: later choices (ensemble members, weights,
    # calibration) are fitted on these, never on the test fold.
    val_logits = predict_logits(model, data.subset(val_idx), cfg, torch.device(device))
    _write_heldout(run_dir / "val.csv", [ids[i] for i in val_idx], (k + 1) % N_FOLDS,
                   data.labels[val_idx], val_logits / result.temperature)
    entry = FoldEntry(weights, k, (k + 1) % N_FOLDS, result.temperature, result.val_mcc,
                      result.best_epoch)
    if cfg.seeds > 1:
        (run_dir / "done.json").write_text(json.dumps(entry.to_dict()))
    return entry


def _average_tables(paths: list[Path], out: Path) -> None:
    """The seed networks' calibrated probabilities averaged, protein by protein."""
    tables = [pd.read_csv(p) for p in paths]
    if any(t["id"].tolist() != tables[0]["id"].tolist() for t in tables):
        raise ValueError(f"the seed networks of {out.parent} predicted different proteins")
    columns = [COLUMN_NAMES[c] for c in CLASSES]
    mean = tables[0].copy()
    mean[columns] = np.mean([t[columns].to_numpy() for t in tables], axis=0)
    mean["prediction"] = [CLASSES[i] for i in mean[columns].to_numpy().argmax(axis=1)]
    mean.to_csv(out, index=False, float_format="%.5f")


def _write_heldout(path: Path, ids, fold: int, labels: np.ndarray, logits: np.ndarray) -> None:
    probs = torch.softmax(torch.tensor(logits), dim=-1).numpy()
    table = pd.DataFrame({
        "id": ids,
        "partition": fold,
        "label": [CLASSES[i] for i in labels],
        "prediction": [CLASSES[i] for i in probs.argmax(axis=1)],
    })
    for j, c in enumerate(CLASSES):
        table[COLUMN_NAMES[c]] = probs[:, j]
    table.to_csv(path, index=False, float_format="%.5f")
