"""Cross-validation results of a checkpoint set: its held-out predictions (``heldout.csv``)
scored beside DeepLocPro, PSORTb and the reference study, as an :class:`Evaluation`.

Reads ``CHECKPOINT_DIR/heldout.csv`` (columns ``id, partition, label, prediction`` and one
calibrated probability column per class named by :data:`protloc.classes.COLUMN_NAMES`), joins
organism groups and benchmark membership from ``DATA/dataset.tsv`` on ``id`` when ``--data`` is
given, and builds (``protloc evaluate`` writes it as ``results.json`` and ``results.md``;
the reference study's folder is ``--reference``, ``$PROTLOC_REFERENCE`` or beside the data):

* metrics on all held-out proteins;
* on the DeepLocPro benchmark proteins that are in the held-out table, side by side:
  our model, DeepLocPro's own held-out predictions on the same proteins (mean of its 4 inner
  models, its group rule applied; :mod:`protloc.reference`) and PSORTb 3.0 (when its cached
  TSV ``PEERS/psortb_benchmark.tsv`` exists; :mod:`protloc.peers`);
* the reference study's metrics recomputed from its published predictions, with its caveat.

Our model's probabilities get DeepLocPro's organism-group rule
(:func:`protloc.classes.apply_group_rule`) by each protein's known group before the argmax.
Without ``CHECKPOINT_DIR`` only the peers are evaluated (on the whole benchmark); ``--out`` is
then required.
"""

from __future__ import annotations

import json

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import peers
from .classes import CLASSES, COLUMN_NAMES, apply_group_rule, canonical_group, canonical_label
from .errors import UserError
from .evaluation import SCHEMA_VERSION, Benchmark, Evaluation, metrics_from_result
from .metrics import evaluate_predictions, render_markdown, render_summary_table, summary_metrics

BENCHMARK_SOURCE = "deeplocpro_benchmark"  # protloc.dataset.sources.BENCHMARK
PSORTB_FILE = "psortb_benchmark.tsv"

GROUP_RULE_NOTE = (
    "Our model: DeepLocPro's organism-group rule is applied to its held-out probabilities by "
    "each protein's known group before the argmax (Archaea and Gram-positive: Outer membrane "
    "and Periplasmic probability moved to Extracellular); proteins of unknown group are "
    "unchanged. Calibration (ECE) is measured on these rule-applied probabilities."
)
GROUP_INPUT_NOTE = (
    " The model also reads the organism group as an input (each protein's known group; "
    "'unknown' for the rest, and for a random 20% of training proteins so that it works without one)."
)


def _group_note(checkpoint: Path) -> str:
    """The group rule note, saying too whether the model reads the group as an input."""
    manifest = Path(checkpoint) / "manifest.json"
    try:
        reads_group = json.loads(manifest.read_text())["model"]["config"].get("n_groups", 0) > 0
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        reads_group = False
    return GROUP_RULE_NOTE + (GROUP_INPUT_NOTE if reads_group else "")


DEEPLOCPRO_NOTE = (
    "DeepLocPro: its published cross-validation held-out probabilities (mean of the 4 inner "
    "models of each protein's GraphPart test partition), its group rule applied."
)
SAME_PARTITIONS_NOTE = (
    "The benchmark proteins keep DeepLocPro's GraphPart partitions in our dataset, so ours and "
    "DeepLocPro's are held-out predictions on the same partitions."
)


# --- inputs -----------------------------------------------------------------------------------


def read_heldout(checkpoint: Path) -> pd.DataFrame:
    """``heldout.csv`` with canonical labels; raises UserError when it is missing or malformed."""
    path = checkpoint / "heldout.csv"
    if not path.is_file():
        raise UserError(
            f"{checkpoint} has no heldout.csv: is it a checkpoint set written by 'protloc train'?"
        )
    try:
        table = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a readable CSV: {exc}") from exc
    needed = ["id", "label", *[COLUMN_NAMES[c] for c in CLASSES]]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise UserError(f"{path} lacks columns {missing}")
    if table["id"].duplicated().any():
        raise UserError(
            f"{path} repeats ids, e.g. {table.loc[table['id'].duplicated(), 'id'].iloc[0]!r}"
        )
    labels = [canonical_label(str(v)) if str(v) not in CLASSES else str(v) for v in table["label"]]
    bad = [v for v, c in zip(table["label"], labels) if c is None]
    if bad:
        raise UserError(f"{path} has labels outside the 6 classes, e.g. {bad[0]!r}")
    table["label"] = labels
    try:
        probs = table[[COLUMN_NAMES[c] for c in CLASSES]].to_numpy(dtype=float)
    except ValueError as exc:
        raise UserError(f"{path}: probability columns are not numbers ({exc})") from exc
    if not np.isfinite(probs).all():
        raise UserError(f"{path}: probability columns hold empty or non-finite values")
    if "partition" not in table.columns:
        table["partition"] = ""
    return table


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "y", "t")


def _group(value: Any) -> str:
    try:
        return canonical_group(str(value))
    except ValueError:
        return "unknown"


def read_dataset(data: Path) -> pd.DataFrame:
    path = data / "dataset.tsv"
    if not path.is_file():
        raise UserError(f"{data} has no dataset.tsv: run 'protloc data build --out {data}'")
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if "id" not in table.columns:
        raise UserError(f"{path} has no id column")
    return table.drop_duplicates("id")


def _raw_data_dir(arg: Path | None) -> Path | None:
    if arg is not None:
        if not arg.is_dir():
            raise UserError(f"data folder {arg} does not exist")
        return arg
    env = os.environ.get("PROTLOC_DATA", "")
    return Path(env) if env and Path(env).is_dir() else None


# --- evaluation -------------------------------------------------------------------------------


def evaluate_checkpoint(
    checkpoint: Path | None,
    data: Path | None = None,
    data_dir: Path | None = None,
    peers_dir: Path | None = None,
    reference: Path | None = None,
) -> Evaluation:
    """Everything ``protloc evaluate`` writes to ``results.json``."""
    notes: list[str] = []
    raw = _raw_data_dir(data_dir)
    bench = None
    if raw is not None:
        from .reference import benchmark_reference

        try:
            bench = benchmark_reference(raw).set_index("id")
        except (UserError, ValueError) as exc:
            notes.append(f"DeepLocPro benchmark not available ({exc}).")
    else:
        notes.append(
            "No raw data folder (--data-dir or PROTLOC_DATA): DeepLocPro comparison skipped."
        )
    bench_seqs = _benchmark_sequences(raw) if bench is not None else {}

    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "group_rule": _group_note(checkpoint) if checkpoint else None,
        "all": None,
        "benchmark": None,
        "reference_study": None,
        "notes": notes,
    }

    table = None
    if checkpoint is not None:
        table = read_heldout(checkpoint)
        table = _join_dataset(table, data, bench, notes)
        probs_raw = table[[COLUMN_NAMES[c] for c in CLASSES]].to_numpy(dtype=float)
        probs = np.stack([apply_group_rule(p, g) for p, g in zip(probs_raw, table["group"])])
        results["all"] = evaluate_predictions(
            table["label"].tolist(),
            probs,
            partitions=table["partition"].tolist(),
            groups=table["group"].tolist(),
        )
        results["all"]["without_group_rule"] = summary_metrics(
            table["label"].tolist(), [CLASSES[i] for i in probs_raw.argmax(axis=1)]
        )
        results["all"]["groups_known"] = int((table["group"] != "unknown").sum())
        table = table.assign(**{f"_p{j}": probs[:, j] for j in range(len(CLASSES))})

    if peers_dir is None and data is not None:
        peers_dir = data / "peers"
    psortb_path = peers_dir / PSORTB_FILE if peers_dir is not None else None
    if bench is not None:
        results["benchmark"] = _benchmark_section(table, bench, bench_seqs, psortb_path, notes)

    ref_path = reference
    if ref_path is None and raw is not None and not os.environ.get("PROTLOC_REFERENCE"):
        ref_path = raw.parent / "reference"
    if peers.reference_study_dir(ref_path) is not None:
        results["reference_study"] = peers.evaluate_reference_study(ref_path)
    else:
        notes.append(
            "Reference study results not found (--reference or PROTLOC_REFERENCE): skipped."
        )
    return _typed(results)


def _typed(results: dict[str, Any]) -> Evaluation:
    """The plain results as an :class:`Evaluation` (every metrics block validated)."""
    typed = lambda block: None if block is None else metrics_from_result(block)  # noqa: E731
    bench = results["benchmark"]
    return Evaluation(
        schema_version=SCHEMA_VERSION,
        checkpoint=results["checkpoint"],
        group_rule=results["group_rule"],
        all=typed(results["all"]),
        benchmark=None
        if bench is None
        else Benchmark(
            bench["n"], {k: typed(v) for k, v in bench["predictors"].items()}, bench["notes"]
        ),
        reference_study=typed(results["reference_study"]),
        notes=results["notes"],
    )


def _benchmark_sequences(raw: Path | None) -> dict[str, str]:
    from .reference import load_benchmark

    return dict(zip(*[load_benchmark(raw)[c] for c in ("id", "sequence")])) if raw else {}


def _join_dataset(
    table: pd.DataFrame, data: Path | None, bench: pd.DataFrame | None, notes: list[str]
) -> pd.DataFrame:
    """Add ``group``, ``in_benchmark``, ``dlp_id`` (benchmark accession) and ``sequence``."""
    table = table.copy()
    table["group"] = "unknown"
    table["in_benchmark"] = False
    table["dlp_id"] = table["id"]
    table["sequence"] = ""
    bench_ids = set(bench.index) if bench is not None else set()
    if data is not None:
        ds = read_dataset(data).set_index("id")
        found = table["id"].isin(ds.index)
        if (~found).any():
            notes.append(
                f"{int((~found).sum())} held-out ids are not in {data / 'dataset.tsv'} "
                "(group unknown)."
            )
        rows = ds.reindex(table["id"])
        if "group" in ds.columns:
            table["group"] = [_group(g) if f else "unknown" for g, f in zip(rows["group"], found)]
        if "sequence" in ds.columns:
            table["sequence"] = rows["sequence"].fillna("").to_numpy()
        if {"source", "source_id"} <= set(ds.columns):
            table["dlp_id"] = [
                sid if src == BENCHMARK_SOURCE else i
                for i, src, sid in zip(
                    table["id"], rows["source"].fillna(""), rows["source_id"].fillna("")
                )
            ]
        if "in_benchmark" in ds.columns:
            table["in_benchmark"] = [
                bool(f) and _truthy(v) for v, f in zip(rows["in_benchmark"], found)
            ]
        else:
            table["in_benchmark"] = table["dlp_id"].isin(bench_ids)
    else:
        table["in_benchmark"] = table["id"].isin(bench_ids)
        notes.append(
            "No --data: groups are known only for benchmark proteins (from the benchmark FASTA)."
        )
    if bench is not None:  # the benchmark FASTA's group and sequence where the dataset has none
        for i in np.flatnonzero(table["dlp_id"].isin(bench_ids).to_numpy()):
            acc = table.at[i, "dlp_id"]
            if table.at[i, "group"] == "unknown":
                table.at[i, "group"] = bench.at[acc, "group"]
    return table


def _benchmark_section(
    table: pd.DataFrame | None,
    bench: pd.DataFrame,
    bench_seqs: dict[str, str],
    psortb_path: Path | None,
    notes: list[str],
) -> dict[str, Any]:
    """Predictors side by side on the benchmark proteins (those in the held-out table, if any)."""
    if table is not None:
        sub = table[table["in_benchmark"]].copy()
        outside = sub[~sub["dlp_id"].isin(bench.index)]
        if len(outside):
            notes.append(
                f"{len(outside)} in_benchmark proteins are not DeepLocPro benchmark accessions: "
                "left out."
            )
        sub = sub[sub["dlp_id"].isin(bench.index)].reset_index(drop=True)
        accs = sub["dlp_id"].tolist()
        labels = sub["label"].tolist()
        mismatch = sum(a != b for a, b in zip(labels, bench.loc[accs, "label"]))
        if mismatch:
            notes.append(
                f"{mismatch} benchmark proteins have a label in heldout.csv that differs from "
                "the benchmark FASTA; heldout.csv labels are used."
            )
        partitions = sub["partition"].tolist()
    else:
        accs = bench.index.tolist()
        labels = bench["label"].tolist()
        partitions = bench["partition"].tolist()
    section: dict[str, Any] = {"n": len(accs), "predictors": {}, "notes": []}
    if not accs:
        section["notes"].append("No DeepLocPro benchmark proteins in the held-out table.")
        return section
    groups = bench.loc[accs, "group"].tolist()
    if table is not None:
        probs = sub[[f"_p{j}" for j in range(len(CLASSES))]].to_numpy()
        section["predictors"]["protloc"] = evaluate_predictions(labels, probs, partitions, groups)
    dlp = bench.loc[accs, list(CLASSES)].to_numpy()
    section["predictors"]["DeepLocPro"] = evaluate_predictions(labels, dlp, partitions, groups)
    section["notes"].append(DEEPLOCPRO_NOTE)
    if table is not None:
        section["notes"].append(SAME_PARTITIONS_NOTE)

    if psortb_path is not None and psortb_path.is_file():
        seqs = [bench_seqs.get(a, "") for a in accs]
        rows = peers.psortb_lookup(psortb_path, seqs, groups)
        preds = [row["prediction"] if row else None for row in rows]
        have = [i for i, p in enumerate(preds) if p is not None]
        if have:
            r = evaluate_predictions(
                [labels[i] for i in have],
                [preds[i] for i in have],
                [partitions[i] for i in have],
                [groups[i] for i in have],
            )
            r["cached_of"] = len(accs)
            section["predictors"]["PSORTb 3.0.6"] = r
            if len(have) < len(accs):
                section["notes"].append(
                    f"PSORTb: cached results for {len(have)} of {len(accs)} proteins; "
                    "its row covers those only."
                )
            overlap = peers.sclblast_overlap([seqs[i] for i in have], [groups[i] for i in have])
            note = peers.PSORTB_CAVEAT
            r["scl_blast_hits"] = sum(bool(rows[i]["scl_blast"]) for i in have)
            note += f" {r['scl_blast_hits']} of these {len(have)} proteins had an SCL-BLAST hit."
            if overlap:
                r["sclblast_overlap"] = overlap
                note += (
                    f" Here {overlap['in_sclblast_db']} of {overlap['n']} proteins occur "
                    "verbatim in "
                    "the SCL-BLAST database of their group."
                )
            section["notes"].append(note)
        else:
            section["notes"].append(f"PSORTb: {psortb_path} holds none of these proteins.")
    else:
        section["notes"].append(
            f"PSORTb: no cached results in {psortb_path} (protloc peers psortb "
            f"BENCHMARK_FASTA --out {psortb_path} runs it locally)."
        )
    return section


# --- report -----------------------------------------------------------------------------------


def render_report(evaluation: Evaluation) -> str:
    """``results.md``: the same figures as ``results.json``, for people."""
    results = evaluation.to_dict()
    out = ["# protloc evaluation", ""]
    if results["checkpoint"]:
        out += [
            f"Checkpoint set: `{results['checkpoint']}` (held-out predictions, `heldout.csv`).",
            "",
        ]
        out += [results["group_rule"], ""]
    if results["all"]:
        a = results["all"]
        w = a["without_group_rule"]
        out.append(render_markdown(a, "All held-out proteins"))
        out += [
            f"Group known for {a['groups_known']} of {a['n']} proteins. "
            "Without the group rule: accuracy "
            f"{w['accuracy']:.3f}, macro-F1 {w['macro_f1']:.3f}, MCC {w['mcc']:.3f}.",
            "",
        ]
    b = results["benchmark"]
    if b:
        out += [
            "## DeepLocPro benchmark proteins",
            "",
            f"{b['n']} proteins of DeepLocPro's benchmark (its post-2010 subset; "
            "not an independent "
            "test set, all are in DeepLocPro's cross-validation).",
            "",
        ]
        if b["predictors"]:
            out += [render_summary_table(b["predictors"]), ""]
        out += [f"- {n}" for n in b["notes"]] + [""]
        for name, r in b["predictors"].items():
            out.append(render_markdown(r, f"{name} on the benchmark proteins", level=3))
    r = results["reference_study"]
    if r:
        out += ["## Reference study (not comparable)", "", f"**Caveat:** {r['caveat']}", ""]
        pub = r.get("published", {})
        if pub:
            cells = ", ".join(f"{k} {v['mean']:.3f} ± {v['sd']:.3f}" for k, v in pub.items())
            out += [f"Published summary (mean ± population sd over its 5 folds): {cells}.", ""]
        out.append(
            render_markdown(
                r, "Reference study, recomputed from its published predictions", level=3
            )
        )
        out += [f"**Caveat (again):** {r['caveat']}", ""]
    if results["notes"]:
        out += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(out).rstrip() + "\n"
