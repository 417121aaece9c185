"""MMseqs2 searches and the cross-partition check on a few dozen synthetic sequences."""

from __future__ import annotations

import random
import shutil

import pytest

from protloc.dataset import homology as H
from protloc.dataset.synthetic import families, random_protein
from protloc.errors import UserError

pytestmark = pytest.mark.skipif(
    shutil.which("mmseqs") is None,
    reason="the mmseqs binary is not installed (apt-get install mmseqs2)",
)

PARAMS = H.SearchParams()  # the build's defaults: -s 7.5 -e 10, identity >= 0.30


@pytest.fixture(scope="module")
def seqs():
    fams = families(6, 5, seed=7)
    out = {f"{f}_{i}": s for f, members in fams.items() for i, s in enumerate(members)}
    rng = random.Random(3)
    for i in range(6):
        out[f"single_{i}"] = random_protein(rng, 150 + 7 * i)
    return out


def family(key: str) -> str:
    return key.rsplit("_", 1)[0]


def home(key: str) -> int:
    """The partition of a family (families 0-5 -> 0-4, 0), singletons in 0."""
    return int(family(key)[3:]) % 5 if key.startswith("fam") else 0


CACHE: dict = {}


@pytest.fixture(scope="module")
def all_pairs(seqs, tmp_path_factory):
    CACHE["dir"] = tmp_path_factory.mktemp("cache")
    mm = H.MMseqs(threads=2, cache_dir=CACHE["dir"])
    return mm.search(seqs, seqs, PARAMS)


def test_search_finds_family_pairs_only(seqs, all_pairs):
    fam_pairs = {(a, b) for a in seqs for b in seqs
                 if a < b and family(a) == family(b) and not a.startswith("single")}
    assert set(all_pairs) == fam_pairs
    assert all(0.3 <= v <= 1.0 for v in all_pairs.values())


def test_identity_is_nident_over_shorter_length():
    assert H.identity(30, 100, 300) == pytest.approx(0.3)
    assert H.identity(30, 300, 100) == pytest.approx(0.3)


def test_check_passes_when_families_share_a_partition(seqs, tmp_path):
    mm = H.MMseqs(threads=2, cache_dir=tmp_path)
    part = {k: home(k) for k in seqs}
    assert H.cross_partition_pairs(mm, seqs, part, PARAMS) == []


def test_check_fails_when_a_homolog_sits_in_another_partition(seqs, tmp_path):
    # per-partition search path (split_min=0), two partitions -> one search
    mm = H.MMseqs(threads=2, cache_dir=tmp_path)
    fused = dict(seqs)
    # a local hit counts: 90 residues of a family member fused to an unrelated protein
    fused["chimera"] = seqs["fam01_0"][:90] + random_protein(random.Random(11), 400)[1:]
    part = {k: home(k) % 2 for k in seqs}  # families 0,2,4 -> 0; 1,3,5 -> 1
    part["fam02_4"] = 1  # one member of family 2 moved away from its family
    part["chimera"] = 0  # family 1 lives in partition 1
    bad = H.cross_partition_pairs(mm, fused, part, PARAMS, split_min=0)
    assert all(w >= 0.3 for *_, w in bad)
    moved = {b if a == "fam02_4" else a for a, b, _ in bad if "fam02_4" in (a, b)}
    assert moved == {f"fam02_{i}" for i in range(4)}
    assert any("chimera" in (a, b) for a, b, _ in bad)
    assert {a for a, b, _ in bad} | {b for a, b, _ in bad} <= {"chimera", "fam02_4"} | {
        k for k in seqs if family(k) in ("fam01", "fam02")}


def test_results_do_not_depend_on_threads(seqs, all_pairs, tmp_path):
    one = H.MMseqs(threads=1, cache_dir=None).search(seqs, seqs, PARAMS)
    assert one == all_pairs


def test_search_is_cached_by_sequences_and_parameters(seqs, all_pairs, monkeypatch):
    mm = H.MMseqs(threads=2, cache_dir=CACHE["dir"])
    assert len(list(CACHE["dir"].glob("search-*.tsv"))) >= 1

    def boom(*a, **k):
        raise RuntimeError("mmseqs must not run on a cache hit")

    monkeypatch.setattr(mm, "_run", boom)
    assert mm.search(seqs, seqs, PARAMS) == all_pairs  # cache hit
    with pytest.raises(RuntimeError):  # other parameters: another key, so mmseqs would run
        mm.search(seqs, seqs, H.SearchParams(min_identity=0.5))
    fewer = dict(list(seqs.items())[1:])
    with pytest.raises(RuntimeError):  # other sequences: another key
        mm.search(fewer, fewer, PARAMS)


def test_linclust_members_and_graph(seqs, tmp_path):
    mm = H.MMseqs(threads=2, cache_dir=tmp_path)
    rep, _ = mm.linclust(seqs, PARAMS)
    assert set(rep) == set(seqs)
    assert all(family(m) == family(r) for m, r in rep.items())
    graph, stats = H.homology_graph(mm, seqs, PARAMS)
    assert stats["n_representatives"] == len(set(rep.values()))
    assert all(family(a) == family(b) for a, b in graph)
    # every family is connected in the graph
    for f in {family(k) for k in seqs if not k.startswith("single")}:
        members = {k for k in seqs if family(k) == f}
        reached, stack = set(), [min(members)]
        while stack:
            x = stack.pop()
            if x in reached:
                continue
            reached.add(x)
            stack += [b if a == x else a for a, b in graph if x in (a, b)]
        assert reached == members


def test_missing_binary_gives_install_hint(monkeypatch):
    monkeypatch.delenv("PROTLOC_MMSEQS", raising=False)
    with pytest.raises(UserError, match="apt-get install mmseqs2"):
        H.find_mmseqs("/nonexistent/mmseqs")
