"""What refusing hostile input costs: time and peak memory of `protloc predict` (or of loading a
checkpoint set) on each oversized or damaged input of issue 16, each in a fresh process.

Usage: .venv/bin/python -m benchmarks.bench_limits
Writes benchmarks/results/bench_limits.json; docs/reliability.md renders it (refresh it with
PROTLOC_REFRESH_DOCS=1 .venv/bin/python -m pytest tests/test_reliability.py).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Callable

from benchmarks._common import RESULTS, ROOT, machine_info

RESULT = RESULTS / "bench_limits.json"
PROTEIN = "MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQYHDTGFINNNGPTHENQLGAGAFGGYQVNPYVGFEMGYDWLG"
CHECKPOINT = ROOT / "checkpoints" / "default"


def _gzip_sequence(path: Path, residues: int, width: int = 60) -> None:
    """One sequence of ``residues`` residues in ``width``-letter lines, gzip-compressed."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    line = ((PROTEIN * 2)[:width] + "\n").encode()
    block = line * 100_000
    with open(path, "wb") as out:
        out.write(packer.compress(b">huge one sequence\n"))
        for _ in range(residues // (width * 100_000)):
            out.write(packer.compress(block))
        out.write(packer.compress(line * (residues % (width * 100_000) // width)))
        out.write(packer.flush())


def _gzip_text_bomb(path: Path, mib: int) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"ACDEFGHIKLMNPQRS" * 2**16  # 1 MiB of letters: text, so only the size cap stops it
    with open(path, "wb") as out:
        for _ in range(mib * 2**20 // len(block)):
            out.write(packer.compress(block))
        out.write(packer.flush())


def _fasta(path: Path, records: int, length: int) -> None:
    body = (PROTEIN * (length // len(PROTEIN) + 1))[:length]
    path.write_text("".join(f">p{i}\n{body}\n" for i in range(records)))


def _set_with(folder: Path, change: Callable[[dict], None]) -> Path:
    import synthetic

    target = synthetic.write_random_checkpoint(folder / "set")
    manifest = json.loads((target / "manifest.json").read_text())
    change(manifest)
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def _nan_weights(folder: Path) -> Path:
    import synthetic
    import torch
    from safetensors.torch import load_file, save_file

    target = synthetic.write_random_checkpoint(folder / "set")
    state = load_file(str(target / "fold_0.safetensors"))
    key = sorted(state)[0]
    state[key] = torch.full_like(state[key], float("nan"))
    save_file(state, str(target / "fold_0.safetensors"))
    return target


def _nested(folder: Path) -> Path:
    import synthetic

    target = synthetic.write_random_checkpoint(folder / "set")
    (target / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    return target


# name -> (what was tried, how to make the input: folder -> (fasta, checkpoint))
SCENARIOS: dict[str, tuple[str, Callable[[Path], tuple[Path, Path]]]] = {
    "one-protein": ("one ordinary protein (for comparison)",
                    lambda f: (_write(f / "p.fasta", f">p\n{PROTEIN}\n"), CHECKPOINT)),
    "huge-gzip-sequence": ("a .gz holding one 510,000,000-residue sequence",
                           lambda f: (_run(_gzip_sequence, f / "huge.fasta.gz", 510_000_000),
                                      CHECKPOINT)),
    "gzip-bomb": ("a .gz that unpacks to 600 MiB of text",
                  lambda f: (_run(_gzip_text_bomb, f / "bomb.fasta.gz", 600), CHECKPOINT)),
    "too-many-records": ("10,001 records of 50 residues",
                         lambda f: (_run(_fasta, f / "many.fasta", 10_001, 50), CHECKPOINT)),
    "too-many-residues": ("201 records of 10,000 residues (2,010,000 in all)",
                          lambda f: (_run(_fasta, f / "long.fasta", 201, 10_000), CHECKPOINT)),
    "hidden-200000": ("a manifest with hidden: 200000",
                      lambda f: (_write(f / "p.fasta", f">p\n{PROTEIN}\n"),
                                 _set_with(f, lambda m: m["model"]["config"].update(
                                     hidden=200_000)))),
    "billions-of-parameters": ("a manifest whose sizes are each in range but describe "
                               "13.6 billion parameters",
                               lambda f: (_write(f / "p.fasta", f">p\n{PROTEIN}\n"),
                                          _set_with(f, lambda m: m["model"]["config"].update(
                                              hidden=8192, lstm_hidden=8192, lstm_layers=8,
                                              head_hidden=8192)))),
    "nested-json": ("a manifest nested 100,000 levels deep",
                    lambda f: (_write(f / "p.fasta", f">p\n{PROTEIN}\n"), _nested(f))),
    "nan-weights": ("a fold weight tensor full of NaN",
                    lambda f: (_write(f / "p.fasta", f">p\n{PROTEIN}\n"), _nan_weights(f))),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _run(make, path: Path, *args) -> Path:
    make(path, *args)
    return path


def child(name: str, folder: Path) -> None:
    """Make the input (not timed), run `protloc predict` on it, print what it cost."""
    from protloc.cli import main

    fasta, checkpoint = SCENARIOS[name][1](folder)
    stdout, stderr = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = main(["predict", "-f", str(fasta), "-o", str(folder / "out"), "-m", str(checkpoint)],
                stdout=stdout, stderr=stderr)
    seconds = time.perf_counter() - start
    lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
    print(json.dumps({
        "exit": code,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "input_bytes": fasta.stat().st_size,
        "message": (stdout.getvalue().strip() if code == 0 else lines[-1] if lines else "")
        .replace(str(folder), "<tmp>"),
    }))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", help="run only these scenarios")
    args = parser.parse_args(argv)
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            child(args.child, Path(tmp))
        return 0
    results = {}
    for name in args.only or SCENARIOS:
        run = subprocess.run([sys.executable, "-m", "benchmarks.bench_limits", "--child", name],
                             capture_output=True, text=True, cwd=ROOT, timeout=1200,
                             env={**os.environ, "OMP_NUM_THREADS": "1",
                                  # tests/synthetic.py writes the small checkpoint sets
                                  "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])})
        if run.returncode:
            print(run.stderr, file=sys.stderr)
            return 1
        results[name] = {"tried": SCENARIOS[name][0], **json.loads(run.stdout.splitlines()[-1])}
        print(name, results[name])
    RESULT.write_text(json.dumps({"machine": machine_info(), "scenarios": results}, indent=1)
                      + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
