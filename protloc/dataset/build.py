"""``protloc data build``: sources -> deduplicated, homology-partitioned dataset + datasheet."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..classes import CLASSES, apply_group_rule
from ..errors import UserError
from . import sources as S
from .datasheet import render_datasheet
from .homology import MMseqs, SearchParams, cross_partition_pairs, find_mmseqs, homology_graph
from .merge import POLICY_TEXT, Protein, Removal, apply_length_policy, merge_entries
from .partition import N_PARTITIONS, adjacency, partition_graph, remove_linkers

COLUMNS = ["id", "source", "source_id", "sequence", "label", "group", "partition", "in_benchmark", "flags"]
REMOVED_COLUMNS = ["id", "source", "source_id", "reason", "detail"]
DEFAULT_THRESHOLD = 0.30


def identity_text(threshold: float, params: SearchParams, version: str) -> str:
    return f"""\
- **Identity** of two proteins a, b: `nident / min(len(a), len(b))`, where `nident` is the number
  of identical aligned residues in the MMseqs2 local alignment (BLOSUM62, Smith-Waterman) of the
  pair, the larger of the two search directions (a -> b, b -> a). Homologs: identity >= {threshold:.2f}.
- **Search settings**: MMseqs2 `{version}`, `mmseqs search -s {params.sensitivity} -e {params.evalue:g} -a
  --max-seqs {params.max_seqs}` (highest prefilter sensitivity, lenient e-value, no identity or
  coverage filter inside MMseqs2; the identity is computed from `nident`, `qlen`, `tlen`).
- **Compared with GraphPart** (DeepLocPro's tool: Needleman-Wunsch identity over the shorter
  sequence): both divide by the shorter length, so a pair reaches {threshold:.0%} only if identical residues
  amount to {threshold:.0%} of the shorter protein. Here any local hit the sensitive search finds counts,
  also when only a domain is shared; GraphPart's global alignment can count a few more chance
  matches in unaligned flanks. The exempt benchmark pairs below (pairs GraphPart left in
  different partitions that reach the threshold here) show that this definition links pairs
  GraphPart did not.
- **Graph for partitioning**: MMseqs2 `linclust` at {params.cluster_identity:.0%} identity and {params.cluster_coverage:.0%} coverage
  picks representatives; each member is aligned to its representative, and the representatives
  are searched all against all (settings above, each pair in one direction). Homologies of
  cluster members to other clusters, and pairs seen only in the other direction, are left to
  the check (searching every protein in the graph step costs several times more).
- **Partitioning** (`protloc.dataset.partition`): DeepLocPro benchmark proteins and DeepLocPro
  accessions keep DeepLocPro's partition (test fold `T` of `model_T_V.csv`); other proteins join
  the partition of their homologs (breadth-first from the anchors, largest summed identity),
  clusters without anchored homologs are placed greedily for class balance, unanchored proteins
  then move to the partition of most of their homologs; proteins that still link two
  partitions are removed greedily (most cross-partition homologs first; benchmark proteins
  never), as GraphPart does, and removed proteins whose homologs end up in one partition are
  put back.
- **Check**: the proteins of each partition are searched (settings above) against all proteins
  of the other 4 partitions, so every pair of proteins in different partitions is searched in
  both directions (the alignment, and so an identity near the threshold, differs with the
  direction; a one-direction check of this data missed dozens of pairs at 30-34% identity).
  Any pair at or above the threshold in different partitions fails the check, except pairs of
  two benchmark proteins (their partitions are fixed). Proteins it flags are removed
  (`check_linker`) greedily and put back only into their own partition, so the final set is a
  subset of the searched assignment and every cross-partition pair of it has been searched
  (a protein that did change partition would be searched again, at most {CHECK_ROUNDS} rounds);
  the build fails if pairs remain.
"""


CHECK_ROUNDS = 3


@dataclass
class BuildResult:
    dataset: pd.DataFrame
    removed: pd.DataFrame
    check_passed: bool
    violations: list[tuple[str, str, float]]
    exempt_pairs: list[tuple[str, str, float]]
    timings: dict[str, float] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_cache_dir() -> Path:
    root = os.environ.get("PROTLOC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "protloc")
    return Path(root) / "dataset"


def _dlp_disagreement_flags(proteins: list[Protein], data_dir: Path) -> None:
    """Flag non-benchmark DeepLocPro accessions whose label differs from DeepLocPro's held-out
    prediction (mean of its 4 inner models, group rule applied): a hint at noisy labels."""
    from ..reference import load_heldout, mean_heldout_probabilities

    wanted = [p for p in proteins if p.dlp_accession and not p.in_benchmark]
    if not wanted:
        return
    probs = mean_heldout_probabilities(load_heldout(data_dir))
    for p in wanted:
        if p.dlp_accession not in probs.index:
            continue
        v = apply_group_rule(probs.loc[p.dlp_accession].to_numpy(), p.group)
        pred = CLASSES[int(v.argmax())]
        if pred != p.label:
            p.flags.append("dlp_pred_disagrees=" + pred.replace(" ", "_"))


def build_dataset(
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    sources: Iterable[str] | None = None,
    threads: int = 2,
    cache_dir: str | os.PathLike | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    params: SearchParams | None = None,
    psortb_deb: str | os.PathLike | None = None,
    fetch_psortb: bool = True,
    mmseqs: str | None = None,
    log: Callable[[str], None] | None = None,
) -> BuildResult:
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))

    def step(name: str, t0: float) -> float:
        dt = time.perf_counter() - t0
        timings[name] = dt
        log(f"[{time.perf_counter() - t_start:7.1f}s] {name}: {dt:.1f}s")
        return time.perf_counter()

    from ..reference import deeplocpro_partitions, resolve_data_dir

    data_dir = resolve_data_dir(data_dir)
    chosen = S.resolve_sources(sources)
    if not chosen:
        raise UserError("no sources selected.")
    binary = find_mmseqs(mmseqs)  # fail before any work if MMseqs2 is missing
    params = dataclasses.replace(params or SearchParams(), min_identity=threshold)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    dlp_parts = deeplocpro_partitions(data_dir)
    loaded = S.load_sources(data_dir, chosen, cache, Path(psortb_deb) if psortb_deb else None, fetch_psortb)
    entries = [e for src in loaded for e in src.entries]
    for src in loaded:
        log(f"  {src.name}: {len(src.entries):,} entries" + (f" ({src.note})" if src.note else ""))
    t = step("parse sources", t)

    proteins, removals = merge_entries(entries, dlp_parts)
    stages = [
        ("source entries", len(entries)),
        ("distinct sequences with a localization entry",
         len({e.sequence for e in entries if e.status != S.NOT_LOCALIZATION and e.sequence})),
        ("after label rules (one usable label)", len(proteins)),
    ]
    proteins, length_removed = apply_length_policy(proteins)
    stages.append(("after length policy", len(proteins)))
    removals += length_removed
    _dlp_disagreement_flags(proteins, data_dir)
    log(f"  {len(proteins):,} candidate proteins after deduplication and length policy")
    t = step("deduplicate + label rules", t)

    by_id = {p.id: p for p in proteins}
    key_of = {p.id: hashlib.sha1(p.sequence.encode()).hexdigest()[:20] for p in proteins}
    id_of = {k: i for i, k in key_of.items()}
    mm = MMseqs(binary, threads, cache, log)
    seqs_by_key = {key_of[p.id]: p.sequence for p in proteins}
    pairs, _stats = homology_graph(mm, seqs_by_key, params)
    edges = {tuple(sorted((id_of[a], id_of[b]))): w for (a, b), w in pairs.items()}
    log(f"  {len(edges):,} homolog pairs at >= {threshold:.0%} in the partitioning graph")
    t = step("homology graph (mmseqs2 linclust + search)", t)

    anchors = {p.id: p.anchor for p in proteins if p.anchor is not None}
    protected = {p.id for p in proteins if p.in_benchmark}
    priority = {p.id: p.priority for p in proteins}
    missing = [p.id for p in proteins if p.in_benchmark and p.anchor is None]
    if missing:
        raise UserError(f"{len(missing)} benchmark proteins have no DeepLocPro partition, e.g. {missing[0]}.")
    res = partition_graph(
        [p.id for p in proteins], {p.id: p.label for p in proteins}, edges, anchors, protected, priority,
    )
    for pid in sorted(res.removed):
        p = by_id[pid]
        removals.append(Removal(pid, p.source, p.source_id, "partition_linker", res.removed[pid]))
    partition = dict(res.partition)
    how = dict(res.how)
    n_partition_removed = len(res.removed)
    log(f"  kept {len(partition):,}, removed {len(res.removed):,} linkers")
    t = step("partition", t)

    # The check: every pair of partitions searched. Proteins it flags are removed (never moved,
    # and put back only into their own partition), so the final set is a subset of the searched
    # assignment: every cross-partition pair of it has been searched. Should a protein ever
    # change partition, it is searched again against the other partitions.
    violations: list[tuple[str, str, float]] = []
    exempt: dict[tuple[str, str], float] = {}
    passed = False
    queries: set[str] | None = None
    all_edges = dict(edges)
    n_check_removed = 0
    first_check = (0, 0)
    for round_ in range(1, CHECK_ROUNDS + 1):
        kept_keys = {key_of[i]: partition[i] for i in partition}
        qkeys = None if queries is None else {key_of[i] for i in queries}
        found = cross_partition_pairs(mm, seqs_by_key, kept_keys, params, qkeys)
        cross = sorted((min(id_of[a], id_of[b]), max(id_of[a], id_of[b]), w) for a, b, w in found)
        for a, b, w in cross:
            if a in protected and b in protected:
                exempt[(a, b)] = w
        violations = [c for c in cross if not (c[0] in protected and c[1] in protected)]
        log(f"  check round {round_} ({'all' if queries is None else len(queries)} queries): "
            f"{len(violations)} cross-partition pairs >= {threshold:.0%}, {len(exempt)} exempt benchmark pairs")
        if round_ == 1:
            first_check = (len(violations), len({n for a, b, _ in violations for n in (a, b)}))
        if not violations:
            passed = True
            break
        if round_ == CHECK_ROUNDS:
            break
        for a, b, w in violations:
            all_edges[(a, b)] = max(w, all_edges.get((a, b), 0.0))
        kept_ids = sorted(partition)
        adj = adjacency(kept_ids, all_edges)
        new_part, removed_now = remove_linkers(partition, adj, anchors, protected, priority, allow_moves=False)
        for pid in sorted(removed_now):
            p = by_id[pid]
            removals.append(Removal(pid, p.source, p.source_id, "check_linker", "check search: " + removed_now[pid]))
        n_check_removed += len(removed_now)
        queries = {i for i in new_part if new_part[i] != partition[i]}
        partition = new_part
        if not queries:
            passed = True
            violations = []
            log(f"  check round {round_}: removed {len(removed_now)}; no protein changed partition, "
                "so every remaining cross-partition pair has been searched")
            break
    exempt_pairs = sorted((a, b, w) for (a, b), w in exempt.items() if a in partition and b in partition)
    stages.append(("after partitioning (linkers removed)", len(proteins) - n_partition_removed))
    stages.append(("after the check (final dataset)", len(partition)))
    t = step("cross-partition check (mmseqs2)", t)

    rows = []
    for pid in sorted(partition):
        p = by_id[pid]
        flags = list(p.flags) + [f"partition_by={how.get(pid, 'homology')}"]
        if p.dlp_accession and not p.in_benchmark:
            flags.append(f"dlp_accession={p.dlp_accession}")
        rows.append({
            "id": p.id, "source": p.source, "source_id": p.source_id, "sequence": p.sequence,
            "label": p.label, "group": p.group, "partition": int(partition[pid]),
            "in_benchmark": bool(p.in_benchmark), "flags": ";".join(sorted(set(flags))),
        })
    dataset = pd.DataFrame(rows, columns=COLUMNS)
    removed = pd.DataFrame([r.__dict__ for r in removals], columns=REMOVED_COLUMNS)
    removed = removed.sort_values(["reason", "source", "id", "source_id", "detail"], kind="mergesort").reset_index(drop=True)

    ds_path = out / "dataset.tsv"
    dataset.to_csv(ds_path, sep="\t", index=False, lineterminator="\n")
    removed.to_csv(out / "removed.tsv", sep="\t", index=False, lineterminator="\n")
    with open(out / "dataset.fasta", "w") as fh:
        for r in rows:
            fh.write(f">{r['id']} label={r['label'].replace(' ', '_')} group={r['group']} "
                     f"partition={r['partition']} source={r['source']}\n")
            seq = r["sequence"]
            fh.writelines(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))

    files = [(name, _sha256(path)) for src in loaded for name, path in src.files]
    files += [(f"deeplocpro/deeplocpro_heldout/{p.name}", _sha256(p))
              for p in sorted((data_dir / "deeplocpro" / "deeplocpro_heldout").glob("model_*.csv"))]
    info = {
        "sources": list(chosen),
        "source_files": sorted(files),
        "policy": POLICY_TEXT,
        "identity": identity_text(threshold, params, mm.version),
        "threshold": threshold,
        "n_partitions": N_PARTITIONS,
        "n_candidates": len(proteins),
        "n_partition_removed": n_partition_removed,
        "check": {"passed": passed, "violations": len(violations), "exempt": len(exempt_pairs),
                  "removed": n_check_removed, "first_pairs": first_check[0],
                  "first_proteins": first_check[1]},
        "stages": stages,
        "exempt_pairs": exempt_pairs,
        "psortb_note": next((s.note for s in loaded if s.name == S.PSORTB), ""),
        "dataset_sha256": _sha256(ds_path),
    }
    sheet_df = dataset.copy()
    sheet_df["partition_how"] = [how.get(i, "homology") for i in dataset["id"]]
    (out / "datasheet.md").write_text(render_datasheet(sheet_df, removed, info))
    step("write outputs", t)
    log(f"done in {time.perf_counter() - t_start:.1f}s: {len(dataset):,} proteins -> {out}")
    return BuildResult(dataset, removed, passed, violations, exempt_pairs, timings)
