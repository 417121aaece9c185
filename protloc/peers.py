"""Other predictors to compare with: the reference study's published results, and PSORTb 3.0.

Reference study (``$PROTLOC_REFERENCE`` or ``<parent of $PROTLOC_DATA>/reference``, i.e.
``../shared/reference``): ``seed_results/fold_k_results.json`` hold its held-out predictions and
labels as integer indices in :data:`REFERENCE_STUDY_ORDER`. That order is verified by
recomputing the study's published aggregated confusion matrix and summary exactly (see
``tests/test_peers.py``). **Its folds were stratified random splits (equal sizes 2,307/2,306),
not homology partitions**, so its figures are optimistic and not comparable with
homology-partitioned cross-validation: :data:`REFERENCE_STUDY_CAVEAT` must accompany them.

PSORTb 3.0.6 (Debian package ``psortb``) is run locally with :func:`run_psortb`, one call of
``psort -n|-p|-a -o long`` per organism group and chunk, results cached in a TSV keyed by
sequence hash and group. Its "Unknown" answers are abstentions. **PSORTb's SCL-BLAST database
of experimentally localized proteins overlaps the DeepLocPro benchmark** (the same proteins or
close homologues; :func:`sclblast_overlap` counts verbatim copies), so its benchmark figures are
optimistic too: :data:`PSORTB_CAVEAT`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from .classes import canonical_group, canonical_label
from .errors import UserError

# --- the reference study ----------------------------------------------------------------------

#: Class order of the reference study's integer labels (verified against its confusion matrix).
REFERENCE_STUDY_ORDER: tuple[str, ...] = (
    "Cytoplasmic",
    "Cytoplasmic membrane",
    "Extracellular",
    "Periplasmic",
    "Outer membrane",
    "Cell wall & surface",
)

REFERENCE_STUDY_CAVEAT = (
    "The reference study's folds were stratified random splits (equal sizes 2,307/2,306), not "
    "homology partitions: close homologues of test proteins were in its training folds, so its "
    "figures are optimistic and not comparable with homology-partitioned cross-validation. "
    "They are recomputed from its published per-fold predictions, on its own 11,531 proteins."
)

PSORTB_CAVEAT = (
    "PSORTb's SCL-BLAST database of experimentally localized proteins overlaps the DeepLocPro "
    "benchmark (the same proteins, or close homologues), and PSORTb returns the database label "
    "on an SCL-BLAST hit: its benchmark figures are optimistic. 'Unknown' answers are abstentions."
)

SEED_RESULTS = "seed_results"


def reference_study_dir(path: str | os.PathLike | None = None) -> Path | None:
    """Folder holding ``fold_k_results.json``, or None when it cannot be found.

    Looks at ``path``, else ``$PROTLOC_REFERENCE``, else ``<parent of $PROTLOC_DATA>/reference``;
    each may be the ``reference`` folder or its ``seed_results`` subfolder.
    """
    candidates: list[Path] = []
    if path is not None and str(path):
        candidates.append(Path(path))
    else:
        if os.environ.get("PROTLOC_REFERENCE"):
            candidates.append(Path(os.environ["PROTLOC_REFERENCE"]))
        if os.environ.get("PROTLOC_DATA"):
            candidates.append(Path(os.environ["PROTLOC_DATA"]).parent / "reference")
    for base in candidates:
        for folder in (base / SEED_RESULTS, base):
            if (folder / "fold_0_results.json").is_file():
                return folder
    return None


@dataclass(frozen=True)
class ReferenceStudy:
    """The reference study's held-out predictions: one row per protein and its published summary."""

    table: pd.DataFrame  # columns fold, label, prediction (canonical class names)
    summary: dict[str, Any]  # final_summary.json, {} when absent
    folder: Path


def load_reference_study(path: str | os.PathLike | None = None) -> ReferenceStudy:
    """Read ``fold_k_results.json`` (k = 0, 1, ...) and ``final_summary.json``."""
    folder = reference_study_dir(path)
    if folder is None:
        where = path or "$PROTLOC_REFERENCE or <parent of $PROTLOC_DATA>/reference"
        raise UserError(f"reference study results (fold_0_results.json) not found in {where}")
    rows = []
    k = 0
    while (folder / f"fold_{k}_results.json").is_file():
        data = json.loads((folder / f"fold_{k}_results.json").read_text())
        labels, preds = data["labels"], data["predictions"]
        if len(labels) != len(preds):
            raise ValueError(f"fold {k}: {len(labels)} labels but {len(preds)} predictions")
        fold = int(data.get("test_fold", k))
        for y, p in zip(labels, preds):
            rows.append((fold, REFERENCE_STUDY_ORDER[int(y)], REFERENCE_STUDY_ORDER[int(p)]))
        k += 1
    summary_path = folder / "final_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    table = pd.DataFrame(rows, columns=["fold", "label", "prediction"])
    return ReferenceStudy(table=table, summary=summary, folder=folder)


def evaluate_reference_study(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The reference study's metrics recomputed with :func:`protloc.metrics.evaluate_predictions`.

    Adds ``caveat`` and ``published`` (the summary's accuracy / macro-F1 / MCC mean and sd).
    """
    from .metrics import evaluate_predictions

    study = load_reference_study(path)
    t = study.table
    result = evaluate_predictions(
        t["label"].tolist(), t["prediction"].tolist(), partitions=t["fold"].tolist()
    )
    published = {}
    for key, block in (study.summary.get("nested_cv_results") or {}).items():
        if isinstance(block, dict) and "mean" in block:
            published[key] = {"mean": block["mean"], "sd": block.get("std")}
    result["published"] = published
    result["caveat"] = REFERENCE_STUDY_CAVEAT
    result["split"] = "stratified random 5-fold (not homology-partitioned)"
    return result


# --- PSORTb -----------------------------------------------------------------------------------

PSORT_FLAGS = {"negative": "-n", "positive": "-p", "archaea": "-a"}
SCLBLAST_DIR = Path("/usr/lib/psort/conf/analysis/sclblast")
SCLBLAST_SUBDIRS = {"negative": "gramneg", "positive": "grampos", "archaea": "archaea"}

CACHE_COLUMNS = (
    "key",
    "seq_sha1",
    "group",
    "id",
    "prediction",
    "psortb_localization",
    "score",
    "secondary",
    "details",
    "scl_blast",
    "scores",
    "error",
)


@dataclass(frozen=True)
class PsortbResult:
    """One parsed ``psort -o long`` row."""

    seq_id: str
    localization: str  # PSORTb's spelling, e.g. CytoplasmicMembrane, or Unknown
    prediction: str  # canonical class, or "Unknown" (abstention)
    score: float | None
    secondary: str
    details: str  # Final_Localization_Details (e.g. multiple-localization note)
    scl_blast: str  # SCL-BLAST module's localization and details ("" when no hit)
    scores: dict[str, float]


def psortb_label(localization: str) -> str:
    """A PSORTb localization mapped to a canonical class, or ``"Unknown"`` (an abstention)."""
    text = (localization or "").strip()
    if not text or text.lower().startswith("unknown"):
        return "Unknown"
    label = canonical_label(text)
    return label if label is not None else "Unknown"


def parse_psortb_long(text: str) -> list[PsortbResult]:
    """Parse ``psort -o long`` output (a tab-separated table, one row per sequence).

    Column names differ by group (``CMSVM-``, ``CMSVM+``, ``CMSVM_a`` ...): they are matched by
    suffix. Raises ValueError when the header lacks ``SeqID`` or ``Final_Localization``.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.startswith("SeqID\t")), None)
    if start is None:
        raise ValueError("not PSORTb long output: no 'SeqID' header line")
    header = lines[start].rstrip("\n").split("\t")
    if "Final_Localization" not in header:
        raise ValueError("not PSORTb long output: no 'Final_Localization' column")
    blast_loc = next(
        (
            h
            for h in header
            if h.startswith("SCL-BLAST")
            and not h.startswith("SCL-BLASTe")
            and h.endswith("_Localization")
        ),
        None,
    )
    out = []
    for line in lines[start + 1 :]:
        if line.startswith("SeqID\t"):
            continue  # a second header (outputs concatenated)
        cells = next(csv.reader(io.StringIO(line), delimiter="\t", quoting=csv.QUOTE_NONE))
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        scores = {}
        for h in header:
            if h.endswith("_Score") and h != "Final_Score" and row.get(h, "").strip():
                scores[h[: -len("_Score")]] = float(row[h])
        loc = row["Final_Localization"].strip()
        blast = ""
        if blast_loc and row.get(blast_loc, "").strip() not in ("", "Unknown"):
            detail = row.get(blast_loc.replace("_Localization", "_Details"), "").strip()
            blast = f"{row[blast_loc].strip()}: {detail}"
        score = row.get("Final_Score", "").strip()
        out.append(
            PsortbResult(
                seq_id=row["SeqID"].strip(),
                localization=loc,
                prediction=psortb_label(loc),
                score=float(score) if score else None,
                secondary=row.get("Secondary_Localization", "").strip(),
                details=row.get("Final_Localization_Details", "").strip(),
                scl_blast=blast,
                scores=scores,
            )
        )
    return out


def seq_sha1(sequence: str) -> str:
    return hashlib.sha1(sequence.upper().encode()).hexdigest()


def cache_key(sequence: str, group: str) -> str:
    return f"{seq_sha1(sequence)}:{canonical_group(group)}"


def read_psortb_cache(path: str | os.PathLike) -> pd.DataFrame:
    """The cache TSV (empty frame with :data:`CACHE_COLUMNS` when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=list(CACHE_COLUMNS))
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _records(records: Any, group: str | None) -> list[tuple[str, str, str]]:
    """(id, sequence, group) triples from a FASTA path, a DataFrame or an iterable."""
    if isinstance(records, (str, os.PathLike)):
        from .reference import parse_benchmark_fasta
        from .sequences import read_fasta

        path = Path(records)
        text = path.read_text()
        first = next((ln for ln in text.splitlines() if ln.startswith(">")), "")
        if group is None and first.count("|") >= 2:  # DeepLocPro style: >ACC|Location|group
            return [(p.accession, p.sequence, p.group) for p in parse_benchmark_fasta(text)]
        if group is None:
            raise UserError(
                f"{path}: headers carry no organism group (>ACC|Location|group); pass group= "
                "(on the command line: --group negative|positive|archaea)"
            )
        return [(r.id, r.sequence, group) for r in read_fasta(path) if r.ok]
    if isinstance(records, pd.DataFrame):
        grp = records["group"] if "group" in records else [group] * len(records)
        return [
            (str(i), str(s), str(g)) for i, s, g in zip(records["id"], records["sequence"], grp)
        ]
    out = []
    for rec in records:
        if isinstance(rec, Mapping):
            out.append((str(rec["id"]), str(rec["sequence"]), str(rec.get("group", group))))
        elif hasattr(rec, "sequence"):
            out.append((str(rec.id), str(rec.sequence), str(getattr(rec, "group", group))))
        else:
            out.append(tuple(map(str, rec)))  # (id, sequence, group)
    return out


def _run_psort(
    psort: str, group: str, batch: list[tuple[str, str]], timeout: float
) -> list[PsortbResult]:
    """One psort call on ``batch`` of (key, sequence); SeqIDs are the batch positions."""
    with tempfile.TemporaryDirectory(prefix="protloc-psortb-") as tmp:
        fasta = Path(tmp) / "query.fasta"
        fasta.write_text("".join(f">q{i}\n{seq}\n" for i, (_, seq) in enumerate(batch)))
        proc = subprocess.run(
            [psort, PSORT_FLAGS[group], "-o", "long", str(fasta)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"psort exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return parse_psortb_long(proc.stdout)


def run_psortb(
    records: Any,
    cache_path: str | os.PathLike,
    group: str | None = None,
    psort: str = "psort",
    chunk_size: int = 25,
    timeout_per_protein: float = 120.0,
    log: Callable[[str], None] | None = None,
    retry_errors: bool = False,
) -> pd.DataFrame:
    """PSORTb predictions for ``records``, run only for those not yet in the cache TSV.

    ``records``: a FASTA path (DeepLocPro headers ``>ACC|Location|group``, or any FASTA with
    ``group=``), a DataFrame with ``id, sequence[, group]``, or an iterable of dicts/objects with
    ``id, sequence, group`` or ``(id, sequence, group)`` tuples. The group (negative, positive,
    archaea) picks ``psort -n/-p/-a``; proteins of unknown group are not run (``error`` says so).
    Results are appended to ``cache_path`` after every chunk (key = sequence SHA-1 + group), so
    an interrupted run resumes and a rerun is instant. Proteins that failed are cached with their
    ``error`` and not run again unless ``retry_errors``.

    Returns one row per input record, in input order: ``id, group, key, prediction`` (canonical
    class or ``"Unknown"``) and the other :data:`CACHE_COLUMNS`.
    """
    log = log or (lambda message: None)
    items = []
    for rid, seq, grp in _records(records, group):
        g = canonical_group(grp)
        items.append((rid, seq.upper(), g, cache_key(seq, g)))
    cache_path = Path(cache_path)
    cache = read_psortb_cache(cache_path)
    done = set(cache["key"] if not retry_errors else cache.loc[cache["error"] == "", "key"])
    todo: dict[str, list[tuple[str, str, str]]] = {}
    seen = set()
    for rid, seq, g, key in items:
        if key in done or key in seen or g not in PSORT_FLAGS:
            continue
        seen.add(key)
        todo.setdefault(g, []).append((rid, seq, key))
    total = sum(len(v) for v in todo.values())
    if total:
        if shutil.which(psort) is None and not Path(psort).is_file():
            raise UserError(
                f"'{psort}' not found: install PSORTb (apt-get install psortb) to run it"
            )
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        log(f"PSORTb: {total} proteins to run, {len(items) - total} from cache or not runnable")
    finished = 0
    for g, batch_all in todo.items():
        for start in range(0, len(batch_all), chunk_size):
            batch = batch_all[start : start + chunk_size]
            rows = _psortb_chunk(psort, g, batch, timeout_per_protein)
            _append_cache(cache_path, rows)
            finished += len(batch)
            log(f"PSORTb: {finished}/{total} done ({g})")
    cache = read_psortb_cache(cache_path).drop_duplicates("key", keep="last").set_index("key")
    out = []
    for rid, _seq, g, key in items:
        if key in cache.index:
            row = cache.loc[key].to_dict()
            row.update(id=rid, key=key)
        else:
            row = {c: "" for c in CACHE_COLUMNS}
            row.update(
                id=rid,
                key=key,
                seq_sha1=key.split(":")[0],
                group=g,
                prediction="Unknown",
                error=f"not run: PSORTb needs a known organism group, not {g!r}",
            )
        out.append(row)
    return pd.DataFrame(out, columns=list(CACHE_COLUMNS))


def _psortb_chunk(
    psort: str, group: str, batch: list[tuple[str, str, str]], timeout_per: float
) -> list[dict]:
    """Run one chunk; on failure retry its proteins one by one so one bad protein costs one row."""
    try:
        results = _run_psort(psort, group, [(k, s) for _, s, k in batch], timeout_per * len(batch))
        by_id = {r.seq_id: r for r in results}
        if len(by_id) != len(batch) or any(f"q{i}" not in by_id for i in range(len(batch))):
            raise RuntimeError(f"psort returned {len(results)} rows for {len(batch)} sequences")
        return [
            _cache_row(rid, seq, group, key, by_id[f"q{i}"], "")
            for i, (rid, seq, key) in enumerate(batch)
        ]
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        if len(batch) > 1:
            return [
                row for item in batch for row in _psortb_chunk(psort, group, [item], timeout_per)
            ]
        rid, seq, key = batch[0]
        return [
            _cache_row(
                rid, seq, group, key, None, str(exc).replace("\t", " ").replace("\n", " ")[:300]
            )
        ]


def _cache_row(
    rid: str, seq: str, group: str, key: str, res: PsortbResult | None, error: str
) -> dict:
    return {
        "key": key,
        "seq_sha1": seq_sha1(seq),
        "group": group,
        "id": rid,
        "prediction": res.prediction if res else "Unknown",
        "psortb_localization": res.localization if res else "",
        "score": "" if res is None or res.score is None else f"{res.score:.2f}",
        "secondary": res.secondary if res else "",
        "details": res.details if res else "",
        "scl_blast": res.scl_blast if res else "",
        "scores": ";".join(f"{k}={v:.2f}" for k, v in res.scores.items()) if res else "",
        "error": error,
    }


def _append_cache(path: Path, rows: list[dict]) -> None:
    new = not path.is_file()
    frame = pd.DataFrame(rows, columns=list(CACHE_COLUMNS))
    for col in CACHE_COLUMNS:  # keep the TSV one line per row
        frame[col] = frame[col].astype(str).str.replace(r"[\t\r\n]+", " ", regex=True)
    with path.open("a", encoding="utf-8") as fh:
        frame.to_csv(fh, sep="\t", index=False, header=new)


def psortb_lookup(
    cache_path: str | os.PathLike, sequences: Sequence[str], groups: Sequence[str]
) -> list[dict | None]:
    """Cached PSORTb rows (dicts of :data:`CACHE_COLUMNS`) for (sequence, group) pairs.

    None where a pair is not in the cache.

    Rows that failed to run (``error`` set) count as absent, not as abstentions.
    """
    cache = read_psortb_cache(cache_path)
    cache = cache[cache["error"] == ""].drop_duplicates("key", keep="last").set_index("key")
    rows = cache.to_dict("index")
    out: list[dict | None] = []
    for seq, g in zip(sequences, groups):
        try:
            key = cache_key(seq, g)
        except ValueError:
            key = None
        out.append(rows.get(key) if key else None)
    return out


def psortb_predictions(
    cache_path: str | os.PathLike, sequences: Sequence[str], groups: Sequence[str]
) -> list[str | None]:
    """Cached PSORTb predictions: a class, ``"Unknown"`` (abstention), or None when not cached."""
    return [
        row["prediction"] if row else None for row in psortb_lookup(cache_path, sequences, groups)
    ]


def sclblast_overlap(
    sequences: Iterable[str], groups: Iterable[str], db_dir: Path = SCLBLAST_DIR
) -> dict[str, Any] | None:
    """How many sequences occur verbatim in PSORTb's SCL-BLAST FASTA of their group.

    None when the SCL-BLAST FASTA files are absent (PSORTb not installed).
    """
    db: dict[str, set[str]] = {}
    for g, sub in SCLBLAST_SUBDIRS.items():
        path = db_dir / sub / "sclblast"
        if not path.is_file():
            return None
        seqs, chunks = set(), []
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(">"):
                if chunks:
                    seqs.add("".join(chunks).upper())
                chunks = []
            else:
                chunks.append(line.strip())
        if chunks:
            seqs.add("".join(chunks).upper())
        db[g] = seqs
    n = hit = 0
    for seq, g in zip(sequences, groups):
        n += 1
        hit += seq.upper() in db.get(canonical_group(g), set())
    return {"n": n, "in_sclblast_db": hit, "fraction": hit / n if n else None}
