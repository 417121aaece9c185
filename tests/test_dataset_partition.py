"""The partition algorithm on small hand-made graphs (no MMseqs2 needed)."""

from __future__ import annotations

from protloc.dataset.partition import cross_partition_pairs, partition_graph


def test_homologs_follow_their_anchor_and_chain_propagates():
    nodes = ["a", "b", "c", "d"]
    labels = dict.fromkeys(nodes, "Cytoplasmic")
    edges = {("a", "b"): 0.5, ("b", "c"): 0.4}
    res = partition_graph(nodes, labels, edges, anchors={"a": 3}, protected={"a"})
    assert res.partition["a"] == res.partition["b"] == res.partition["c"] == 3
    assert res.how["a"] == "anchor" and res.how["b"] == "homology" and res.how["d"] == "greedy"
    assert res.removed == {}
    assert cross_partition_pairs(res.partition, edges) == []


def test_linker_between_two_anchored_partitions_is_removed():
    nodes = ["x1", "x2", "link"]
    labels = dict.fromkeys(nodes, "Periplasmic")
    edges = {("link", "x1"): 0.6, ("link", "x2"): 0.5}
    res = partition_graph(nodes, labels, edges, anchors={"x1": 0, "x2": 1}, protected={"x1", "x2"})
    assert set(res.partition) == {"x1", "x2"}
    assert "link" in res.removed and "partition" in res.removed["link"]


def test_unprotected_anchor_is_removed_rather_than_benchmark():
    nodes = ["bench", "dlp"]
    labels = dict.fromkeys(nodes, "Extracellular")
    edges = {("bench", "dlp"): 0.9}
    res = partition_graph(nodes, labels, edges, anchors={"bench": 2, "dlp": 4}, protected={"bench"})
    assert res.partition == {"bench": 2}
    assert list(res.removed) == ["dlp"]


def test_protected_cross_pairs_are_reported_as_exempt():
    nodes = ["b1", "b2"]
    labels = dict.fromkeys(nodes, "Cytoplasmic")
    edges = {("b1", "b2"): 0.35}
    res = partition_graph(nodes, labels, edges, anchors={"b1": 0, "b2": 1}, protected={"b1", "b2"})
    assert res.partition == {"b1": 0, "b2": 1}
    assert res.exempt_pairs == [("b1", "b2", 0.35)]


def test_free_clusters_balance_classes_across_partitions():
    nodes = [f"n{i:02d}" for i in range(20)]
    labels = {n: ("Cytoplasmic" if i % 2 else "Outer membrane") for i, n in enumerate(nodes)}
    res = partition_graph(nodes, labels, {}, anchors={})
    per = {}
    for n, p in res.partition.items():
        per.setdefault((p, labels[n]), 0)
        per[(p, labels[n])] += 1
    assert all(per.get((p, c), 0) == 2 for p in range(5) for c in ("Cytoplasmic", "Outer membrane"))


def test_refinement_moves_node_to_majority_and_greedy_removal_keeps_most():
    # hub h links to three proteins anchored in 1 and one anchored in 2: h goes to 1, and the
    # edge to the partition-2 protein makes h a linker only if nothing else can be removed.
    nodes = ["a1", "a2", "a3", "b1", "h"]
    labels = dict.fromkeys(nodes, "Cytoplasmic")
    edges = {("a1", "h"): 0.5, ("a2", "h"): 0.5, ("a3", "h"): 0.5, ("b1", "h"): 0.5}
    anchors = {"a1": 1, "a2": 1, "a3": 1, "b1": 2}
    res = partition_graph(nodes, labels, edges, anchors, protected=set(anchors))
    assert res.removed.keys() == {"h"}
    res = partition_graph(nodes, labels, edges, anchors, protected={"a1", "a2", "a3"})
    assert res.removed.keys() == {"b1"} and res.partition["h"] == 1


def test_removed_protein_is_put_back_when_its_homologs_agree():
    # l1 links partitions 0 and 1 via x (anchored 1, unprotected) and y (protected, 0).
    # Greedy removes l1 first or x; whichever, the result has no cross edges and keeps >= 3.
    nodes = ["y", "x", "l1", "l2"]
    labels = dict.fromkeys(nodes, "Cytoplasmic")
    edges = {("l1", "y"): 0.5, ("l1", "x"): 0.5, ("l2", "x"): 0.5, ("l2", "y"): 0.5}
    res = partition_graph(nodes, labels, edges, {"y": 0, "x": 1}, protected={"y"})
    assert cross_partition_pairs(res.partition, edges) == []
    assert len(res.partition) >= 3 and "y" in res.partition


def test_deterministic_for_any_input_order():
    nodes = [f"p{i}" for i in range(30)]
    labels = {n: ["Cytoplasmic", "Extracellular", "Periplasmic"][i % 3] for i, n in enumerate(nodes)}
    edges = {(f"p{i}", f"p{i + 1}"): 0.3 + (i % 5) / 10 for i in range(0, 29, 2)}
    anchors = {"p0": 0, "p10": 4}
    r1 = partition_graph(nodes, labels, edges, anchors)
    r2 = partition_graph(list(reversed(nodes)), labels, dict(reversed(list(edges.items()))), anchors)
    assert r1.partition == r2.partition and r1.removed == r2.removed
