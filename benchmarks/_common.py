"""Shared pieces of the benchmarks: machine facts, protein lengths like DeepLocPro's set,
randomly initialised backbones of the real sizes, a peak-memory sampler and result recording.

Results go to ``benchmarks/results/<name>[-quick].json`` (overwritten; one file per benchmark and
mode) and, for full runs, into the marked section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import platform
import re
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"

#: DeepLocPro's training set: 11,906 proteins, mean length about 418, at most 999 residues
#: (its sequences were cut to 1,000). A fold model trains on 3 of the 5 partitions.
DLP_PROTEINS = 11_906
DLP_MEAN_LENGTH = 418
DLP_MAX_LENGTH = 999
DLP_MIN_LENGTH = 40

#: Real backbone sizes (random weights: same compute as the released ones).
ESM2_650M = dict(num_layers=33, embed_dim=1280, attention_heads=20)
#: ProstT5 = ProtT5-XL-U50's T5 (t5-3b-like) encoder: d_model 1024, d_ff 16384, 24 layers,
#: 32 heads of d_kv 128, ReLU feed-forward, 32 relative-position buckets, vocabulary 128
#: (20 residues + rare + 3Di tokens + specials); the decoder is not used.
PROSTT5_ENCODER = dict(d_model=1024, d_ff=16384, num_layers=24, num_heads=32, d_kv=128,
                       vocab_size=128)


def machine_info() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "memory_gib": _mem_total_gib(),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def deeplocpro_lengths(n: int, seed: int = 0, max_length: int = DLP_MAX_LENGTH,
                       mean: float = DLP_MEAN_LENGTH) -> np.ndarray:
    """``n`` protein lengths distributed like DeepLocPro's set: a gamma distribution (shape 2.2)
    cut to [40, max_length] with its scale chosen so that the mean is ``mean`` (418 at 999)."""
    rng = np.random.default_rng(seed)
    shape = 2.2
    lo = min(DLP_MIN_LENGTH, max_length)
    scale = mean / shape
    for _ in range(30):  # fix the scale so that the *cut* distribution has the wanted mean
        probe = np.clip(np.random.default_rng(12345).gamma(shape, scale, 200_000), lo, max_length)
        scale *= mean / probe.mean()
    return np.clip(rng.gamma(shape, scale, n), lo, max_length).round().astype(int)


def length_quantiles(k: int, max_length: int = DLP_MAX_LENGTH,
                     mean: float = DLP_MEAN_LENGTH) -> list[int]:
    """``k`` lengths at evenly spaced quantiles (1/2k, 3/2k, ...) of :func:`deeplocpro_lengths`."""
    sample = np.sort(deeplocpro_lengths(200_000, seed=1, max_length=max_length, mean=mean))
    return [int(sample[int((2 * i + 1) / (2 * k) * len(sample))]) for i in range(k)]


def random_protein(length: int, rng: np.random.Generator) -> str:
    return "M" + "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=length - 1))


def random_esm2(num_layers: int = 33, embed_dim: int = 1280, attention_heads: int = 20,
                seed: int = 0):
    """fair-esm ESM-2 of the given size with random weights, and its alphabet."""
    import esm
    import torch

    torch.manual_seed(seed)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(num_layers=num_layers, embed_dim=embed_dim,
                                attention_heads=attention_heads, alphabet=alphabet)
    return model.eval(), alphabet


def random_prostt5(tmp_dir: Path, seed: int = 0, **sizes):
    """A T5 encoder of ProstT5's size (or ``sizes``) with random weights, and a ProstT5-like
    tokenizer (one token per residue, ``<AA2fold>`` prefix)."""
    import torch
    import transformers

    cfg = {**PROSTT5_ENCODER, **sizes}
    tokenizer = build_tokenizer(Path(tmp_dir))
    cfg["vocab_size"] = max(cfg["vocab_size"], len(tokenizer))
    torch.manual_seed(seed)
    config = transformers.T5Config(**cfg, feed_forward_proj="relu", decoder_start_token_id=0)
    model = transformers.T5EncoderModel(config)
    return model.eval(), tokenizer


def rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRSS:
    """Samples the resident set size every few milliseconds while active: ``peak`` bytes."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> "PeakRSS":
        self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def gib(n: float) -> float:
    return round(n / 2**30, 3)


def save_result(name: str, result: dict[str, Any], quick: bool) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return path


def update_doc(name: str, markdown: str) -> None:
    """Replace the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in the doc."""
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        text += f"\n<!-- {name}:begin -->\n<!-- {name}:end -->\n"
    text = pattern.sub(lambda m: m.group(1) + markdown.rstrip() + "\n" + m.group(2), text)
    DOC.write_text(text, encoding="utf-8")


def machine_line(info: dict[str, Any]) -> str:
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    return (f"Measured {info['date_utc']} UTC on {info['cpu']} ({info['cpu_cores']} cores, "
            f"{info['torch_threads']} torch threads, {info['memory_gib']} GiB{gpu}), torch "
            f"{info['torch']}, load average at start {info['load_average_at_start'][0]}. "
            f"Command: `{info['command']}`.")


def record(name: str, result: dict[str, Any], markdown: str, quick: bool, to_doc: bool) -> None:
    path = save_result(name, result, quick)
    print(f"\nresults: {_show(path)}")
    if to_doc:
        update_doc(name, markdown)
        print(f"updated the {name} section of {_show(DOC)}")


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


#: Residue letters of the ProstT5-like tokenizer.
LETTERS = "ACDEFGHIKLMNPQRSTVWYXUZOB"


def build_tokenizer(directory, special=("<AA2fold>", "<fold2AA>")):
    """A T5Tokenizer shaped like ProstT5's: one piece per residue ("▁M"), pad/eos/unk = 0/1/2 and
    the translation-direction prefixes as extra special tokens."""
    import sentencepiece as spm
    import transformers

    lines = [" ".join(LETTERS[i:] + LETTERS[:i]) for i in range(len(LETTERS))] * 4
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, model_type="word",
        vocab_size=len(LETTERS) + 3, hard_vocab_limit=False, character_coverage=1.0,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2,
    )
    path = Path(directory) / "spiece.model"
    path.write_bytes(buf.getvalue())
    return transformers.T5Tokenizer(
        str(path), extra_ids=0, additional_special_tokens=list(special), legacy=True
    )
