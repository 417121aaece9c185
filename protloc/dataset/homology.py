"""Homology searches with MMseqs2, cached on disk.

Identity definition (used for partitioning and for the cross-partition check)::

    identity(a, b) = nident / min(len(a), len(b))

``nident`` is the number of identical aligned residues in MMseqs2's local alignment
(Smith-Waterman, BLOSUM62) of the pair, as found by ``mmseqs search`` at the highest prefilter
sensitivity (``-s 7.5``), a lenient e-value (``-e 10``) and no identity or coverage filter; a
pair found in both search directions keeps the larger value. Dividing by the shorter *full*
length means a local hit counts in proportion to how much of the shorter protein it covers, as
in GraphPart's Needleman-Wunsch identity over the shorter sequence. Two proteins are homologs
at threshold ``t`` when ``identity >= t``.

Searches:

* :meth:`MMseqs.search` - query set against target set (all-against-all when they are equal).
* :meth:`MMseqs.linclust` - fast redundancy clustering (used to search against representatives).
* :func:`homology_graph` - the edges used for partitioning: representatives of a 50%-identity
  linclust all against all, plus member-representative alignments.
* :func:`cross_partition_pairs` - the check: each partition against all other partitions.

Every call is cached under ``cache_dir`` by a hash of its input sequences, parameters and the
MMseqs2 version. Thread count is not part of the key: results do not depend on it (tested).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import UserError

INSTALL_HINT = (
    "MMseqs2 is needed for homology partitioning: install it with "
    "'apt-get install mmseqs2' (Debian/Ubuntu) or 'conda install -c bioconda mmseqs2', "
    "or put the 'mmseqs' binary on PATH (or pass --mmseqs PATH / set PROTLOC_MMSEQS)."
)

Pairs = dict[tuple[str, str], float]


@dataclass(frozen=True)
class SearchParams:
    """``mmseqs search`` settings; pairs below ``min_identity`` (our definition) are dropped."""

    sensitivity: float = 7.5
    evalue: float = 10.0
    max_seqs: int = 300
    min_identity: float = 0.30
    cluster_identity: float = 0.5  # linclust --min-seq-id for the representatives
    cluster_coverage: float = 0.8  # linclust -c (both sequences, --cov-mode 0)

    def search_args(self) -> list[str]:
        return ["-s", str(self.sensitivity), "-e", str(self.evalue), "-a",
                "--max-seqs", str(self.max_seqs)]


def find_mmseqs(explicit: str | None = None) -> str:
    """Path of the mmseqs binary; raises UserError with an install hint if absent."""
    cand = explicit or os.environ.get("PROTLOC_MMSEQS") or "mmseqs"
    path = cand if Path(cand).is_file() else shutil.which(cand)
    if not path:
        raise UserError(INSTALL_HINT)
    return path


def mmseqs_version(binary: str) -> str:
    res = subprocess.run([binary, "version"], capture_output=True, text=True, check=False)
    return (res.stdout or res.stderr).strip() or "unknown"


def _hash_seqs(h, seqs: Mapping[str, str]) -> None:
    for k in sorted(seqs):
        h.update(f"{k}\t{seqs[k]}\n".encode())
    h.update(b"--\n")


def identity(nident: int, qlen: int, tlen: int) -> float:
    return nident / min(qlen, tlen)


class MMseqs:
    """Runs MMseqs2 in a temporary folder; caches results as small TSV files."""

    def __init__(self, binary: str | None = None, threads: int = 2, cache_dir: Path | None = None,
                 log: Callable[[str], None] | None = None):
        self.binary = find_mmseqs(binary)
        self.version = mmseqs_version(self.binary)
        self.threads = max(1, int(threads))
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.log = log or (lambda msg: None)

    # -- plumbing ---------------------------------------------------------------------------
    def _run(self, args: list[str], cwd: Path) -> None:
        res = subprocess.run([self.binary, *args], cwd=cwd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-5:])
            raise RuntimeError(f"mmseqs {args[0]} failed (exit {res.returncode}):\n{tail}")

    def _key(self, op: str, params: dict, *seqsets: Mapping[str, str]) -> str:
        h = hashlib.sha256()
        h.update(json.dumps({"op": op, "params": params, "mmseqs": self.version,
                             "identity": "nident/min_len"}, sort_keys=True).encode())
        for s in seqsets:
            _hash_seqs(h, s)
        return h.hexdigest()[:32]

    def _cache_path(self, op: str, key: str) -> Path | None:
        return self.cache_dir / f"{op}-{key}.tsv" if self.cache_dir else None

    @staticmethod
    def _write_fasta(path: Path, seqs: Mapping[str, str]) -> None:
        with open(path, "w") as fh:
            fh.writelines(f">{k}\n{seqs[k]}\n" for k in sorted(seqs))

    # -- operations ---------------------------------------------------------------------------
    def search(self, query: Mapping[str, str], target: Mapping[str, str], params: SearchParams) -> Pairs:
        """Pairs ``{(a, b): identity}`` (a < b, a != b) between query and target sets."""
        if not query or not target:
            return {}
        p = {k: v for k, v in asdict(params).items() if not k.startswith("cluster_")}
        key = self._key("search", p, query, target)
        cached = self._cache_path("search", key)
        if cached is not None and cached.is_file():
            return read_pairs(cached)
        pairs: Pairs = {}
        same = dict(query) == dict(target)
        with tempfile.TemporaryDirectory(prefix="protloc-mmseqs-") as tmp:
            t = Path(tmp)
            self._write_fasta(t / "q.fasta", query)
            self._run(["createdb", "q.fasta", "qdb", "--dbtype", "1", "-v", "1"], t)
            tdb = "qdb"
            if not same:
                self._write_fasta(t / "t.fasta", target)
                self._run(["createdb", "t.fasta", "tdb", "--dbtype", "1", "-v", "1"], t)
                tdb = "tdb"
            self._run(["search", "qdb", tdb, "aln", "tmp", *params.search_args(),
                       "--threads", str(self.threads), "-v", "1"], t)
            self._run(["convertalis", "qdb", tdb, "aln", "aln.tsv", "--format-output",
                       "query,target,nident,qlen,tlen", "--threads", str(self.threads), "-v", "1"], t)
            _collect(t / "aln.tsv", params.min_identity, pairs)
        if cached is not None:
            write_pairs(pairs, cached)
        return pairs

    def linclust(self, seqs: Mapping[str, str], params: SearchParams) -> tuple[dict[str, str], Pairs]:
        """Linclust at ``params.cluster_identity`` / ``cluster_coverage``.

        Returns (member -> representative for every sequence, member-representative pairs at or
        above ``params.min_identity`` by our identity definition, from a full alignment).
        """
        if not seqs:
            return {}, {}
        p = {"id": params.cluster_identity, "cov": params.cluster_coverage, "min": params.min_identity}
        key = self._key("linclust", p, seqs)
        cached = self._cache_path("linclust", key)
        if cached is not None and cached.is_file():
            rep, pairs = {}, {}
            with open(cached) as fh:
                for line in fh:
                    m, r, v = line.rstrip("\n").split("\t")
                    rep[m] = r
                    if v != "-":
                        pairs[(min(m, r), max(m, r))] = float(v)
            return rep, pairs
        rep: dict[str, str] = {}
        pairs: Pairs = {}
        with tempfile.TemporaryDirectory(prefix="protloc-mmseqs-") as tmp:
            t = Path(tmp)
            self._write_fasta(t / "in.fasta", seqs)
            self._run(["createdb", "in.fasta", "db", "--dbtype", "1", "-v", "1"], t)
            self._run(["linclust", "db", "clu", "tmp", "--min-seq-id", str(params.cluster_identity),
                       "-c", str(params.cluster_coverage), "--cov-mode", "0",
                       "--threads", str(self.threads), "-v", "1"], t)
            self._run(["createtsv", "db", "db", "clu", "clu.tsv", "--threads", str(self.threads), "-v", "1"], t)
            with open(t / "clu.tsv") as fh:
                for line in fh:
                    r, m = line.rstrip("\n").split("\t")[:2]
                    rep[m] = r
            self._run(["align", "db", "db", "clu", "clualn", "-a", "-e", "1000000",
                       "--threads", str(self.threads), "-v", "1"], t)
            self._run(["convertalis", "db", "db", "clualn", "clualn.tsv", "--format-output",
                       "query,target,nident,qlen,tlen", "--threads", str(self.threads), "-v", "1"], t)
            _collect(t / "clualn.tsv", params.min_identity, pairs)
        for k in seqs:
            rep.setdefault(k, k)
        if cached is not None:
            tmpf = cached.with_suffix(".tmp")
            with open(tmpf, "w") as fh:
                for m in sorted(rep):
                    r = rep[m]
                    v = pairs.get((min(m, r), max(m, r)))
                    fh.write(f"{m}\t{r}\t{'-' if v is None else f'{v:.4f}'}\n")
            os.replace(tmpf, cached)
        return rep, pairs


def _collect(tsv: Path, min_identity: float, pairs: Pairs) -> None:
    with open(tsv) as fh:
        for line in fh:
            q, s, nident, qlen, tlen = line.rstrip("\n").split("\t")
            if q == s:
                continue
            ident = round(identity(int(nident), int(qlen), int(tlen)), 4)
            if ident + 1e-9 < min_identity:
                continue
            a, b = (q, s) if q < s else (s, q)
            if ident > pairs.get((a, b), -1.0):
                pairs[(a, b)] = ident


#: Below this many sequences one plain search is cheaper than several (each MMseqs2 prefilter
#: run has a fixed cost of a few seconds).
SPLIT_MIN = 2000


def search_each_pair_once(mm: MMseqs, seqs: Mapping[str, str], params: SearchParams,
                          blocks: int = 4, split_min: int = SPLIT_MIN) -> Pairs:
    """All-against-all in ``blocks`` blocks of the sorted keys: block i against blocks i..n-1,
    so each pair is searched once rather than in both directions (about 60% of the work)."""
    keys = sorted(seqs)
    if len(keys) < max(split_min, 4 * blocks):
        return mm.search(seqs, seqs, params)
    size = -(-len(keys) // blocks)
    chunks = [keys[i:i + size] for i in range(0, len(keys), size)]
    pairs: Pairs = {}
    for i, chunk in enumerate(chunks):
        q = {k: seqs[k] for k in chunk}
        t = {k: seqs[k] for c in chunks[i:] for k in c}
        for k, v in mm.search(q, t, params).items():
            if v > pairs.get(k, -1.0):
                pairs[k] = v
    return pairs


def homology_graph(mm: MMseqs, seqs: Mapping[str, str], params: SearchParams) -> tuple[Pairs, dict]:
    """Homolog pairs for partitioning, and stats.

    1. linclust at 50% identity / 80% coverage; member-representative pairs are aligned.
    2. the representatives are searched all against all (``params``; each pair once, see
       :func:`search_each_pair_once`).
    Members always share their representative's partition. Pairs that involve a member and
    another cluster are not searched here (that would cost several times more); the
    cross-partition check finds those that cross partitions.
    """
    rep, pairs = mm.linclust(seqs, params)
    reps = {k: seqs[k] for k in sorted(set(rep.values()))}
    mm.log(f"  linclust: {len(seqs):,} sequences -> {len(reps):,} representatives")
    found = search_each_pair_once(mm, reps, params)
    for k, v in found.items():
        if v > pairs.get(k, -1.0):
            pairs[k] = v
    return pairs, {"n_representatives": len(reps)}


def cross_partition_pairs(
    mm: MMseqs, seqs: Mapping[str, str], partition: Mapping[str, int], params: SearchParams,
    queries: set[str] | None = None, split_min: int = SPLIT_MIN,
) -> list[tuple[str, str, float]]:
    """Pairs at or above ``params.min_identity`` whose proteins lie in different partitions.

    The proteins of each partition (or only those in ``queries``) are searched against all
    proteins of the other partitions, so every cross-partition pair is searched in both
    directions, as the identity definition asks (alignments, and so identities near the
    threshold, differ with the direction). Sets smaller than ``split_min`` are searched in one
    run (queries against all proteins) and the pairs filtered. Sorted (a, b, identity), a < b.
    """
    import time

    if len(partition) < split_min:
        qs = {k: seqs[k] for k in partition if queries is None or k in queries}
        hits = mm.search(qs, {k: seqs[k] for k in partition}, params)
        return sorted((a, b, w) for (a, b), w in hits.items() if partition[a] != partition[b])
    found: Pairs = {}
    parts = sorted(set(partition.values()))
    for p in parts:
        q = {k: seqs[k] for k in partition if partition[k] == p and (queries is None or k in queries)}
        t = {k: seqs[k] for k in partition if partition[k] != p}
        if not q or not t:
            continue
        t0 = time.perf_counter()
        hits = mm.search(q, t, params)
        mm.log(f"    partition {p}: {len(q):,} against {len(t):,}: {len(hits)} pairs "
               f"({time.perf_counter() - t0:.0f}s)")
        for k, v in hits.items():
            if partition[k[0]] != partition[k[1]] and v > found.get(k, -1.0):
                found[k] = v
    return sorted((a, b, w) for (a, b), w in found.items())


def write_pairs(pairs: Pairs, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        fh.writelines(f"{a}\t{b}\t{pairs[(a, b)]:.4f}\n" for (a, b) in sorted(pairs))
    os.replace(tmp, path)


def read_pairs(path: Path) -> Pairs:
    out: Pairs = {}
    with open(path) as fh:
        for line in fh:
            a, b, v = line.rstrip("\n").split("\t")
            out[(a, b)] = float(v)
    return out
