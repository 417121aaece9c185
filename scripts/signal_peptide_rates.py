"""How often each evidence stream calls a signal peptide, by organism group and class.

    PROTLOC_CACHE=... .venv/bin/python scripts/signal_peptide_rates.py data_build/dataset \
        > docs/results/signal_peptides.md

Reads the ``evidence-v1`` and ``evidence-v2`` matrices from the embedding cache (computing and
caching those that are missing: TMHMM, about 0.1 s a protein) and counts a call when residue 1
carries a Sec, lipoprotein or Tat signal peptide. The two streams differ only in the
signal-peptidase I site rule (A-X-A against von Heijne's; ``protloc.regions.CLEAVAGE_RULES``).
There is no signal-peptide annotation in the data, so the classes stand in for it: most
periplasmic, outer-membrane and Gram-positive secreted proteins carry one, cytoplasmic proteins
none. Descriptive only: no model reads these figures, and the default model's stream is v1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from protloc.embedders import CachedEmbedder, EmbeddingCache, make_embedder
from protloc.evidence import EVIDENCE_COLUMNS, SP_TYPES

STREAMS = ("evidence-v1", "evidence-v2")
_SP = [EVIDENCE_COLUMNS.index(c) for c in ("sp_sec", "sp_lipo", "sp_tat")]


def calls(sequences: list[str], stream: str, cache: EmbeddingCache) -> list[str]:
    """The signal-peptide type each sequence gets from ``stream`` ('none' when there is none)."""
    embedder = CachedEmbedder(make_embedder(stream), cache)
    out = []
    for start in range(0, len(sequences), 500):
        for matrix in embedder.embed(sequences[start : start + 500]):
            first = matrix[0, _SP]
            out.append(SP_TYPES[1 + int(np.argmax(first))] if first.any() else "none")
    return out


def table(data: pd.DataFrame, streams=STREAMS) -> pd.DataFrame:
    rows = data.assign(group=data["group"].replace("", "unknown"))
    grouped = rows.groupby(["group", "label"])
    out = grouped.size().rename("n").to_frame()
    for stream in streams:
        out[stream] = grouped[stream].apply(lambda s: f"{(s != 'none').mean():.2f}")
    return out.reset_index()


def markdown(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main(dataset: Path, cache: EmbeddingCache | None = None) -> None:
    data = pd.read_csv(dataset / "dataset.tsv", sep="\t", keep_default_na=False)
    cache = cache or EmbeddingCache()
    for stream in STREAMS:
        data[stream] = calls(list(data["sequence"]), stream, cache)
    print("# Signal-peptide calls of the evidence streams, by organism group and class\n")
    print(f"Written by `scripts/signal_peptide_rates.py` from `{dataset.name}/dataset.tsv` "
          f"({len(data):,} proteins): the share of proteins whose residue 1 carries a signal "
          "peptide of any type (Sec, lipoprotein, Tat) in each stream. v1: A-X-A cleavage "
          "rule (the default model's input); v2: von Heijne's rule (the app's lanes).\n")
    for title, part in (("All proteins", data),
                        ("DeepLocPro benchmark proteins", data[data["in_benchmark"].astype(str) == "True"])):
        print(f"## {title}\n")
        print(markdown(table(part)))
        print()
    print("## Types called by v2, all proteins\n")
    print(markdown(pd.crosstab(data["label"], data["evidence-v2"]).reset_index()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
