"""The benchmark scripts run (in their --quick sizes) and record what they measured."""

from __future__ import annotations

import json

import pytest

from benchmarks import _common as C


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(C, "DOC", tmp_path / "benchmarks.md")
    (tmp_path / "benchmarks.md").write_text("# B\n\n<!-- x:begin -->\nold\n<!-- x:end -->\ntail\n")
    return tmp_path


def test_update_doc_replaces_only_its_section(results):
    C.update_doc("x", "| new | table |")
    C.update_doc("y", "appended")
    C.update_doc("x", "| newer |")
    text = C.DOC.read_text()
    assert "old" not in text and "| new |" not in text and "| newer |" in text
    assert text.startswith("# B\n") and "tail\n" in text
    assert "<!-- y:begin -->\nappended\n<!-- y:end -->" in text


def test_lengths_are_like_deeplocpro():
    lengths = C.deeplocpro_lengths(7144)
    assert lengths.max() <= 999 and lengths.min() >= 40
    assert 400 < lengths.mean() < 440
    assert C.length_quantiles(3) == sorted(C.length_quantiles(3))


@pytest.mark.slow
def test_bench_train_quick(results):
    from benchmarks import bench_train

    assert bench_train.main(["--quick", "--threads", "1", "--naive", "padded,packed"]) == 0
    out = json.loads((results / "results" / "bench_train-quick.json").read_text())
    assert out["settings"]["parameters"] == 8_412_936
    assert max(out["settings"]["same_maths_max_logit_diff"].values()) < 1e-4
    assert set(out["loops"]) == {"naive-padded", "naive-packed", "protloc", "protloc-bf16"}
    loops = out["loops"]
    assert loops["protloc"]["padding_fraction"] < loops["naive-padded"]["padding_fraction"]
    assert "protloc vs naive-padded" in out["speedup_per_epoch"]
    assert "old" in C.DOC.read_text()  # quick runs leave the doc alone


@pytest.mark.slow
def test_bench_latency_quick(results):
    from benchmarks import bench_latency

    assert bench_latency.main(["--quick", "--threads", "1", "--repeats", "1"]) == 0
    out = json.loads((results / "results" / "bench_latency-quick.json").read_text())
    assert out["settings"]["folds"] == 5 and out["fusion_share_of_backbones"] > 0
    run = out["runs"][0]
    assert run["esm2_s"] > 0 and run["prostt5_s"] > 0 and run["total_s"] >= run["esm2_s"]


@pytest.mark.slow
def test_bench_embed_quick(results):
    from benchmarks import bench_embed

    assert bench_embed.main(["--quick", "--threads", "1", "--per-group", "2"]) == 0
    out = json.loads((results / "results" / "bench_embed-quick.json").read_text())
    for name in ("esm2", "prostt5"):
        modes = out["models"][name]["modes"]
        assert modes["batched"]["max_abs_diff_vs_one_by_one"] < 1e-4
        assert modes["one-by-one"]["residues_per_s"] > 0 and modes["batched"]["batches"] >= 3


@pytest.mark.slow
def test_bench_app_quick(results):
    from benchmarks import bench_app

    assert bench_app.main(["--quick", "--threads", "1", "--batch", "12"]) == 0
    out = json.loads((results / "results" / "bench_app-quick.json").read_text())
    assert out["folds"] == 5 and out["batch"]["answered"] == out["batch"]["proteins"] == 12
    assert out["batch"]["progress_updates"] >= 1 and out["single"]["median_s"] > 0
    assert "old" in C.DOC.read_text()  # quick runs leave the doc alone


@pytest.mark.slow
def test_bench_app_times_a_real_fasta_batch_without_touching_the_doc(results, tmp_path):
    from benchmarks import bench_app

    sequences = ["MKKTAIAIAVALAGFATVAQAAPKDNTWYTGAKLGWSQ", "MSLNFLDFEQPIAELEAKIDSLTAVSRQDEKLDINIDEEVHRLREK",
                 "MAVKVAINGFGRIGRLVFRAAQKRSDIEIVAINDLLDADYMAYMLKYDSTHGRF"]
    fasta = tmp_path / "real.fasta"
    fasta.write_text("".join(f">r{i} some description\n{s}\n" for i, s in enumerate(sequences)))
    assert bench_app.main(["--threads", "1", "--batch", "2", "--repeats", "1",
                           "--fasta", str(fasta)]) == 0
    out = json.loads((results / "results" / "bench_app-fasta.json").read_text())
    assert out["batch"]["proteins"] == out["batch"]["answered"] == 2  # the first --batch records
    assert out["batch"]["residues"] == len(sequences[0]) + len(sequences[1])
    assert out["batch"]["source"] == "real.fasta"
    assert "old" in C.DOC.read_text()  # real-protein runs leave the doc alone


def test_bench_unirep_quick_with_random_weights(results):
    """The GPU run's options on a CPU: random weights of the published shapes, wider batches,
    and a result that names the device and says the weights were random."""
    from benchmarks import bench_unirep
    from protloc.embedders.unirep import load_unirep_arrays

    path = bench_unirep.random_weights(256, results / "w.npz")
    embedding, layers = load_unirep_arrays(path, 256)  # the published layout and shapes
    assert embedding.shape == (26, 10) and len(layers) == 4
    bench_unirep.main(["--quick", "--sizes", "64", "--threads", "1", "--random-weights",
                       "--max-batch", "3", "--token-budget", "500"])
    out = json.loads((results / "results" / "bench_unirep-quick.json").read_text())
    (row,) = out["results"]
    assert row["embedder"] == "unirep-64 (random weights)" and row["device"] == "cpu"
    assert row["max_batch"] == 3 and row["token_budget"] == 500 and row["residues"] > 0
