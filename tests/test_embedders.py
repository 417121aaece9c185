"""Embedder interface helpers, the feature embedder and the registry."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from protloc.embedders import (
    EMBEDDER_KINDS,
    FeatureEmbedder,
    length_sorted_batches,
    make_embedder,
    pick_device,
    spec_from_id,
)
from protloc.embedders.features import AMINO_ACIDS, FEATURE_BLOCKS, feature_names
from protloc.errors import UserError

# --- length_sorted_batches -------------------------------------------------------------------


def _padded(batch, lengths):
    return len(batch) * max(lengths[i] for i in batch)


@pytest.mark.parametrize("budget,max_batch", [(100, None), (100, 3), (37, None), (1000, 2)])
def test_batches_cover_all_and_respect_budget(budget, max_batch):
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=50).tolist()
    batches = length_sorted_batches(lengths, budget, max_batch)
    assert sorted(i for b in batches for i in b) == list(range(50))
    for batch in batches:
        assert len(batch) == 1 or _padded(batch, lengths) <= budget
        if max_batch:
            assert len(batch) <= max_batch
    # sorted by length, longest first
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat, reverse=True)


def test_batches_oversized_item_alone():
    batches = length_sorted_batches([5, 500, 5, 5], token_budget=20)
    assert [1] in batches
    assert sorted(len(b) for b in batches) == [1, 3]
    assert length_sorted_batches([], 10) == []


# --- pick_device -----------------------------------------------------------------------------


def test_pick_device_cpu_and_auto():
    assert pick_device("cpu") == torch.device("cpu")
    auto = pick_device(None)
    assert auto == pick_device("auto")
    if torch.cuda.is_available():
        assert auto.type == "cuda"
    elif not torch.backends.mps.is_available():
        assert auto.type == "cpu"


def test_pick_device_unavailable_or_bad():
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            pick_device("cuda")
    else:
        with pytest.raises(UserError, match="CUDA device"):
            pick_device(f"cuda:{torch.cuda.device_count()}")
    with pytest.raises(UserError, match="Unknown device"):
        pick_device("gpu-please")


# --- FeatureEmbedder -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def features():
    return FeatureEmbedder()


def test_features_shape_and_dim(features):
    assert features.id == "features-v1"
    assert features.dim == sum(d for _, d in FEATURE_BLOCKS) == len(feature_names()) == 57
    seqs = ["MKTAYIAKQR", "A", "", "ACDEFGHIKLMNPQRSTVWYXBZJUO*"]
    out = features.embed(seqs)
    assert [o.shape for o in out] == [(len(s), 57) for s in seqs]
    assert all(o.dtype == np.float32 for o in out)
    assert all(np.isfinite(o).all() for o in out)
    assert max(np.abs(o).max() for o in out if len(o)) < 3.0  # roughly unit range


def test_features_deterministic_and_case_insensitive(features):
    a = features.embed(["MKTAYIAKQRQISFVKSHFSRQ"])[0]
    b = features.embed(["mktayiakqrqisfvkshfsrq"])[0]
    assert np.array_equal(a, b)
    assert np.array_equal(a, FeatureEmbedder().embed(["MKTAYIAKQRQISFVKSHFSRQ"])[0])


def test_features_known_values(features):
    names = feature_names()
    col = {n: i for i, n in enumerate(names)}
    out = features.embed([AMINO_ACIDS + "X"])[0]
    row = {a: out[i] for i, a in enumerate(AMINO_ACIDS + "X")}
    assert row["A"][col["onehot_A"]] == 1.0
    assert row["A"][: 21].sum() == 1.0
    assert row["X"][col["onehot_X"]] == 1.0
    assert row["I"][col["hydrophobicity"]] > row["R"][col["hydrophobicity"]]
    assert row["K"][col["charge"]] == 1.0 and row["D"][col["charge"]] == -1.0
    assert row["W"][col["volume"]] > row["G"][col["volume"]]
    assert row["E"][col["helix"]] > row["P"][col["helix"]]
    assert row["V"][col["sheet"]] > row["E"][col["sheet"]]
    assert row["W"][col["blosum62_W"]] == pytest.approx(11 / 4)
    # X is neutral: scales at the mean, BLOSUM the mean row
    assert np.all(row["X"][col["hydrophobicity"] : col["polarity"] + 1] == 0.0)
    blosum = slice(col["blosum62_A"], col["blosum62_Y"] + 1)
    assert np.allclose(row["X"][blosum], np.mean([row[a][blosum] for a in AMINO_ACIDS], axis=0))
    # rare residues map to parents, ambiguity codes average
    rare = features.embed(["U", "C", "B", "D", "N"])
    assert np.array_equal(rare[0][0, :49], rare[1][0, :49])
    assert np.allclose(rare[2][0, :49], (rare[3][0, :49] + rare[4][0, :49]) / 2)


def test_features_windows_and_position(features):
    names = feature_names()
    col = {n: i for i, n in enumerate(names)}
    seq = "KDEKRDE" * 3 + "L" * 20 + "KDEKRDE" * 3
    out = features.embed([seq])[0]
    hw = out[:, col["hydrophobicity_w19"]]
    assert hw[30] == pytest.approx(3.8 / 4.5)  # centre of the poly-L stretch: all leucines
    assert hw[30] > 0.6 > hw[5]
    assert out[0, col["rel_position"]] == 0.0 and out[-1, col["rel_position"]] == 1.0
    assert out[0, col["n_term_proximity"]] == 1.0 and out[-1, col["c_term_proximity"]] == 1.0
    assert out[0, col["n_term_proximity"]] > out[30, col["n_term_proximity"]]
    assert out[0, col["log_length"]] == pytest.approx(np.log10(len(seq)) / 3)
    one = features.embed(["M"])[0]
    assert one[0, col["rel_position"]] == 0.0


def test_features_fast(features):
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list(AMINO_ACIDS), size=300)) for _ in range(500)]
    start = time.perf_counter()
    features.embed(seqs)
    assert time.perf_counter() - start < 5.0


# --- registry --------------------------------------------------------------------------------


def test_registry_kinds():
    assert set(EMBEDDER_KINDS) >= {"features", "esm2", "prostt5", "unirep"}


def test_make_embedder_features_roundtrip(features):
    spec = features.spec()
    assert json.loads(json.dumps(spec)) == spec == {"kind": "features", "id": "features-v1"}
    for arg in (spec, {"id": "features-v1"}, "features-v1"):
        rebuilt = make_embedder(arg, device="cpu", token_budget=10)  # runtime options ignored
        assert isinstance(rebuilt, FeatureEmbedder) and rebuilt.id == features.id


def test_make_embedder_errors():
    with pytest.raises(UserError, match="Unknown embedder kind"):
        make_embedder({"kind": "word2vec"})
    with pytest.raises(UserError, match="Unknown embedder id"):
        make_embedder({"id": "mystery-v9"})
    with pytest.raises(UserError, match="Unknown setting"):
        make_embedder({"kind": "features", "colour": "blue"})
    with pytest.raises(UserError, match="not 'features-v2'"):
        make_embedder({"kind": "features", "id": "features-v2"})


def test_spec_from_id():
    assert spec_from_id("esm2_t33_650M_UR50D-L33") == {
        "kind": "esm2", "model_name": "esm2_t33_650M_UR50D", "repr_layer": 33,
    }
    assert spec_from_id("esm2_t6_8M_UR50D-L4-w500o100") == {
        "kind": "esm2", "model_name": "esm2_t6_8M_UR50D", "repr_layer": 4,
        "window": 500, "overlap": 100,
    }
    assert spec_from_id("ProstT5-AA") == {"kind": "prostt5", "model_name": "Rostlab/ProstT5"}


def test_embed_rejects_bare_string_and_keeps_every_character(features):
    with pytest.raises(TypeError, match="single string"):
        features.embed("MKT")
    assert features.embed(["MK T\n"])[0].shape == (5, 57)


def test_feature_blocks_subset_is_a_column_slice_with_its_own_id(features):
    seqs = ["MKTAYIAKQRQISFVKSHFSRQ", "ACDEFGHIKLMNPQRSTVWYX"]
    sub = make_embedder({"kind": "features", "blocks": ["position", "onehot"]})
    assert sub.id == "features-v1:onehot+position"  # blocks in output order, whatever the request
    assert sub.dim == 21 + 4
    full, part = features.embed(seqs), sub.embed(seqs)
    for f, p in zip(full, part):
        assert np.array_equal(p, np.concatenate([f[:, :21], f[:, -4:]], axis=1))
    again = make_embedder(sub.spec())
    assert again.id == sub.id and np.array_equal(again.embed(seqs)[0], part[0])
    assert make_embedder(sub.id).dim == sub.dim  # the id alone rebuilds it
    assert make_embedder({"kind": "features", "blocks": [n for n, _ in FEATURE_BLOCKS]}).id == "features-v1"


def test_feature_blocks_unknown_is_a_user_error():
    with pytest.raises(UserError, match="Unknown feature block"):
        make_embedder({"kind": "features", "blocks": ["onehot", "nonsense"]})
    with pytest.raises(UserError, match="none given"):
        make_embedder({"kind": "features", "blocks": []})


def test_motif_block_marks_known_sorting_signals():
    from protloc.embedders.motifs import MOTIF_NAMES, motif_features

    col = {name: i for i, name in enumerate(MOTIF_NAMES)}
    body = "STNQGDEKSTNQGDEKSTNQGDEKSTNQGDEK" * 3
    # lipoprotein: Cys of LAGC at residue 20; sortase LPETG near the C-terminus; ends in W
    lipo = "MKKLLIALLLSVALAGLAGC" + body + "LPETG" + "GEKW"
    out = motif_features(lipo)
    assert out.shape == (len(lipo), len(MOTIF_NAMES))
    assert out[16:20, col["lipobox"]].tolist() == [1, 1, 1, 1] and out[:, col["lipobox"]].sum() == 4
    lp = lipo.index("LPETG")
    assert out[lp:lp + 5, col["lpxtg"]].tolist() == [1] * 5
    assert out[:, col["c_aromatic"]].min() == 1.0
    assert out[0, col["n_hydrophobic"]] > 0.5  # a hydrophobic h-region in the first 40
    # the same motifs in the wrong place are not marked: lipobox past residue 40, LPETG at the N-end
    moved = "M" + "LPETG" + body + body + "LAGC" + "K"
    out = motif_features(moved)
    assert out[:, col["lipobox"]].sum() == 0 and out[:, col["lpxtg"]].sum() == 0
    assert out[:, col["c_aromatic"]].max() == 0.0 and out[0, col["n_hydrophobic"]] < 0


def test_motif_block_counts_transmembrane_segments_outside_the_signal_region():
    from protloc.embedders.motifs import MOTIF_NAMES, motif_features

    col = {name: i for i, name in enumerate(MOTIF_NAMES)}
    loop = "DEKSNQTGDEKRSNQTGDEK"
    helix = "LLIVAFLLIVALLIAVLLIV"
    out = motif_features("M" + loop + loop + helix + loop + helix + loop + helix + loop)
    assert out[0, col["tm_segments"]] == pytest.approx(3 / 4)
    assert out[:, col["tm"]].sum() >= 3 * 10  # each 20-residue helix marks ~13 centres
    signal_only = motif_features("MKK" + helix + loop * 4)  # a hydrophobic N-terminus only
    assert signal_only[0, col["tm_segments"]] == 0.0


def test_motif_block_extends_features_v1_without_changing_it(features):
    seqs = ["MKTAYIAKQRQISFVKSHFSRQ", "MKKLLIALLLSVALAGLAGCSSTNQ"]
    ext = make_embedder({"kind": "features", "blocks": [n for n, _ in FEATURE_BLOCKS] + ["motifs"]})
    assert ext.id == "features-v1:onehot+blosum62+scales+windows+position+motifs"
    assert ext.dim == 57 + 8 and make_embedder(ext.id).dim == ext.dim
    for base, more in zip(features.embed(seqs), ext.embed(seqs)):
        assert np.array_equal(more[:, :57], base) and more.shape[1] == 65
