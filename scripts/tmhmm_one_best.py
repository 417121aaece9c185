"""Helix counts of the app's examples under TMHMM 2.0's own decoding (Krogh's 1-best algorithm:
the most probable *label* sequence, summing over the state paths that give it), beside the
Viterbi path that protloc.evidence uses (pyTMHMM). Both read the real TMHMM 2.0 model file.

    PYTHONPATH=. .venv/bin/python scripts/tmhmm_one_best.py

Measured 2026-12-03: LacY (P02920) has 11 helices under both decodings; its crystal structure
has 12. The decoding is not why protloc reports 11.
"""

from __future__ import annotations

import re

import numpy as np

from pages.examples import EXAMPLES
from protloc.evidence import _tmhmm_alphabet, tmhmm

LABELS = "iMoO"  # the model file's labels: inside, membrane, outside (short / long loops)


def one_best(sequence: str) -> str:
    """1-best label path: per state, keep only the best label history reaching it, with the
    probability of every path that shares that history (histories interned as integer ids)."""
    from pyTMHMM.api import DEFAULT_MODEL
    from pyTMHMM.model import parse

    _, (start, trans, emit, charmap, labels, _) = parse(DEFAULT_MODEL)
    label = np.array([LABELS.index(labels[s]) for s in range(len(labels))])
    x = [charmap[c] for c in _tmhmm_alphabet(sequence)]
    n = len(label)
    prob = start * emit[:, x[0]]
    prob /= prob.sum()
    history = label.copy()  # ids 0-3: one-label histories
    parent, last = [-1] * len(LABELS), list(range(len(LABELS)))
    for symbol in x[1:]:
        ids, inverse = np.unique(history, return_inverse=True)
        owner = np.zeros((len(ids), n))
        owner[inverse, np.arange(n)] = prob
        flow = owner @ trans  # probability of each history flowing into each state
        best = flow.argmax(0)
        prob = flow[best, np.arange(n)] * emit[:, symbol]
        prob /= prob.sum()
        keys, key_inverse = np.unique(ids[best] * len(LABELS) + label, return_inverse=True)
        base = len(parent)
        parent += [int(k) // len(LABELS) for k in keys]
        last += [int(k) % len(LABELS) for k in keys]
        history = base + key_inverse
    ids, inverse = np.unique(history, return_inverse=True)
    node = int(ids[np.bincount(inverse, weights=prob).argmax()])
    path = []
    while node != -1:
        path.append(LABELS[last[node]])
        node = parent[node]
    return "".join(reversed(path))


def main() -> None:
    print("| example | length | helices, 1-best | helices, Viterbi (protloc) |\n|---|---|---|---|")
    for example in EXAMPLES.values():
        best = len(re.findall("M+", one_best(example.sequence)))
        viterbi = len(tmhmm(example.sequence).helices)
        print(f"| {example.short} | {len(example.sequence)} | {best} | {viterbi} |")


if __name__ == "__main__":
    main()
