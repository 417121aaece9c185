"""The fusion model: per-stream projections, gated bidirectional cross-attention, BiLSTM,
multi-head attention pooling with learned queries, and an MLP head.

With the paper's sizes (inputs 1280 + 1024, hidden 512, LSTM 2 x 256, 8 cross-attention heads,
4 pooling heads) this is the reference study's *ImprovedFusionNetwork*, 8,412,936 parameters.
The same class serves one stream (no cross-attention) and small offline configurations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class FusionConfig:
    input_dims: list[int] = field(default_factory=lambda: [1280, 1024])
    hidden: int = 512
    cross_heads: int = 8
    lstm_hidden: int = 256
    lstm_layers: int = 2
    pool_heads: int = 4
    head_hidden: int = 256
    n_classes: int = 6
    dropout: float = 0.2
    # Organism groups read as an input (classes.GROUPS; 0 = no group input, as before). The
    # group's embedding is added to every projected residue, so the BiLSTM and the pooling can
    # condition on it, and concatenated to the pooled vector before the head.
    n_groups: int = 0
    # Also concatenate the mean of the encoder states to the attention-pooled vector: a pooled
    # read-out that gradient boosting showed to be strong on its own.
    mean_pool: bool = False
    # How two or more streams meet: "cross" (the reference design's gated bidirectional
    # cross-attention; two streams only) or "concat" (residue features side by side, then one
    # projection: no L x L attention, affordable on a CPU for any number of streams).
    fusion: str = "cross"
    # What reads the fused residues before pooling: "lstm" (the reference design's BiLSTM) or
    # "conv" (residual 1-D convolutions over a window of conv_kernel residues, as in
    # light-attention models on frozen embeddings: no step-by-step recurrence, so it is cheap
    # on a CPU and sees only local context; its output has the BiLSTM's width, 2 x lstm_hidden).
    encoder: str = "lstm"
    conv_kernel: int = 9
    conv_layers: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FusionConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean (B, L) mask, True on padding positions."""
    positions = torch.arange(max_len, device=lengths.device)
    return positions[None, :] >= lengths[:, None]


class SingleStreamFusion(nn.Module):
    """One stream, or several side by side: projection, then the same output block as the
    two-stream fusion."""

    def __init__(self, input_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(input_dim, hidden)
        self.out = _output_block(hidden, dropout)

    def forward(self, streams: list[Tensor], pad: Tensor) -> Tensor:
        x = streams[0] if len(streams) == 1 else torch.cat(streams, dim=-1)
        return self.out(self.proj(x))


def _output_block(hidden: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(dropout)
    )


class BidirectionalCrossAttention(nn.Module):
    """Each stream attends to the other; a learned per-residue gate mixes the two directions."""

    def __init__(self, dim_a: int, dim_b: int, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.proj_a = nn.Linear(dim_a, hidden)
        self.proj_b = nn.Linear(dim_b, hidden)
        self.a_to_b = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.b_to_a = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.gate = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        self.out = _output_block(hidden, dropout)

    def forward(self, streams: list[Tensor], pad: Tensor) -> Tensor:
        a, b = self.proj_a(streams[0]), self.proj_b(streams[1])
        a_ctx = self.a_to_b(a, b, b, key_padding_mask=pad, need_weights=False)[0] + a
        b_ctx = self.b_to_a(b, a, a, key_padding_mask=pad, need_weights=False)[0] + b
        g = torch.softmax(self.gate(torch.cat([a_ctx, b_ctx], dim=-1)), dim=-1)
        fused = g[..., :1] * a_ctx + g[..., 1:] * b_ctx
        return self.out(fused)


def reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse the first ``lengths[i]`` steps of each row of ``x`` (B, T, D); padding stays put.

    Its own inverse. Used instead of packed sequences for the backward direction.
    """
    steps = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
    source = lengths.to(x.device)[:, None] - 1 - steps
    source = torch.where(source >= 0, source, steps)
    return x.gather(1, source[..., None].expand_as(x))


class BiLSTMEncoder(nn.Module):
    """Bidirectional LSTM in which padding never leaks into the states of real residues.

    Each layer runs a forward LSTM on the padded batch (padding comes after every real residue,
    so it cannot reach them) and a backward LSTM on each sequence reversed within its own
    length. This is exactly a packed bidirectional LSTM, with the same parameters, but avoids
    packed sequences: on CPU (torch 2.13) their backward pass with mixed lengths in a batch is
    up to 50x slower than the padded one (measured: 13.9 s vs 0.24 s for 32 x ~850 residues).
    """

    def __init__(self, hidden: int, lstm_hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        sizes = [hidden] + [2 * lstm_hidden] * (layers - 1)
        self.forward_layers = nn.ModuleList(
            nn.LSTM(size, lstm_hidden, batch_first=True) for size in sizes
        )
        self.backward_layers = nn.ModuleList(
            nn.LSTM(size, lstm_hidden, batch_first=True) for size in sizes
        )
        self.dropout = nn.Dropout(dropout if layers > 1 else 0.0)  # between layers, as nn.LSTM
        self.norm = nn.LayerNorm(2 * lstm_hidden)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        for i, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if i > 0:
                x = self.dropout(x)
            ahead, _ = fwd(x)
            behind, _ = bwd(reverse_within_length(x, lengths))
            x = torch.cat([ahead, reverse_within_length(behind, lengths)], dim=-1)
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        return self.norm(x * valid[..., None])  # zeros at padding, as pad_packed_sequence gives


class ConvEncoder(nn.Module):
    """Residual 1-D convolutions; padding is zeroed before every layer, so a residue's output
    depends only on real residues within (kernel // 2) x layers of it, whatever the batch."""

    def __init__(self, hidden: int, out_dim: int, kernel: int, layers: int, dropout: float) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"conv_kernel must be odd (centred on the residue), not {kernel}")
        self.convs = nn.ModuleList(
            nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2) for _ in range(layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, out_dim)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        valid = (~padding_mask(lengths.to(x.device), x.shape[1]))[..., None].to(x.dtype)
        for conv in self.convs:
            x = x * valid
            x = x + self.dropout(F.relu(conv(x.transpose(1, 2)).transpose(1, 2)))
        return self.norm(self.out(x)) * valid


class AttentionPooling(nn.Module):
    """Multi-head attention pooling with one learned query per head.

    Returns the pooled vector and each head's weights over residues (what the app shows).
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"pooling dimension {dim} is not divisible by {heads} heads")
        self.heads, self.head_dim = heads, dim // heads
        self.query = nn.Parameter(torch.randn(heads, self.head_dim) * self.head_dim**-0.5)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim), nn.Dropout(dropout))

    def forward(self, x: Tensor, pad: Tensor) -> tuple[Tensor, Tensor]:
        batch, length, _ = x.shape
        keys = self.key(x).view(batch, length, self.heads, self.head_dim)
        values = self.value(x).view(batch, length, self.heads, self.head_dim)
        scores = torch.einsum("blhd,hd->bhl", keys, self.query) * self.head_dim**-0.5
        scores = scores.masked_fill(pad[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        pooled = torch.einsum("bhl,blhd->bhd", weights, values).reshape(batch, -1)
        return self.out(pooled), weights


class FusionModel(nn.Module):
    """Streams (B, L, d_i) and lengths (B,) -> logits (B, n_classes), attention (B, heads, L)."""

    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        dims, hidden, drop = config.input_dims, config.hidden, config.dropout
        if len(dims) == 1 or (config.fusion == "concat" and dims):
            self.fusion: nn.Module = SingleStreamFusion(sum(dims), hidden, drop)
        elif config.fusion != "cross":
            raise ValueError(f"fusion must be 'cross' or 'concat', not {config.fusion!r}")
        elif len(dims) == 2:
            self.fusion = BidirectionalCrossAttention(
                dims[0], dims[1], hidden, config.cross_heads, drop
            )
        else:
            raise ValueError(
                f"cross-attention fusion takes 1 or 2 input streams, not {len(dims)}: "
                "use fusion 'concat' for more"
            )
        pooled_dim = 2 * config.lstm_hidden
        self.encoder: nn.Module
        if config.encoder == "lstm":
            self.encoder = BiLSTMEncoder(hidden, config.lstm_hidden, config.lstm_layers, drop)
        elif config.encoder == "conv":
            self.encoder = ConvEncoder(hidden, pooled_dim, config.conv_kernel,
                                       config.conv_layers, drop)
        else:
            raise ValueError(f"encoder must be 'lstm' or 'conv', not {config.encoder!r}")
        self.pool = AttentionPooling(pooled_dim, config.pool_heads, drop)
        group_dim = 16 if config.n_groups else 0
        if config.n_groups:
            self.group_residue = nn.Embedding(config.n_groups, hidden)
            self.group_pooled = nn.Embedding(config.n_groups, group_dim)
        head_in = pooled_dim * (2 if config.mean_pool else 1) + group_dim
        self.head = nn.Sequential(
            nn.Linear(head_in, pooled_dim),
            nn.LayerNorm(pooled_dim),
            nn.ReLU(),
            nn.Dropout(drop),
            nn.Linear(pooled_dim, config.head_hidden),
            nn.LayerNorm(config.head_hidden),
            nn.ReLU(),
            nn.Dropout(drop),
            nn.Linear(config.head_hidden, config.n_classes),
        )

    def forward(
        self, streams: list[Tensor], lengths: Tensor, groups: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """``groups``: (B,) indices into :data:`protloc.classes.GROUPS`; None means unknown."""
        if len(streams) != len(self.config.input_dims):
            raise ValueError(
                f"model expects {len(self.config.input_dims)} streams, got {len(streams)}"
            )
        pad = padding_mask(lengths, streams[0].shape[1])
        x = self.fusion(streams, pad)
        if self.config.n_groups:
            if groups is None:
                groups = torch.zeros(len(lengths), dtype=torch.long, device=x.device)
            x = x + self.group_residue(groups)[:, None, :]
        x = self.encoder(x, lengths)
        pooled, attention = self.pool(x, pad)
        parts = [pooled]
        if self.config.mean_pool:
            valid = (~pad).to(x.dtype)[..., None]
            parts.append((x * valid).sum(1) / valid.sum(1).clamp(min=1.0))
        if self.config.n_groups:
            parts.append(self.group_pooled(groups))
        return self.head(torch.cat(parts, dim=-1)), attention


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pad_batch(arrays: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Stack (L_i, d) tensors into a zero-padded (B, L_max, d) batch plus lengths."""
    lengths = torch.tensor([a.shape[0] for a in arrays], dtype=torch.long)
    max_len = int(lengths.max())
    batch = arrays[0].new_zeros((len(arrays), max_len, arrays[0].shape[1]))
    for i, a in enumerate(arrays):
        batch[i, : a.shape[0]] = a
    return batch, lengths


def softmax_with_temperature(logits: Tensor, temperature: float) -> Tensor:
    return F.softmax(logits / temperature, dim=-1)
