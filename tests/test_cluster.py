"""protloc predict on a Dask cluster (protloc/cluster.py, issue 17).

The cluster tests share one LocalCluster of 2 worker processes and the tiny checkpoint set.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from protloc import cluster
from protloc.cli import main
from protloc.output import read_results_csv
from protloc.predictor import EnsemblePredictor
from protloc.sequences import parse_text

# Functions of this module run inside the worker processes (fault injection, load counts).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "cluster"
AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))

TRICKY = (
    "mkkllIAVAALSAAQAAD\r\n"  # bare sequence before the first header
    ">a first\r\n  MKTAYIAKQRQISFVKSHFSRQ\r\n"
    "   >a again, indented header\nMKVLAAGIVALLLAACSSKEEPAQ*\n"
    ">a_2 taken by the renamed one\nMSTNPKPQRKTKRNTNRRPQDV\n"
    ">\nMKRISTTITTTITITTGNGAG\n"
    ">dna\nATGGCGTACGATCGATCGATCGATCGATGCATGCATGC\n"
    ">short\nMK\n"
    ">stop\nMKLL*LLAVV\n"
    ">odd chars\nMKV1LL-AA.BZUO\tQQ\n"
)


def random_fasta(n: int, seed: int = 0, bad_every: int = 0) -> str:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n):
        sequence = "".join(rng.choice(AA, int(rng.integers(20, 200))))
        if bad_every and i % bad_every == 3:
            sequence = "ACGT" * 10  # DNA: an error row
        parts.append(f">p{i} protein {i}\n{sequence}\n")
    return "".join(parts)


def validated(path) -> list:
    return [cluster._validated(e) for e in cluster.iter_entries(path)]


# ---------------------------------------------------------------- input, shards, keys


@pytest.mark.parametrize("compress", [False, True])
def test_streamed_records_are_those_of_parse_text(tmp_path, compress):
    path = tmp_path / ("in.fa.gz" if compress else "in.fa")
    data = TRICKY.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    expected = parse_text(TRICKY)
    assert [r.id for r in expected][:4] == ["sequence_1", "a", "a_2", "a_2_2"]
    assert validated(path) == expected  # ids, sequences, statuses and messages


def test_shards_follow_the_residue_budget_and_keep_order(tmp_path):
    path = tmp_path / "in.fa"
    path.write_text(random_fasta(200))
    shards = list(cluster.iter_shards(path, shard_residues=1500))
    assert len(shards) > 10
    assert [e.index for s in shards for e in s.entries] == list(range(200))
    assert all(1500 <= s.residues < 1500 + 200 for s in shards[:-1])
    assert [s.number for s in shards] == list(range(len(shards)))


def test_shard_keys_depend_on_content_model_and_options(tmp_path, tiny_checkpoint):
    path = tmp_path / "in.fa"
    text = random_fasta(60)
    path.write_text(text)
    job = cluster.Job(str(tiny_checkpoint), str(tmp_path / "s")).with_fingerprint()

    def keys(j):
        return [cluster.shard_key(s, j) for s in cluster.iter_shards(path, 2000)]

    first = keys(job)
    assert keys(job) == first and len(set(first)) == len(first)
    assert set(keys(cluster.Job(**{**job.__dict__, "group": "positive"}).with_fingerprint())
               ).isdisjoint(first)
    path.write_text(text.replace(">p30 ", ">p30x "))  # one record changed: one shard changes
    changed = keys(job)
    assert sum(a != b for a, b in zip(first, changed)) == 1


def test_a_record_that_breaks_the_model_costs_only_itself():
    class Fussy:
        def predict(self, records, group, attention):
            if any("W" in r.sequence for r in records):
                raise RuntimeError("no W here")
            return [r.id for r in records]

    records = parse_text(">a\nMKVLAAG\n>b\nMKWLAAG\n>c\nMKVLCCG\n")
    job = cluster.Job("m", "s")
    assert cluster._predict(Fussy(), records, job) == ["a", None, "c"]
    assert records[1].status == "error" and "no W here" in records[1].messages[-1]


@pytest.mark.slow
def test_100k_records_are_sharded_without_reading_the_file_whole(tmp_path):
    path = tmp_path / "big.fa"
    block = "".join(AA[np.random.default_rng(1).integers(0, 20, 300)])
    with open(path, "w") as handle:
        for i in range(100_000):
            handle.write(f">q{i}\n{block[i % 7:]}\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        records = shards = 0
        for shard in cluster.iter_shards(path, shard_residues=100_000):
            records += len(shard.entries)
            shards += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert records == 100_000 and 290 <= shards <= 300
    # The driver holds one shard (~0.1 MB) and the set of IDs seen (duplicate renaming, about
    # 100 bytes a record): ~10 MB here, against a 30 MB file.
    print(f"file {size / 1e6:.1f} MB, peak traced {peak / 1e6:.1f} MB")
    assert size > 29e6 and peak < 16e6, (size, peak)


# ---------------------------------------------------------------- bad input and options


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    code = main(args, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x00\x01\x02binary" * 100, "binary"),
    (b"\xff\xfe>\x00a\x00", "UTF-16"),
    (b"\x1f\x8b\x08\x00broken gzip", "gzip"),
])
def test_bad_input_is_one_line_before_any_cluster(tmp_path, tiny_checkpoint, content, message):
    path = tmp_path / "in.fa"
    path.write_bytes(content)
    code, _, err = run_cli(["predict", "-f", str(path), "-o", str(tmp_path / "o"), "-m",
                            str(tiny_checkpoint), "--cluster", "local:2"])
    assert code == 1 and message.lower() in err.lower(), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("option, value, message", [
    ("--cluster", "local:two", "local:N"),
    ("--cluster", "remote:2", "local:N"),
    ("--cluster-config", "missing.yaml", "cannot read"),
    ("--cluster-config", "bad.yaml", "'kind'"),
])
def test_bad_cluster_options_are_one_line(tmp_path, tiny_checkpoint, option, value, message):
    (tmp_path / "bad.yaml").write_text("kind: mainframe\n")
    fasta = tmp_path / "in.fa"
    fasta.write_text(random_fasta(3))
    code, _, err = run_cli(["predict", "-f", str(fasta), "-o", str(tmp_path / "o"), "-m",
                            str(tiny_checkpoint), option, str(tmp_path / value)
                            if value.endswith(".yaml") else value])
    assert code == 1 and message in err and "Traceback" not in err, err


@pytest.mark.parametrize("name, directive", [
    ("slurm", "#SBATCH --cpus-per-task=8"), ("slurm-gpu", "#SBATCH --gres=gpu:1"),
    ("pbs", "#PBS -l select=1:ncpus=8"),
])
def test_shipped_jobqueue_configs_make_job_scripts(name, directive):
    config = cluster.read_cluster_config(CONFIGS / f"{name}.yaml")
    jobs = cluster.jobqueue_cluster(config, scale=False)
    try:
        script = jobs.job_script()
    finally:
        jobs.close()
    assert directive in script and "dask_worker" in script


# ---------------------------------------------------------------- on a LocalCluster of 2


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local, Client(local) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, tiny_checkpoint):
    """An input of 80 records (some bad) and its single-process predictions."""
    root = tmp_path_factory.mktemp("cluster")
    fasta = root / "in.fa"
    fasta.write_text(TRICKY + random_fasta(72, seed=3, bad_every=10))
    records = parse_text(fasta.read_text())
    predictions = EnsemblePredictor.from_dir(tiny_checkpoint).predict(records, group="negative")
    return fasta, records, predictions


def make_job(tiny_checkpoint, out: Path) -> cluster.Job:
    return cluster.Job(model=str(tiny_checkpoint), shard_dir=str(out / "shards"),
                       group="negative", threads=1).with_fingerprint()


def shard_probabilities(out: Path, keys: list[str]) -> pd.DataFrame:
    tables = [pq.read_table(out / "shards" / f"{k}.parquet").to_pandas() for k in keys]
    return pd.concat(tables, ignore_index=True)


def assert_same_as_one_process(out: Path, summary, dataset) -> None:
    _, records, predictions = dataset
    rows = shard_probabilities(out, summary.shards)
    assert rows["ID"].tolist() == [r.id for r in records]
    assert rows["Index"].tolist() == list(range(len(records)))
    for got, pred in zip(rows["Probabilities"], predictions):
        if pred is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, pred.probabilities, atol=1e-6, rtol=0)
    table = read_results_csv(out / "results.csv")
    assert table["ID"].tolist() == [r.id for r in records]
    assert (table["Error"] != "").tolist() == [p is None for p in predictions]
    assert table["Localization"].tolist() == [p.localization if p else "" for p in predictions]


def _loads() -> dict:
    return dict(cluster.LOADS)


def test_same_results_as_one_process_model_loaded_once_per_worker(
        client, dataset, tiny_checkpoint, tmp_path):
    fasta, records, _ = dataset
    job = make_job(tiny_checkpoint, tmp_path)
    summary = cluster.predict_on_cluster(client, fasta, tmp_path, job, "csv", 800)
    assert len(summary.shards) >= 6 and summary.computed and not summary.failed
    assert summary.records == len(records) and summary.errors == sum(not r.ok for r in records)
    assert_same_as_one_process(tmp_path, summary, dataset)
    marker = json.loads((tmp_path / "run.json").read_text())
    assert marker["cluster"]["merged_shards"] == summary.shards
    assert marker["files"][0]["name"] == "results.csv"
    loads = client.run(_loads)  # per worker: {model folder: loads}
    assert all(n == 1 for worker in loads.values() for n in worker.values()), loads
    assert sum(n for worker in loads.values() for n in worker.values()) >= 1


def test_json_output_matches_the_single_process_document(client, dataset, tiny_checkpoint,
                                                         tmp_path):
    fasta, records, predictions = dataset
    job = make_job(tiny_checkpoint, tmp_path)
    cluster.predict_on_cluster(client, fasta, tmp_path, job, "json", 800)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["organism_group"] == "negative" and len(doc["results"]) == len(records)
    assert [item["ID"] for item in doc["results"]] == [r.id for r in records]
    assert [bool(item["Error"]) for item in doc["results"]] == [p is None for p in predictions]


def _arm_kill(marker: str) -> None:
    """In a worker: the first shard task to start (on any worker) kills its own process."""
    original = cluster._predict

    def dying(predictor, records, job):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return original(predictor, records, job)
        os.kill(os.getpid(), signal.SIGKILL)

    cluster._original_predict = original
    cluster._predict = dying


def _disarm() -> None:
    cluster._predict = getattr(cluster, "_original_predict", cluster._predict)


@pytest.mark.slow
def test_a_worker_killed_mid_task_still_gives_complete_results(
        client, dataset, tiny_checkpoint, tmp_path):
    fasta, records, _ = dataset
    marker = tmp_path / "killed"
    client.run(_arm_kill, str(marker))
    try:
        summary = cluster.predict_on_cluster(client, fasta, tmp_path, make_job(
            tiny_checkpoint, tmp_path), "csv", 800)
    finally:
        client.run(_disarm)
    assert marker.exists()  # a worker did die in a task
    # the killed task and any other task queued on that worker were run again elsewhere
    assert 1 <= len(summary.retried) < len(summary.shards) and not summary.failed
    assert_same_as_one_process(tmp_path, summary, dataset)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


@pytest.mark.slow
def test_interrupted_run_resumes_without_recomputing_finished_shards(
        client, dataset, tiny_checkpoint, tmp_path):
    fasta, _, _ = dataset
    job = make_job(tiny_checkpoint, tmp_path)
    seen = []

    def interrupt_after_two(n):
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cluster.predict_on_cluster(client, fasta, tmp_path, job, "csv", 800, interrupt_after_two)
    assert not (tmp_path / "results.csv").exists()
    # a cancelled task that was already running still finishes in its worker thread (Dask
    # cannot stop it) and writes its shard. Every task that started left an attempt file first:
    # wait until each of those has its shard and the folder has been still for 2 s, so that
    # "done" is every shard the interrupted run left behind (a fixed quiet time alone was not
    # enough on a loaded machine)
    shards = tmp_path / "shards"
    done, still_since, deadline = None, time.monotonic(), time.monotonic() + 60
    while time.monotonic() < deadline:
        now = {p.stem: p.stat().st_mtime_ns for p in shards.glob("*.parquet")}
        started = {p.name.split(".")[0] for p in (shards / cluster.ATTEMPTS).glob("*")}
        if now != done:
            done, still_since = now, time.monotonic()
        elif started <= set(done) and time.monotonic() - still_since >= 2:
            break
        time.sleep(0.2)
    assert len(done) >= 2
    summary = cluster.predict_on_cluster(client, fasta, tmp_path, job, "csv", 800)
    assert set(summary.reused) == set(done)  # finished shards skipped ...
    assert set(summary.computed) == set(summary.shards) - set(done)  # ... the rest computed
    assert summary.computed
    # attempt files the interrupted run left behind are not taken for retries of this one
    assert not summary.retried and not list((tmp_path / "shards" / "attempts").iterdir())
    assert {k: (tmp_path / "shards" / f"{k}.parquet").stat().st_mtime_ns for k in done} == done
    assert_same_as_one_process(tmp_path, summary, dataset)


@pytest.mark.slow
def test_cli_on_a_scheduler_address_prints_dashboard_and_summary(
        client, dataset, tiny_checkpoint, tmp_path):
    fasta, records, _ = dataset
    args = ["predict", "-f", str(fasta), "-o", str(tmp_path), "-m", str(tiny_checkpoint),
            "-g", "negative", "--scheduler", client.scheduler.address, "--shard-residues", "800"]
    code, out, err = run_cli(args)
    assert code == 0, err
    assert "Dask dashboard:" in err
    bad = sum(not r.ok for r in records)
    assert f"{len(records)} records, {len(records) - bad} predicted, {bad} with errors" in out
    assert "already done" in out
    code, out, _ = run_cli(args)  # the same command again: nothing left to compute
    assert code == 0 and "(0 computed," in out
