"""Render the datasheet (markdown) of a built dataset. Deterministic: no dates, no timings."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from ..classes import CLASSES, GROUPS


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(x) for x in r) + " |")
    return "\n".join(lines)


def _crosstab(df: pd.DataFrame, row: str, col: str, rows: list, cols: list) -> str:
    counts = Counter(zip(df[row], df[col]))
    body = []
    for r in rows:
        vals = [counts.get((r, c), 0) for c in cols]
        body.append([r, *[f"{v:,}" for v in vals], f"{sum(vals):,}"])
    totals = [sum(counts.get((r, c), 0) for r in rows) for c in cols]
    body.append(["**total**", *[f"**{v:,}**" for v in totals], f"**{sum(totals):,}**"])
    return _table([row, *map(str, cols), "total"], body)


def render_datasheet(
    dataset: pd.DataFrame,
    removed: pd.DataFrame,
    info: dict,
) -> str:
    """``info`` holds: sources (list), source_files [(name, sha256)], policy (md), identity (md),
    search params, threshold, n_candidates, check (dict), exempt_pairs, psortb_note, sha256s."""
    ds = dataset
    parts = list(range(info.get("n_partitions", 5)))
    lens = ds["sequence"].str.len()
    out: list[str] = []
    out.append("# protloc training dataset: datasheet\n")
    out.append("Written by `protloc data build`. Every number below is computed from the build outputs "
               "(`dataset.tsv`, `removed.tsv`); the same inputs and options give a byte-identical datasheet.\n")
    out.append("## Summary\n")
    out.append(f"- proteins: **{len(ds):,}** in {len(parts)} homology partitions "
               f"(DeepLocPro benchmark proteins: {int(ds['in_benchmark'].sum()):,})")
    out.append(f"- sources used: {', '.join(info['sources'])}")
    out.append(f"- homology threshold: {info['threshold']:.0%} identity (definition below)")
    chk = info["check"]
    out.append(f"- cross-partition check: **{'PASSED' if chk['passed'] else 'FAILED'}** - searching each "
               f"partition against all other partitions leaves {chk['violations']} pair(s) at "
               f">= {info['threshold']:.0%} identity in different partitions "
               f"(plus {chk['exempt']} exempt benchmark-benchmark pair(s), see below)")
    out.append(f"- candidate proteins after deduplication and length policy: {info['n_candidates']:,}; "
               f"removed as linkers by partitioning: {info['n_partition_removed']:,}, "
               f"by the check: {chk.get('removed', 0):,}")
    out.append(f"- dataset.tsv sha256: `{info['dataset_sha256']}`\n")

    out.append("## Class x partition\n")
    out.append(_crosstab(ds, "label", "partition", list(CLASSES), parts) + "\n")
    out.append("## Source x class\n")
    srcs = [s for s in info["sources"] if s in set(ds["source"])]
    out.append(_crosstab(ds, "source", "label", srcs, list(CLASSES)) + "\n")
    out.append("`source` is the strongest source that labels the protein. Proteins that weaker "
               "sources also list carry `also=` in `flags`; an ablation can select on either.\n")
    out.append("## Source x partition\n")
    out.append(_crosstab(ds, "source", "partition", srcs, parts) + "\n")
    out.append("## Organism group x class\n")
    out.append(_crosstab(ds, "group", "label", [g for g in GROUPS if g in set(ds["group"])], list(CLASSES)) + "\n")
    n_species = int(ds["flags"].str.contains("group_from_species").sum())
    out.append(f"{n_species:,} groups come from a LocTree3 species mnemonic (`group_from_species`).\n")
    out.append("## Group x partition\n")
    out.append(_crosstab(ds, "group", "partition", [g for g in GROUPS if g in set(ds["group"])], parts) + "\n")

    out.append("## How proteins got their partition\n")
    hows = Counter(ds["partition_how"]) if "partition_how" in ds else Counter()
    out.append(_table(["how", "proteins"], [[k, f"{v:,}"] for k, v in sorted(hows.items())]) + "\n")
    out.append("`anchor`: DeepLocPro's GraphPart partition (benchmark proteins, DeepLocPro accessions); "
               "`homology`: joined the partition of its homologs; `greedy`: a cluster without "
               "anchored homologs, placed for class balance.\n")

    out.append("## Lengths\n")
    rows = []
    for name, sub in [("all", ds)] + [(c, ds[ds["label"] == c]) for c in CLASSES]:
        ln = sub["sequence"].str.len()
        if len(ln):
            rows.append([name, f"{len(ln):,}", int(ln.min()), int(ln.quantile(0.25)), int(ln.median()),
                         f"{ln.mean():.1f}", int(ln.quantile(0.75)), int(ln.max())])
    out.append(_table(["subset", "n", "min", "q25", "median", "mean", "q75", "max"], rows) + "\n")
    out.append(f"Total residues: {int(lens.sum()):,}.\n")

    out.append("## Proteins through the build\n")
    out.append(_table(["stage", "proteins"], [[k, f"{v:,}"] for k, v in info.get("stages", [])]) + "\n")
    if chk.get("first_pairs") is not None:
        out.append(f"The check search found {chk['first_pairs']:,} cross-partition pair(s) at >= "
                   f"{info['threshold']:.0%} among {chk.get('first_proteins', 0):,} protein(s) (homologies of "
                   f"cluster members that the partitioning graph does not search); removing "
                   f"{chk.get('removed', 0):,} of them (`check_linker`) left none.\n")
    out.append("## Removals (`removed.tsv`)\n")
    rc = Counter(zip(removed["reason"], removed["source"]))
    reasons = sorted({r for r, _ in rc})
    rsrc = [s for s in info["sources"] if s in set(removed["source"])]
    body = []
    for r in reasons:
        vals = [rc.get((r, s), 0) for s in rsrc]
        body.append([r, *[f"{v:,}" for v in vals], f"{sum(vals):,}"])
    out.append(_table(["reason", *rsrc, "total"], body) + "\n")
    out.append("One row per dropped source entry. `duplicate_sequence` and "
               "`overridden_by_stronger_source` entries are merged into a kept protein "
               "(or into one dropped for another reason), not lost sequences; "
               "`partition_linker` proteins were homologous to proteins of two partitions; "
               "`check_linker` ones were found by the final check search.\n")

    out.append("## Policies\n")
    out.append(info["policy"])
    out.append("## Homology partitioning\n")
    out.append(info["identity"])
    if info.get("exempt_pairs"):
        out.append(f"\n**Exempt pairs.** {len(info['exempt_pairs'])} pair(s) of DeepLocPro benchmark "
                   "proteins in different DeepLocPro partitions reach the threshold under this stricter "
                   "definition (GraphPart's global identity kept them apart). Benchmark proteins must keep "
                   "their partitions, so these pairs are reported, not removed:\n")
        out.append(_table(["a", "b", "identity"], [[a, b, f"{w:.3f}"] for a, b, w in info["exempt_pairs"]]) + "\n")
    out.append("## Inputs\n")
    if info.get("psortb_note"):
        out.append(f"PSORTb database: {info['psortb_note']}.\n")
    out.append(_table(["file", "sha256"], [[n, f"`{h}`"] for n, h in info["source_files"]]) + "\n")
    return "\n".join(out) + "\n"
