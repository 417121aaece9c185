"""A second, independent cross-partition check with GraphPart's identity criterion.

GraphPart (DeepLocPro's partitioning tool; ``graph_part/needle_utils.py`` in
graph-part/graph-part) aligns pairs with EMBOSS ``needle`` (EBLOSUM62, gap open 10, gap extend
0.5, ``-endweight`` off, so end gaps cost nothing) and, with its default denominator ``full``,
takes the identity that needle prints: identical columns / alignment length, where the
alignment length counts every column, end gaps included (``# Identity: 14/443 ( 3.2%)``;
GraphPart parses the rounded percentage). This module computes the same quantity with
Biopython's ``PairwiseAligner`` (global, BLOSUM62, open -10, extend -0.5, end gaps 0)::

    graphpart_identity(a, b) = identities / columns of the optimal global alignment

Differences from needle that remain: among co-optimal alignments Biopython and needle may
trace back different ones (identity can differ by a residue or two); identity is not rounded
to 0.1%; letters outside BLOSUM62's alphabet (U, O, ...) are read as X. GraphPart counts a
pair as linking partitions when ``1 - identity < 1 - threshold`` (identity strictly above
the threshold); here a pair is reported when identity >= threshold (it *reaches* it), and
the report says how many are also above it.

Candidates. All-against-all NW (135 M pairs) is too slow, so each partition is searched
against the other four with SWORD (``pyswrd``, Smith-Waterman, BLOSUM62, gaps 11/1), and a
local hit is aligned with NW only if it passes these bounds, where ``m`` is its number of
identical columns and ``la``/``lb`` the lengths:

* sound for any alignment: the alignment has at least ``max(la, lb)`` columns (every residue of
  both sequences is in a column) and at most ``min(la, lb)`` identities, nor more than the
  shared composition ``sum_c min(count_a(c), count_b(c))``; so identity >= t needs
  ``min(la, lb, shared composition) >= t * max(la, lb)``;
* for a global alignment that contains the local one: the identities left of it are at most
  ``min(left_a, left_b)``, right of it ``min(right_a, right_b)``, so identity >= t needs
  ``m + min(left_a, left_b) + min(right_a, right_b) >= t * max(la, lb)``.

The second bound assumes the NW alignment keeps the SW core (usual for homologs; not guaranteed
for chance alignments of unrelated proteins), and the search itself may miss pairs (E-value
and candidate limits); ``scripts/graphpart_check.py`` measures the miss rate on random pairs.
There is no sound bound on identities from the NW score alone (internal gaps can make a
high-identity alignment score low), so every candidate that passes is aligned.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from Bio.Align import PairwiseAligner, substitution_matrices

_MATRIX_LETTERS = frozenset("ARNDCQEGHILKMFPSTWYVBZX")


def clean(seq: str) -> str:
    """Upper case; letters BLOSUM62 does not know (U, O, J, ...) become X."""
    return "".join(c if c in _MATRIX_LETTERS else "X" for c in seq.upper())


@lru_cache(maxsize=1)
def _aligner() -> PairwiseAligner:
    al = PairwiseAligner(mode="global")
    al.substitution_matrix = substitution_matrices.load("BLOSUM62")
    al.open_gap_score = -10.0  # needle: a gap of n residues costs 10 + (n - 1) * 0.5
    al.extend_gap_score = -0.5
    al.end_gap_score = 0.0  # needle default (-endweight off): end gaps are free
    return al


def nw_counts(a: str, b: str) -> tuple[int, int]:
    """(identical columns, alignment columns incl. end gaps) of one optimal NW alignment."""
    aln = _aligner().align(clean(a), clean(b))[0]
    return aln.counts().identities, aln.length


def graphpart_identity(a: str, b: str) -> float:
    """GraphPart's default ('full') identity: identical columns / alignment length."""
    ident, length = nw_counts(a, b)
    return ident / length if length else 0.0


def sound_bound(a: str, b: str) -> float:
    """Upper bound on graphpart_identity(a, b) valid for every alignment."""
    ca, cb = Counter(a), Counter(b)
    shared = sum(min(n, cb[c]) for c, n in ca.items())
    return min(len(a), len(b), shared) / max(len(a), len(b), 1)


def local_bound(m: float, qs: int, qe: int, ts: int, te: int, la: int, lb: int) -> float:
    """Bound on global identity if the NW alignment contains the local one (ends inclusive)."""
    flanks = min(qs, ts) + min(la - 1 - qe, lb - 1 - te)
    return (m + flanks) / max(la, lb)


def _local_identities(result) -> int:
    # identity() divides by the non-gap columns; the alignment string marks identities 'M'
    # (mismatches 'X', gaps 'I'/'D').
    aln = result.alignment
    return (aln() if callable(aln) else aln).count("M")


@dataclass(frozen=True)
class NWPair:
    a: str
    b: str
    partition_a: str
    partition_b: str
    identities: int
    length: int
    bench_a: bool
    bench_b: bool

    @property
    def identity(self) -> float:
        return self.identities / self.length

    @property
    def exempt(self) -> bool:  # both DeepLocPro benchmark proteins: partitions are fixed
        return self.bench_a and self.bench_b


def _is_true(v) -> bool:
    return v is True or str(v).strip().lower() in ("true", "1", "yes")


def candidate_pairs(table: list[Mapping], threshold: float, threads: int, max_evalue: float,
                    max_alignments: int, max_candidates: int,
                    log: Callable[[str], None] = lambda s: None,
                    ) -> dict[tuple[int, int], tuple[float, float]]:
    """Row-index pairs (i < j, different partitions) from the local search.

    Value: (largest local bound, if it and the sound bound pass, else -1; largest local
    identities / shorter length, the project's own criterion computed from SWORD hits). Pairs
    are kept if either reaches ``threshold``. SWORD uses gap open 11, extend 1 (MMseqs2's).
    """
    import pyswrd

    seqs = [clean(r["sequence"]) for r in table]
    parts = [str(r["partition"]) for r in table]
    out: dict[tuple[int, int], tuple[float, float]] = {}
    n_hits = 0
    for p in sorted(set(parts)):
        qi = [i for i, x in enumerate(parts) if x == p]
        ti = [i for i, x in enumerate(parts) if x != p]
        if not ti:
            continue
        hits = pyswrd.search([seqs[i] for i in qi], [seqs[i] for i in ti], gap_open=11,
                             gap_extend=1, max_evalue=max_evalue, max_alignments=max_alignments,
                             max_candidates=max_candidates, threads=threads)
        for h in hits:
            n_hits += 1
            i, j = qi[h.query_index], ti[h.target_index]
            r, la, lb = h.result, len(seqs[i]), len(seqs[j])
            m = _local_identities(r)
            bound = local_bound(m, r.query_start, r.query_end, r.target_start, r.target_end, la, lb)
            if bound < threshold - 1e-9 or sound_bound(seqs[i], seqs[j]) < threshold - 1e-9:
                bound = -1.0
            own = m / min(la, lb)
            key = (min(i, j), max(i, j))
            old = out.get(key, (-1.0, 0.0))
            if bound >= 0 or own >= threshold - 1e-9 or key in out:
                out[key] = (max(bound, old[0]), max(own, old[1]))
        log(f"partition {p}: {len(qi)} queries, {n_hits} local hits so far, {len(out)} pairs kept")
    return out


def _nw_pair(ab: tuple[str, str]) -> tuple[int, int]:
    return nw_counts(*ab)


def nw_pairs(rows: list[Mapping], keys: Iterable[tuple[int, int]], threshold: float = 0.30,
             log: Callable[[str], None] = lambda s: None, processes: int = 1) -> list[NWPair]:
    """Align each row-index pair; those with GraphPart identity >= threshold, highest first."""
    todo = sorted(keys)
    jobs = ((rows[i]["sequence"], rows[j]["sequence"]) for i, j in todo)
    pool = multiprocessing.get_context("fork").Pool(processes) if processes > 1 else None
    counts = pool.imap(_nw_pair, jobs, chunksize=64) if pool else map(_nw_pair, jobs)
    found = []
    for n, ((i, j), (ident, length)) in enumerate(zip(todo, counts)):
        if length and ident >= threshold * length - 1e-9:
            a, b = rows[i], rows[j]
            found.append(NWPair(a["id"], b["id"], str(a["partition"]), str(b["partition"]), ident,
                                length, _is_true(a["in_benchmark"]), _is_true(b["in_benchmark"])))
        if (n + 1) % 5000 == 0:
            log(f"NW: {n + 1}/{len(todo)} aligned, {len(found)} at >= {threshold}")
    if pool:
        pool.close()
        pool.join()
    log(f"NW: {len(todo)} aligned, {len(found)} at >= {threshold}")
    return sorted(found, key=lambda p: (-p.identity, p.a, p.b))


def cross_partition_pairs_nw(table: Iterable[Mapping], threshold: float = 0.30, threads: int = 2,
                             max_evalue: float = 10.0, max_alignments: int = 300,
                             max_candidates: int = 1000,
                             log: Callable[[str], None] = lambda s: None) -> list[NWPair]:
    """Cross-partition pairs with GraphPart identity >= threshold, highest identity first.

    ``table``: rows with ``id``, ``sequence``, ``partition`` and ``in_benchmark``.
    """
    rows = list(table)
    cands = candidate_pairs(rows, threshold, threads, max_evalue, max_alignments, max_candidates, log)
    keys = [k for k, (bound, _) in cands.items() if bound >= 0]
    return nw_pairs(rows, keys, threshold, log, processes=threads)
