"""Homology votes fitted in cross-validation: each fold model's searches see only its own
training folds (never its validation or test fold), the weight comes from validation folds, and
the predictor applies the same vote with the shipped reference set."""

import io
import json

import numpy as np
import pandas as pd
import pytest

import synthetic
from protloc.cli import main
from protloc.homology_mix import PROBS, WEIGHTS, fold_hits, top_hits
from protloc.neighbours import Neighbour, vote
from protloc.predictor import EnsemblePredictor
from protloc.sequences import parse_text

CONFIG = """\
name: tiny-homology
embedders:
  - id: features-v1
model: {fusion: concat, hidden: 16, lstm_hidden: 8, lstm_layers: 1, pool_heads: 2,
        head_hidden: 8, dropout: 0.0, n_groups: 4, mean_pool: true}
train: {epochs: 2, batch_size: 8, lr: 0.003, patience: 5, seed: 0}
boosting: {max_iter: 8}
reference_set: true
homology: {}
"""


def homolog_table(seed: int = 3) -> pd.DataFrame:
    """Synthetic proteins in a redistributable source, and for each protein of partition 0 a
    copy in every other partition: partition 0's copies elsewhere are found or must not be."""
    table = pd.DataFrame(synthetic.synthetic_table(per_class=5, seed=seed))
    table["source"] = "psortb"
    copies = []
    for _, row in table[table["partition"] == 0].iterrows():
        for part in (1, 2, 3, 4):
            copies.append({**row, "id": f"{row['id']}_p{part}", "partition": part})
    return pd.concat([table, pd.DataFrame(copies)], ignore_index=True)


def test_fold_searches_see_only_the_models_training_folds():
    table = homolog_table()
    partition = table.set_index("id")["partition"]
    for k in range(5):
        for which in ("val", "test"):
            hits = fold_hits(table, k, which)
            assert set(partition[hits["id"]]) == {(k + 1) % 5 if which == "val" else k}
            found = hits[hits["hit"] != ""]
            assert len(found) > 0  # the copies are there to be found
            assert not set(partition[found["hit"]]) & {k, (k + 1) % 5}


def test_other_sources_are_not_searched():
    table = homolog_table()
    table.loc[table["partition"] != 0, "source"] = "deeplocpro_benchmark"  # not shipped
    hits = fold_hits(table, 0, "test")
    assert (hits["hit"] == "").all()


def test_vote_moves_mass_to_the_hits_label_in_proportion_to_identity():
    probs = np.full((3, 6), 1 / 6)
    hit = Neighbour("x", "Periplasmic", "psortb", 0.5, 1.0, 1e-20)
    out = vote(probs, [hit, None, hit], 1.0)
    np.testing.assert_allclose(out.sum(1), 1.0)
    assert out[0].argmax() == 2 and out[0, 2] == pytest.approx((1 / 6 + 0.5) / 1.5)
    np.testing.assert_allclose(out[1], probs[1])
    np.testing.assert_allclose(vote(probs, [hit] * 3, 0.0), probs)


@pytest.fixture(scope="module")
def homology_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("hom")
    (root / "data").mkdir()
    homolog_table().to_csv(root / "data" / "dataset.tsv", sep="\t", index=False)
    (root / "c.yaml").write_text(CONFIG)
    err = io.StringIO()
    code = main(["train", "--data", str(root / "data"), "--config", str(root / "c.yaml"),
                 "--out", str(root / "ckpt"), "--cache", str(root / "cache")],
                stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    return root / "ckpt"


def test_heldout_is_the_validation_chosen_vote(homology_checkpoint):
    manifest = json.loads((homology_checkpoint / "manifest.json").read_text())
    weight = manifest["homology"]["weight"]
    assert weight in WEIGHTS and set(manifest["homology"]["validation_mcc_by_weight"]) == {
        str(w) for w in WEIGHTS}
    before = pd.read_csv(homology_checkpoint / "heldout_before_homology.csv")
    after = pd.read_csv(homology_checkpoint / "heldout.csv")
    runs = homology_checkpoint / "runs"
    hits = pd.concat(pd.read_csv(runs / f"fold_{k}" / "hits_test.csv", keep_default_na=False,
                                 na_values={"identity": ""}) for k in range(5))
    expected = vote(before[PROBS].to_numpy(), top_hits(hits, before["id"]), weight)
    np.testing.assert_allclose(after[PROBS].to_numpy(), expected, atol=2e-5)


def test_predictor_votes_with_the_shipped_reference(homology_checkpoint):
    predictor = EnsemblePredictor.from_dir(homology_checkpoint)
    predictor.manifest.homology = {**predictor.manifest.homology, "weight": 4.0}
    table = homolog_table()
    row = table[table["label"] == "Periplasmic"].iloc[0]
    records = parse_text(f">q\n{row['sequence']}")
    predictor.use_homology = True
    with_vote = predictor.predict(records, group="negative")[0]
    voted = with_vote.probabilities
    predictor.use_homology = False
    without = predictor.predict(records, group="negative")[0]
    plain = without.probabilities
    periplasmic = 2
    assert voted[periplasmic] > plain[periplasmic] + 0.2
    np.testing.assert_allclose(voted.sum(), 1.0, atol=1e-6)
    # the prediction carries the hits it voted with (the app shows them; no second search)
    assert with_vote.neighbours and with_vote.neighbours[0].label == "Periplasmic"
    assert [n.evalue for n in with_vote.neighbours] == sorted(n.evalue for n in with_vote.neighbours)
    assert without.neighbours is None


def test_no_homology_flag_leaves_the_vote_out(homology_checkpoint, tmp_path):
    import shutil

    copy = tmp_path / "ckpt"
    shutil.copytree(homology_checkpoint, copy, ignore=shutil.ignore_patterns("runs"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["homology"]["weight"] = 4.0
    (copy / "manifest.json").write_text(json.dumps(manifest))
    row = homolog_table().query("label == 'Periplasmic'").iloc[0]
    (tmp_path / "q.fasta").write_text(f">q\n{row['sequence']}\n")
    tables = {}
    for flag in ([], ["--no-homology"]):
        out = tmp_path / ("plain" if flag else "voted")
        code = main(["predict", "-f", str(tmp_path / "q.fasta"), "-o", str(out), "-m", str(copy),
                     "-g", "negative"] + flag, stdout=io.StringIO(), stderr=io.StringIO())
        assert code == 0
        tables[bool(flag)] = pd.read_csv(out / "results.csv")
    column = next(c for c in tables[True].columns if c.startswith("Periplasmic"))
    assert tables[False].loc[0, column] > tables[True].loc[0, column] + 0.2


def test_predictor_searches_a_sequence_once(homology_checkpoint, monkeypatch):
    """The app predicts with and without the organism group: one search serves both, and the
    hits of a sequence with no hit are remembered too."""
    from protloc import neighbours

    calls: list[list[str]] = []
    real = neighbours.nearest

    def counting(queries, *args, **kwargs):
        calls.append(list(queries))
        return real(queries, *args, **kwargs)

    monkeypatch.setattr(neighbours, "nearest", counting)
    predictor = EnsemblePredictor.from_dir(homology_checkpoint)
    predictor.use_homology = True
    row = homolog_table().query("label == 'Periplasmic'").iloc[0]
    records = parse_text(f">q\n{row['sequence']}\n>r\nMSTNPKPQRKTKRNTNRRPQDVKFPGG\n")
    first = predictor.predict(records, group="negative")
    second = predictor.predict(records, group="unknown")
    assert len(calls) == 1 and sorted(calls[0]) == sorted(r.sequence for r in records)
    assert first[0].neighbours == second[0].neighbours and first[0].neighbours
    assert first[1].neighbours == [] and second[1].neighbours == []
