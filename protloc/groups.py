"""The organism group of each record in a batch, and predictions made per group.

A record's group comes from ``group=NAME`` in its FASTA header (any spelling
:func:`protloc.classes.canonical_group` knows: ``negative``, ``gram-positive``, ``archaea``,
``any`` …), else from the batch's default. A CSV/TSV table with columns ``id``, ``sequence`` and
optionally ``group`` is turned into the same FASTA text, so both inputs take one path.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Sequence

from .classes import canonical_group
from .errors import UserError
from .sequences import SequenceRecord

_GROUP_FIELD = re.compile(r"(?:^|\s)group=(\S*)", re.IGNORECASE)
#: Column names accepted for each field of a table (compared lower-cased).
TABLE_COLUMNS = {
    "id": ("id", "name", "accession", "protein"),
    "sequence": ("sequence", "seq", "aa_sequence"),
    "group": ("group", "organism_group", "gram"),
}


def header_group(description: str) -> str | None:
    """The group named by ``group=`` in a FASTA description, or None when there is none.
    Raises ValueError, saying what is accepted, for a name it does not know."""
    match = _GROUP_FIELD.search(description or "")
    return None if match is None else canonical_group(match.group(1))


def record_groups(
    records: Sequence[SequenceRecord], default: str
) -> tuple[list[str], list[str]]:
    """(group per record, problems): a record naming an unknown group gets ``default`` and a
    problem saying so."""
    default = canonical_group(default)
    groups, problems = [], []
    for record in records:
        try:
            group = header_group(record.description)
        except ValueError as exc:
            problems.append(f"{record.id} (record {record.index + 1}): {exc} Used {default}.")
            group = None
        groups.append(group or default)
    return groups, problems


def predict_by_group(predictor, records, groups, attention=False, progress=None) -> list:
    """``predictor.predict`` once per group over that group's records; results in input order.
    ``progress(done, total)`` counts predictable records over all groups."""
    results: list = [None] * len(records)
    total = sum(r.ok for r in records)
    done = 0
    for group in dict.fromkeys(groups):
        indices = [i for i, g in enumerate(groups) if g == group]
        part = [records[i] for i in indices]
        offset = done

        def report(n: int, _total: int, offset=offset) -> None:
            if progress:
                progress(offset + n, total)

        for i, pred in zip(indices, predictor.predict(part, group, attention, report)):
            results[i] = pred
        done += sum(r.ok for r in part)
    return results


def looks_like_table(text: str) -> bool:
    """True when the first line is a CSV/TSV header naming an id and a sequence column."""
    first = text.lstrip().split("\n", 1)[0].strip().lower()
    if first.startswith(">") or ("," not in first and "\t" not in first):
        return False
    cells = [c.strip() for c in re.split(r"[,\t]", first)]
    return any(c in TABLE_COLUMNS["sequence"] for c in cells)


def table_to_fasta(text: str) -> str:
    """A CSV/TSV table (``id``, ``sequence``, optional ``group``) as FASTA text, the group
    written as ``group=`` in each header. Raises UserError for a table it cannot use."""
    dialect = "excel-tab" if "\t" in text.split("\n", 1)[0] else "excel"
    rows = list(csv.reader(io.StringIO(text), dialect))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    where = {
        field: next((header.index(n) for n in names if n in header), None)
        for field, names in TABLE_COLUMNS.items()
    }
    if where["sequence"] is None:
        raise UserError("The table has no 'sequence' column (columns: id, sequence, group).")
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda field: (  # noqa: E731
            row[where[field]].strip() if where[field] is not None and where[field] < len(row) else ""
        )
        name = re.sub(r"\s+", "_", cell("id")) or f"row_{number}"
        group = re.sub(r"\s+", "", cell("group"))
        lines.append(f">{name}" + (f" group={group}" if group else ""))
        lines.append(cell("sequence"))
    if not lines:
        raise UserError("The table holds a header but no rows.")
    return "\n".join(lines) + "\n"
