"""``protloc predict`` on a Dask cluster: sharded, resumable, same answers as one process.

(Longer than the project's ~500-line guide on purpose: sharding, the worker-side model cache,
the shard task and the merge share one on-disk protocol — shard keys, Parquet columns, the
merge record — and are easier to keep consistent read together.)

The driver (the ``protloc predict`` process) streams the FASTA file (plain or gzip; it is never
held in memory whole), gives every record the ID that :func:`protloc.sequences.parse_text`
would give it (duplicates renamed ``ID_2``...), and cuts the records into shards of about
``shard_residues`` residues. Each shard is one Dask task (:func:`run_shard`): it validates its
records with the same code as the single-process path, predicts them with a checkpoint set loaded
once per worker process, and writes ``shards/<key>.parquet`` atomically. The key is a hash of
the shard's records, the model's files and the options, so a re-run of the same command skips
the shards already written and computes only the rest. When every shard is there, the merge
writes the usual ``results.csv`` / ``results.json`` (and ``attention.json``) atomically, in input
order, and ``merge.json`` with the shard keys it merged.

Scheduling, retries and worker failures are Dask's: a task whose worker dies is rescheduled on
another worker (``distributed.scheduler.allowed-failures``), a task that raises is retried
(``retries=``). Only a bounded window of shards is in flight, so the scheduler never holds the
whole input either.

Differences from the single-process path, on purpose: the per-input limits
(``sequences.MAX_RECORDS``, ``MAX_TOTAL_RESIDUES``, the gzip size cap) do not apply, since
splitting big inputs is what this path is for; a NUL byte or bad UTF-8 found past the first
8 KiB stops the run with a message instead of refusing the input up front.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import secrets
import threading
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, TextIO

from . import __version__
from .errors import UserError
from .sequences import (
    _GZIP_MAGIC,
    _UTF16_BOMS,
    EMPTY_MESSAGE,
    InputError,
    SequenceRecord,
    _identify,
    _make_id_unique,
    _make_record,
    _mostly_control_bytes,
)

#: Residues per shard (about 600 average bacterial proteins): long enough that Dask's per-task
#: overhead (milliseconds) is negligible, short enough that a lost task costs little.
SHARD_RESIDUES = 200_000
#: Records per shard at most, whatever their length (bounds a shard of tiny peptides).
SHARD_RECORDS = 5_000
#: Retries of a task that raised (a worker that died is rescheduled by Dask regardless).
RETRIES = 2
#: Bumped when the shard file layout changes, so old shards are not reused.
SHARD_FORMAT = 1
#: Text before the first '>' longer than this is refused (a bare sequence is short).
MAX_PREAMBLE_CHARS = 1_000_000

_SAMPLE_BYTES = 8192
_COUNT_CHUNK = 1 << 20


# ------------------------------------------------------------------------------ CLI options


def add_options(parser: argparse.ArgumentParser) -> None:
    """The cluster options of ``protloc predict`` (mutually exclusive)."""
    group = parser.add_argument_group("cluster (Dask; see docs/cluster.md)")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--cluster", metavar="local:N",
                       help="run on a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--cluster-config", type=Path, metavar="FILE",
                       help="start a dask-jobqueue cluster (SLURM, PBS, ...) described in YAML")
    group.add_argument("--shard-residues", type=int, default=SHARD_RESIDUES, metavar="N",
                       help=f"residues per shard (default {SHARD_RESIDUES:,})")


def requested(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "cluster", None) or getattr(args, "scheduler", None)
                or getattr(args, "cluster_config", None))


# ---------------------------------------------------------------------- streaming the input


class Entry(NamedTuple):
    """One input record as read by the driver; validation happens on the worker."""

    index: int
    title: str | None  # None: a bare sequence before the first header
    raw: str
    new_id: str | None = None  # set when the ID repeats an earlier one
    rename_message: str = ""


@dataclass
class Shard:
    number: int
    entries: list[Entry] = field(default_factory=list)
    residues: int = 0


def iter_shards(path: str | os.PathLike[str], shard_residues: int = SHARD_RESIDUES,
                shard_records: int = SHARD_RECORDS) -> Iterator[Shard]:
    """Consecutive shards of about ``shard_residues`` residues, read streaming."""
    if shard_residues < 1:
        raise UserError("--shard-residues must be at least 1")
    shard = Shard(0)
    for entry in iter_entries(path):
        shard.entries.append(entry)
        shard.residues += len(entry.raw)
        if shard.residues >= shard_residues or len(shard.entries) >= shard_records:
            yield shard
            shard = Shard(shard.number + 1)
    if shard.entries:
        yield shard


def iter_entries(path: str | os.PathLike[str]) -> Iterator[Entry]:
    """Records with the IDs ``parse_text`` gives them (same parser, same renaming rules).

    Memory: one record at a time plus the set of IDs seen (needed to rename duplicates as the
    single-process path does; about 100 bytes per record).
    """
    used_ids: set[str] = set()
    for index, (title, raw) in enumerate(_fasta_entries(path)):
        record_id = _identify(index, title)[0]
        stub = SequenceRecord(record_id, "", 0, index)
        _make_id_unique(stub, used_ids)  # the library's own rule, applied to the ID only
        if stub.id == record_id:
            yield Entry(index, title, raw)
        else:
            yield Entry(index, title, raw, stub.id, stub.messages[-1])


def _fasta_entries(path: str | os.PathLike[str]) -> Iterator[tuple[str | None, str]]:
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    lines = _normalised_lines(path)
    preamble: list[str] = []
    first_header = None
    for line in lines:
        if line.startswith(">"):
            first_header = line
            break
        preamble.append(line)
        if sum(map(len, preamble)) > MAX_PREAMBLE_CHARS:  # pragma: no cover - huge bare text
            raise InputError(f"'{Path(path).name}' has more than {MAX_PREAMBLE_CHARS:,} "
                             "characters before its first '>' header: not a FASTA file.")
    bare = "".join(preamble)
    if not bare.strip() and first_header is None:
        raise InputError(EMPTY_MESSAGE)
    if bare.strip():  # same synthetic header trick as sequences._fasta_entries
        yield None, next(SimpleFastaParser(io.StringIO(">\n" + bare)))[1]
    if first_header is not None:
        yield from SimpleFastaParser(_chain([first_header], lines))


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def _normalised_lines(path: str | os.PathLike[str]) -> Iterator[str]:
    """Lines as ``sequences._normalise_text`` leaves them: universal newlines, left-stripped."""
    name = Path(path).name
    _check_sample(path)
    try:
        with _open_text(path) as handle:
            for line in handle:
                yield line.rstrip("\n").lstrip() + "\n"
    except UnicodeDecodeError as exc:
        raise InputError(f"'{name}' is not valid UTF-8 (byte 0x{exc.object[exc.start]:02X}); "
                         "the file must be UTF-8 or ASCII text.") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"'{name}' looks gzip-compressed but could not be decompressed "
                         f"({exc}); the file may be truncated or damaged.") from None


def _open_binary(path: str | os.PathLike[str]):
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
        return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")
    except OSError as exc:
        raise InputError(f"Cannot read '{path}': {exc.strerror or exc}.") from None


def _open_text(path: str | os.PathLike[str]) -> TextIO:
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline=None)


def _check_sample(path: str | os.PathLike[str]) -> None:
    """The whole-input refusals of ``sequences._decode``, on the first 8 KiB."""
    name = Path(path).name
    try:
        with _open_binary(path) as handle:
            sample = handle.read(_SAMPLE_BYTES)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"'{name}' looks gzip-compressed but could not be decompressed "
                         f"({exc}).") from None
    if sample.startswith(_UTF16_BOMS):
        raise InputError(f"'{name}' is UTF-16 text; save it as UTF-8 or ASCII text.")
    if b"\x00" in sample or _mostly_control_bytes(sample):
        raise InputError(f"'{name}' is a binary file, not text: a FASTA text file is expected.")


def count_records(path: str | os.PathLike[str]) -> int:
    """Header lines, counted on raw bytes (fast): the progress bar's total (an estimate when
    headers are indented)."""
    count, last = 0, b"\n"
    with _open_binary(path) as handle:
        start = handle.read(_SAMPLE_BYTES).lstrip()
        count += bool(start) and not start.startswith(b">")  # a bare sequence first
        handle.seek(0)
        while chunk := handle.read(_COUNT_CHUNK):
            count += (last + chunk).count(b"\n>")
            last = chunk[-1:]
    return count


# ------------------------------------------------------------------------- identity of work


@dataclass(frozen=True)
class Job:
    """What every shard task needs; part of each shard's key (except paths and threads)."""

    model: str  # checkpoint set folder, absolute (must be visible to the workers)
    shard_dir: str
    device: str = "cpu"
    group: str = "unknown"
    attention: bool = False
    cache: str | None = None
    threads: int | None = None  # torch threads per worker process; None: torch's default
    allow_external_weights: bool = False
    homology: bool = True  # the checkpoint's homology vote, when it has one (--no-homology)
    fingerprint: str = ""  # hash of the model files and the options that change results

    def with_fingerprint(self) -> "Job":
        options = {"model": model_fingerprint(self.model), "device": self.device,
                   "group": self.group, "attention": self.attention,
                   "homology": self.homology, "protloc": __version__, "shard_format": SHARD_FORMAT}
        digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()
        return Job(**{**asdict(self), "fingerprint": digest})


def model_fingerprint(directory: str | os.PathLike[str]) -> str:
    """Hash of a checkpoint set's manifest and weight files (names and contents)."""
    digest = hashlib.sha256()
    folder = Path(directory)
    for path in sorted([folder / "manifest.json", *folder.glob("*.safetensors")]):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            while block := handle.read(_COUNT_CHUNK):
                digest.update(block)
    return digest.hexdigest()


def shard_key(shard: Shard, job: Job) -> str:
    """Content hash of a shard's records plus the model and options: its identity on resume."""
    digest = hashlib.sha256(job.fingerprint.encode())
    for entry in shard.entries:
        digest.update(repr(tuple(entry)).encode())
    return digest.hexdigest()[:32]


# ---------------------------------------------------------------------- on a worker: a shard

_PREDICTORS: dict[tuple, Any] = {}
_LOAD_LOCK = threading.Lock()
#: Checkpoint loads in this process, by folder (tests check that it is once per worker).
LOADS: Counter = Counter()


def worker_predictor(job: Job):
    """The checkpoint set, loaded once per worker process and kept for every later task."""
    from .predictor import EnsemblePredictor

    key = (job.model, job.device, job.cache, job.threads, job.homology)
    with _LOAD_LOCK:
        if key not in _PREDICTORS:
            if job.threads:
                import torch

                torch.set_num_threads(job.threads)
            # passed only when set, so the call also suits a predictor without the option
            extra = {"allow_external_weights": True} if job.allow_external_weights else {}
            _PREDICTORS[key] = EnsemblePredictor.from_dir(
                job.model, device=_worker_device(job.device), cache_dir=job.cache, **extra)
            _PREDICTORS[key].use_homology &= job.homology
            LOADS[job.model] += 1
        return _PREDICTORS[key]


def _worker_device(device: str) -> str:
    """``cuda`` on a node with several GPUs: one GPU per worker. dask-cuda and SLURM's --gres
    set CUDA_VISIBLE_DEVICES (then ``cuda`` is this worker's GPU); otherwise a LocalCluster's
    worker N takes GPU N modulo the count."""
    if device != "cuda" or os.environ.get("CUDA_VISIBLE_DEVICES"):
        return device
    import torch
    from distributed import get_worker

    count = torch.cuda.device_count()
    try:
        name = int(get_worker().name)
    except (ValueError, TypeError):
        return device
    return f"cuda:{name % count}" if count > 1 else device


def run_shard(shard: Shard, key: str, job: Job) -> dict[str, Any]:
    """One Dask task: validate, predict and write ``<shard_dir>/<key>.parquet`` atomically.

    Idempotent: when the file already exists (an earlier attempt, or a result lost with its
    worker and recomputed) it is not computed again.
    """
    path = Path(job.shard_dir) / f"{key}.parquet"
    start = time.perf_counter()
    _mark_attempt(Path(job.shard_dir), key)
    if not shard_is_done(path):
        records = [_validated(entry) for entry in shard.entries]
        predictor = worker_predictor(job)
        predictions = _predict(predictor, records, job)
        _write_parquet(_shard_table(records, predictions, predictor.name, job), path)
    return {"key": key, "number": shard.number, "records": len(shard.entries),
            "residues": shard.residues, "seconds": time.perf_counter() - start}


ATTEMPTS = "attempts"  # per shard key, one empty file per time its task started


def _mark_attempt(shard_dir: Path, key: str) -> None:
    """Written before any work, so an attempt whose worker dies under it still counts."""
    folder = shard_dir / ATTEMPTS
    folder.mkdir(exist_ok=True)
    (folder / f"{key}.{secrets.token_hex(8)}").touch()


def _attempts(shard_dir: Path, key: str) -> list[Path]:
    return list((shard_dir / ATTEMPTS).glob(f"{key}.*"))


def _validated(entry: Entry) -> SequenceRecord:
    """The record ``parse_text`` would make: same validation, same renaming, same messages."""
    record = _make_record(entry.index, entry.title, entry.raw)
    if entry.new_id is not None:
        record.id = entry.new_id
        record.messages.append(entry.rename_message)
        if record.status == "ok":
            record.status = "warning"
    return record


def _predict(predictor, records: list[SequenceRecord], job: Job) -> list:
    """Predict the shard; if that fails, record by record, so one bad record costs only
    itself (it becomes an error row)."""
    try:
        return predictor.predict(records, group=job.group, attention=job.attention)
    except Exception:  # noqa: BLE001 - any failure: fall back to finding the culprit
        return [_predict_one(predictor, record, job) for record in records]


def _predict_one(predictor, record: SequenceRecord, job: Job):
    try:
        return predictor.predict([record], group=job.group, attention=job.attention)[0]
    except Exception as exc:  # noqa: BLE001 - becomes this record's error message
        record.status = "error"
        record.messages.append(f"Prediction failed: {type(exc).__name__}: {exc}")
        return None


def _shard_table(records, predictions, model_name: str, job: Job):
    """The output rows (as the CSV has them), the JSON items, and full-precision
    probabilities (so results can be compared beyond the CSV's 4 decimals)."""
    import pyarrow as pa

    from .output import prediction_json, prediction_rows

    table = prediction_rows(records, predictions)
    items = prediction_json(records, predictions, model_name, job.group)["results"]
    table.insert(0, "Index", [r.index for r in records])
    table["Item"] = [json.dumps(item) for item in items]
    table["Probabilities"] = [None if p is None else [float(x) for x in p.probabilities]
                              for p in predictions]
    return pa.Table.from_pandas(table, preserve_index=False)


# ------------------------------------------------------------------------- atomic writing


def _fsync_and_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - directories cannot be opened on some systems
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_path(path: Path) -> Path:
    # random: two attempts at one shard (a worker presumed dead is still writing) never share
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _write_parquet(table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = _temp_path(path)
    try:
        pq.write_table(table, tmp)
        _fsync_and_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _atomic_text(path: Path):
    """A text file that appears complete at ``path`` or not at all (written in pieces, so
    ``protloc.files.atomic_write_text``, which takes the whole text, does not fit)."""
    from .files import describe_os_error

    tmp = _temp_path(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            yield handle
        _fsync_and_replace(tmp, path)
    except OSError as exc:
        raise UserError(describe_os_error(exc, path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def shard_is_done(path: Path) -> bool:
    """A shard file is complete (it was renamed into place only once whole) and readable."""
    if not path.is_file():
        return False
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
    except Exception:  # noqa: BLE001 - damaged: compute it again
        return False
    return True


# ------------------------------------------------------------------------------ the driver


@dataclass
class Summary:
    shards: list[str] = field(default_factory=list)  # keys, in input order
    computed: list[str] = field(default_factory=list)  # keys computed by this run
    reused: list[str] = field(default_factory=list)  # keys found finished on disk
    retried: list[str] = field(default_factory=list)  # keys whose task ran more than once
    failed: dict[str, str] = field(default_factory=dict)  # key -> error
    records: int = 0
    errors: int = 0
    seconds: float = 0.0
    task_seconds: float = 0.0  # summed over the shards computed (workers' busy time)
    output: Path | None = None

    def line(self) -> str:
        return (f"{len(self.shards)} shards ({len(self.computed)} computed, {len(self.reused)} "
                f"already done, {len(self.retried)} retried), {self.seconds:.1f} s")


Progress = Callable[[int], None]


def predict_on_cluster(client, fasta: Path, out_dir: Path, job: Job, fmt: str = "csv",
                       shard_residues: int = SHARD_RESIDUES,
                       progress: Progress | None = None) -> Summary:
    """Shard, predict on the cluster behind ``client``, merge. Interrupting leaves finished
    shards on disk; running it again finishes the rest."""
    start = time.perf_counter()
    summary = _Run(client, job, progress).run(fasta, shard_residues)
    if not summary.failed:
        summary.output, summary.records, summary.errors = merge_shards(
            out_dir, summary.shards, fmt, job)
    summary.seconds = time.perf_counter() - start
    return summary


class _Run:
    """Submits shards through a bounded window and collects them as Dask finishes them."""

    def __init__(self, client, job: Job, progress: Progress | None) -> None:
        from distributed import as_completed

        self.client, self.job, self.progress = client, job, progress or (lambda n: None)
        self.pending = as_completed()
        self.summary = Summary()

    def run(self, fasta: Path, shard_residues: int) -> Summary:
        Path(self.job.shard_dir).mkdir(parents=True, exist_ok=True)
        try:
            for shard in iter_shards(fasta, shard_residues):
                self._submit(shard)
            for future in self.pending:
                self._collect(future)
        except BaseException:
            self.client.cancel(list(self.pending.futures))
            raise
        return self.summary

    def _submit(self, shard: Shard) -> None:
        key = shard_key(shard, self.job)
        self.summary.shards.append(key)
        for mark in _attempts(Path(self.job.shard_dir), key):  # left by an interrupted run
            mark.unlink(missing_ok=True)
        if shard_is_done(Path(self.job.shard_dir) / f"{key}.parquet"):
            self.summary.reused.append(key)
            self.progress(len(shard.entries))
            return
        while self.pending.count() >= self._window():
            self._collect(next(self.pending))
        self.pending.add(self.client.submit(run_shard, shard, key, self.job, key=f"protloc-{key}",
                                            retries=RETRIES, pure=False))

    def _window(self) -> int:
        """Shards in flight: enough to keep every worker thread busy, never the whole input."""
        return max(4, 2 * sum(self.client.nthreads().values()))

    def _collect(self, future) -> None:
        key = future.key.removeprefix("protloc-")
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - reported in the summary, the rest goes on
            self.summary.failed[key] = f"{type(exc).__name__}: {exc}"
            return
        self.summary.computed.append(key)
        self.summary.task_seconds += result["seconds"]
        self.progress(result["records"])
        self._count_attempts(key)

    def _count_attempts(self, key: str) -> None:
        """Whether a finished task started more than once (a worker died under it, or it
        raised and was retried), from the attempt files every attempt writes first: no
        scheduler state is needed (the scheduler may already have forgotten the task)."""
        marks = _attempts(Path(self.job.shard_dir), key)
        if len(marks) > 1:
            self.summary.retried.append(key)
        for mark in marks:
            mark.unlink(missing_ok=True)


# ------------------------------------------------------------------------------- the merge


def merge_shards(out_dir: Path, keys: list[str], fmt: str, job: Job) -> tuple[Path, int, int]:
    """Write the results from the shards, in input order, each file atomically and streamed
    (never whole in memory), then the completion marker ``run.json`` (as
    ``protloc.files.write_run`` does for one process) listing the shards merged."""
    from .files import MARKER

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER).unlink(missing_ok=True)  # the folder stops claiming a complete run
    paths = [Path(job.shard_dir) / f"{key}.parquet" for key in keys]
    header = _json_header(job)
    if fmt == "csv":
        names = ["results.csv"] + (["attention.json"] if job.attention else [])
        with _atomic_text(out_dir / "results.csv") as handle:
            records, errors = _write_csv(handle, paths)
        if job.attention:
            with _atomic_text(out_dir / "attention.json") as handle:
                _write_json(handle, paths, header)
    else:
        names = ["results.json"]
        with _atomic_text(out_dir / "results.json") as handle:
            records, errors = _write_json(handle, paths, header)
    _write_marker(out_dir, names, keys, records, errors, header, job)
    return out_dir / names[0], records, errors


def _json_header(job: Job) -> dict[str, Any]:
    from .checkpoint import read_manifest
    from .classes import CLASSES

    name = read_manifest(Path(job.model)).name
    return {"model": name, "organism_group": job.group, "classes": list(CLASSES)}


def _read_shard(path: Path, columns: list[str]):
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=columns).to_pandas()


def _write_csv(handle: TextIO, paths: list[Path]) -> tuple[int, int]:
    """Shard by shard through the single-process CSV writer (same formatting, same
    neutralised cells); the header only once."""
    from .output import COLUMNS, csv_text

    records = errors = 0
    for number, path in enumerate(paths):
        rows = _read_shard(path, COLUMNS)
        text = csv_text(rows)
        handle.write(text if number == 0 else text.split("\n", 1)[1])
        records += len(rows)
        errors += int((rows["Error"].fillna("") != "").sum())
    return records, errors


def _write_json(handle: TextIO, paths: list[Path], header: dict[str, Any]) -> tuple[int, int]:
    """The single-process JSON document, written item by item."""
    handle.write(json.dumps(header)[:-1] + ', "results": [\n')
    records = errors = 0
    for path in paths:
        for item in _read_shard(path, ["Item"])["Item"]:
            handle.write((",\n" if records else "") + item)
            records += 1
            errors += bool(json.loads(item).get("Error"))
    handle.write("\n]}\n")
    return records, errors


def _write_marker(out_dir: Path, names: list[str], keys: list[str], records: int, errors: int,
                  header: dict[str, Any], job: Job) -> None:
    from .files import MARKER, MARKER_FORMAT, atomic_write_text, sha256_of

    listing = [{"name": name, "bytes": (out_dir / name).stat().st_size,
                "sha256": sha256_of(out_dir / name)} for name in names]
    marker = {"format": MARKER_FORMAT, "complete": True, "model": header["model"],
              "organism_group": job.group, "records": records, "predicted": records - errors,
              "cluster": {"merged_shards": keys, "fingerprint": job.fingerprint,
                          "device": job.device, "attention": job.attention,
                          "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
              "files": listing}
    atomic_write_text(out_dir / MARKER, json.dumps(marker, indent=1) + "\n")


# --------------------------------------------------------------------------- the clusters


def local_workers(spec: str) -> int:
    """``local:N`` -> N; ``local`` -> one worker per CPU core."""
    kind, _, number = spec.partition(":")
    if kind != "local" or (number and not number.isdigit()) or number == "0":
        raise UserError(f"--cluster {spec!r}: use local:N with N a positive whole number "
                        "(or --scheduler / --cluster-config)")
    return int(number) if number else (os.cpu_count() or 1)


def read_cluster_config(path: Path) -> dict[str, Any]:
    """A dask-jobqueue cluster described in YAML (see configs/cluster/slurm.yaml)."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read cluster config {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"cluster config {path} is not valid YAML: "
                        f"{str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or doc.get("kind") not in _JOBQUEUE:
        raise UserError(f"cluster config {path}: 'kind' must be one of {', '.join(_JOBQUEUE)}")
    if not isinstance(doc.get("options", {}), dict):
        raise UserError(f"cluster config {path}: 'options' must be a mapping")
    return doc


_JOBQUEUE = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
             "lsf": "LSFCluster"}


def jobqueue_cluster(config: dict[str, Any], scale: bool = True):
    """The dask-jobqueue cluster of a config, scaled (or adaptive) as it says; ``scale=False``
    submits no job (``cluster.job_script()`` shows what would be submitted)."""
    import dask_jobqueue

    cls = getattr(dask_jobqueue, _JOBQUEUE[config["kind"]])
    try:
        cluster = cls(**config.get("options", {}))
    except (TypeError, ValueError) as exc:
        raise UserError(f"cluster config: {config['kind']} options refused: {exc}") from None
    if not scale:
        return cluster
    if "adapt" in config:
        cluster.adapt(**config["adapt"])
    else:
        cluster.scale(int(config.get("workers", 1)))
    return cluster


def local_cluster(workers: int, device: str):
    """N worker processes, one task thread each; on ``cuda`` with dask-cuda installed, its
    LocalCUDACluster (one worker per GPU, each pinned to its own)."""
    if device.startswith("cuda"):
        try:
            from dask_cuda import LocalCUDACluster

            return LocalCUDACluster(n_workers=workers, threads_per_worker=1)
        except ImportError:
            pass  # plain LocalCluster: _worker_device spreads the workers over the GPUs
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)


@contextmanager
def connect(args: argparse.Namespace):
    """(client, torch threads per worker) for the cluster the options name."""
    from distributed import Client

    if args.scheduler:
        try:
            client = Client(args.scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {args.scheduler}: "
                            f"{str(exc).splitlines()[0]}") from None
        with client:
            yield client, None
        return
    if args.cluster:
        workers = local_workers(args.cluster)
        cluster = local_cluster(workers, args.device)
        threads = max(1, (os.cpu_count() or 1) // workers)
    else:
        config = read_cluster_config(args.cluster_config)
        cluster, threads = jobqueue_cluster(config), config.get("torch_threads")
    with cluster, Client(cluster) as client:
        yield client, threads


def dashboard_line(client) -> str:
    try:
        import bokeh  # noqa: F401 - the dashboard needs it
    except ImportError:
        return f"Dask dashboard: {client.dashboard_link} (needs bokeh>=3.1: pip install bokeh)"
    return f"Dask dashboard: {client.dashboard_link}"


# ------------------------------------------------------------------------------ the command


def run_command(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``protloc predict`` with a cluster option."""
    from tqdm import tqdm

    from .classes import canonical_group
    from .checkpoint import read_manifest

    from .files import prepare_output_dir

    # bad input, model or output folder fail here, before any cluster starts
    next(iter_entries(args.fasta))
    read_manifest(args.model)
    shard_dir = prepare_output_dir(args.output) / "shards"
    with connect(args) as (client, threads):
        print(dashboard_line(client), file=stderr)
        job = Job(model=str(args.model.resolve()), shard_dir=str(shard_dir.resolve()),
                  device=args.device, group=canonical_group(args.group),
                  attention=args.attention, threads=threads,
                  allow_external_weights=getattr(args, "allow_external_weights", False),
                  homology=not getattr(args, "no_homology", False),
                  cache=str(args.cache.resolve()) if args.cache else None).with_fingerprint()
        bar = tqdm(total=count_records(args.fasta), unit=" proteins", file=stderr,
                   mininterval=1.0)
        try:
            summary = predict_on_cluster(client, args.fasta, args.output, job, args.format,
                                         args.shard_residues, bar.update)
        except KeyboardInterrupt:
            print(f"\nfinished shards are kept in {shard_dir}: run the same command again to "
                  "finish the rest", file=stderr)
            raise
        finally:
            bar.close()
    return _report(summary, shard_dir, stdout, stderr)


def _report(summary: Summary, shard_dir: Path, stdout: TextIO, stderr: TextIO) -> int:
    if summary.failed:
        key, error = next(iter(summary.failed.items()))
        print(f"protloc predict: error: {len(summary.failed)} of {len(summary.shards)} shards "
              f"failed (shard {key}: {error}); the others are kept in {shard_dir}: run the same "
              "command again to retry the failed ones", file=stderr)
        return 1
    good = summary.records - summary.errors
    print(f"{summary.records} records, {good} predicted, {summary.errors} with errors "
          f"-> {summary.output}", file=stdout)
    print(f"cluster: {summary.line()}", file=stdout)
    if summary.errors == summary.records:
        raise UserError(f"none of the {summary.records} records could be predicted; "
                        f"the Error column of {summary.output.name} says why for each")
    return 0
