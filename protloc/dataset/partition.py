"""Homology partitioning with fixed anchors (pure Python; the graph comes from homology.py).

Nodes are proteins; an edge joins two proteins at or above the identity threshold. Some nodes
are *anchored* to a partition (DeepLocPro's GraphPart partition) and some are *protected*
(benchmark proteins: never removed). The algorithm, deterministic throughout:

1. **Propagate** anchors over the graph in breadth-first waves: in each wave every unassigned
   neighbour of assigned nodes takes the partition with the largest summed edge identity among
   its assigned neighbours (ties: the partition holding fewest proteins of its class, then the
   lowest index).
2. **Free components** (no path to any anchor) are assigned whole, largest first, each to the
   partition where its classes are least represented so far (greedy class balance).
3. **Refine**: an unanchored node moves to the partition of the majority (summed identity) of its
   neighbours if that strictly lowers its cross-partition identity; repeated until stable.
4. **Remove** linkers as GraphPart does: while an unprotected node has neighbours in another
   partition, remove the one with the most such neighbours (ties: weaker evidence, then fewer
   neighbours, then id). Edges between two protected nodes in different partitions cannot be
   resolved; they are reported as exempt.
5. **Re-admit** removed nodes (latest removed first) whose kept neighbours now all lie in one
   partition that is allowed for them (their anchor, if any).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

N_PARTITIONS = 5


@dataclass
class PartitionResult:
    partition: dict[str, int]  # kept node -> partition
    removed: dict[str, str]  # removed node -> reason detail
    how: dict[str, str]  # kept node -> "anchor" | "homology" | "greedy"
    exempt_pairs: list[tuple[str, str, float]] = field(default_factory=list)  # protected cross pairs


def partition_graph(
    nodes: Sequence[str],
    labels: dict[str, str],
    edges: dict[tuple[str, str], float],
    anchors: dict[str, int],
    protected: set[str] | None = None,
    priority: dict[str, int] | None = None,
    n_partitions: int = N_PARTITIONS,
) -> PartitionResult:
    protected = protected or set()
    priority = priority or {}
    nodes = sorted(nodes)
    for n in protected:
        if n not in anchors:
            raise ValueError(f"protected node {n} must be anchored")
    adj = adjacency(nodes, edges)

    part: dict[str, int] = {n: anchors[n] for n in nodes if n in anchors}
    how: dict[str, str] = {n: "anchor" for n in part}
    counts = [defaultdict(int) for _ in range(n_partitions)]
    for n, p in part.items():
        counts[p][labels[n]] += 1

    # 1. propagate in synchronous waves
    frontier = sorted({m for n in part for m in adj[n] if m not in part})
    while frontier:
        decided = {}
        for n in frontier:
            score = defaultdict(float)
            for m, w in adj[n].items():
                if m in part:
                    score[part[m]] += w
            best = max(score.values())
            cands = [p for p, s in score.items() if abs(s - best) < 1e-12]
            decided[n] = min(cands, key=lambda p: (counts[p][labels[n]], p))
        for n in sorted(decided):
            part[n] = decided[n]
            how[n] = "homology"
            counts[decided[n]][labels[n]] += 1
        frontier = sorted({m for n in decided for m in adj[n] if m not in part})

    # 2. free components, greedy class balance
    totals = defaultdict(int)
    for n in nodes:
        totals[labels[n]] += 1
    seen = set(part)
    comps = []
    for n in nodes:
        if n in seen:
            continue
        comp, stack = [], [n]
        seen.add(n)
        while stack:
            x = stack.pop()
            comp.append(x)
            for y in adj[x]:
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        comps.append(sorted(comp))
    comps.sort(key=lambda c: (-len(c), c[0]))
    for comp in comps:
        ccount = defaultdict(int)
        for x in comp:
            ccount[labels[x]] += 1

        def cost(p: int, ccount: dict = ccount) -> tuple:
            fill = sum(k * (counts[p][c] / totals[c]) for c, k in ccount.items())
            size = sum(counts[p].values())
            return (round(fill, 12), size, p)

        p = min(range(n_partitions), key=cost)
        for x in comp:
            part[x] = p
            how[x] = "greedy"
            counts[p][labels[x]] += 1

    # 3. refine unanchored nodes (asynchronous, sorted order) until stable
    for _ in range(50):
        moved = 0
        for n in nodes:
            if n in anchors or not adj[n]:
                continue
            score = defaultdict(float)
            for m, w in adj[n].items():
                score[part[m]] += w
            best = max(sorted(score), key=lambda p: (score[p], -p))
            if best != part[n] and score[best] > score.get(part[n], 0.0) + 1e-12:
                counts[part[n]][labels[n]] -= 1
                part[n] = best
                counts[best][labels[n]] += 1
                how[n] = "homology"
                moved += 1
        if not moved:
            break

    kept_part, removed = remove_linkers(part, adj, anchors, protected, priority)
    exempt = cross_partition_pairs(kept_part, edges)
    return PartitionResult(
        partition=kept_part,
        removed=removed,
        how={n: how.get(n, "homology") for n in kept_part},
        exempt_pairs=exempt,
    )


def adjacency(nodes: Sequence[str], edges: dict[tuple[str, str], float]) -> dict[str, dict[str, float]]:
    node_set = set(nodes)
    adj: dict[str, dict[str, float]] = {n: {} for n in sorted(node_set)}
    for (a, b), w in sorted(edges.items()):
        if a in node_set and b in node_set and a != b:
            adj[a][b] = max(w, adj[a].get(b, 0.0))
            adj[b][a] = max(w, adj[b].get(a, 0.0))
    return adj


def remove_linkers(
    part: dict[str, int],
    adj: dict[str, dict[str, float]],
    anchors: dict[str, int],
    protected: set[str],
    priority: dict[str, int],
    allow_moves: bool = True,
) -> tuple[dict[str, int], dict[str, str]]:
    """Steps 4 and 5: greedy removal of unprotected nodes with cross-partition neighbours, then
    re-admission of removed nodes whose kept neighbours agree on one allowed partition (with
    ``allow_moves=False``: only their own partition, so no kept node changes partition).

    ``part`` assigns every node of ``adj``. Returns (kept node -> partition, removed -> reason).
    """
    part = dict(part)
    nodes = sorted(part)
    kept = set(nodes)
    cross = {n: sum(1 for m in adj[n] if part[m] != part[n]) for n in nodes}

    def key(n: str) -> tuple:
        return (-cross[n], -priority.get(n, 0), len(adj[n]), n)

    heap = [key(n) for n in nodes if cross[n] > 0 and n not in protected]
    heapq.heapify(heap)
    order: list[str] = []
    removed: dict[str, str] = {}
    while heap:
        k = heapq.heappop(heap)
        n = k[-1]
        if n not in kept or cross[n] == 0 or k != key(n):
            continue
        others = sorted({part[m] for m in adj[n] if m in kept and part[m] != part[n]})
        removed[n] = (f"homolog (>= threshold) of proteins in partition(s) {','.join(map(str, others))} "
                      f"while in partition {part[n]}")
        kept.discard(n)
        order.append(n)
        for m in adj[n]:
            if m in kept and part[m] != part[n]:
                cross[m] -= 1
                if m not in protected and cross[m] > 0:
                    heapq.heappush(heap, key(m))
        cross[n] = 0

    changed = True
    while changed:
        changed = False
        for n in reversed(order):
            if n in kept:
                continue
            ps = {part[m] for m in adj[n] if m in kept}
            if len(ps) > 1:
                continue
            p = next(iter(ps)) if ps else anchors.get(n, part[n])
            if n in anchors and anchors[n] != p:
                continue
            if not allow_moves and p != part[n]:
                continue
            part[n] = p
            kept.add(n)
            removed.pop(n, None)
            changed = True
    return {n: part[n] for n in nodes if n in kept}, removed


def cross_partition_pairs(
    partition: dict[str, int], edges: dict[tuple[str, str], float]
) -> list[tuple[str, str, float]]:
    """All edges whose two ends are kept and lie in different partitions, sorted."""
    return sorted(
        (a, b, w) for (a, b), w in edges.items()
        if a in partition and b in partition and partition[a] != partition[b]
    )
