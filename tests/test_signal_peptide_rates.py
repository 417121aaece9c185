"""scripts/signal_peptide_rates.py: call rates per stream from cached evidence matrices."""

import io
from contextlib import redirect_stdout

import pandas as pd
import pytest

pytest.importorskip("pyTMHMM", reason="pytmhmm-binaries is not installed")

from protloc.embedders import EmbeddingCache  # noqa: E402
from scripts.signal_peptide_rates import main  # noqa: E402
from tests.test_evidence import TEM1  # noqa: E402

GROEL_START = "MAAKDVKFGNDARVKMLRGVNVLADAVKVTLGPKGRNVVLDKSFGAPTITKDGVSVAREIELEDKFENMGAQMVKEVASKANDAAGDGTTTATVLAQ"


def test_rates_per_stream_and_cache_filled(tmp_path):
    pd.DataFrame({"id": ["tem1", "groel"], "sequence": [TEM1, GROEL_START],
                  "label": ["Periplasmic", "Cytoplasmic"], "group": ["negative", ""],
                  "in_benchmark": [True, False]}).to_csv(tmp_path / "dataset.tsv", sep="\t", index=False)
    cache = EmbeddingCache(tmp_path / "cache")
    out = io.StringIO()
    with redirect_stdout(out):
        main(tmp_path, cache)
    text = out.getvalue()
    # TEM-1's V-F-A site: no call under A-X-A (v1), a Sec call under von Heijne (v2)
    assert "| negative | Periplasmic | 1 | 0.00 | 1.00 |" in text
    assert "| unknown | Cytoplasmic | 1 | 0.00 | 0.00 |" in text
    assert cache.contains("evidence-v2", TEM1) and cache.contains("evidence-v1", GROEL_START)
