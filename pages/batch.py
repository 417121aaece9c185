"""Batch page: a FASTA file in, a filterable table of predictions out; bad records listed."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from pages.common import (
    BATCH,
    Result,
    clear,
    downloads,
    load_predictor,
    no_model_message,
    plain,
    plot,
    selected_model,
    store,
    stored,
)
from pages import settings
from protloc.classes import CLASSES, GROUP_NAMES
from protloc.errors import UserError
from protloc.figures import class_count_bars
from protloc.groups import looks_like_table, predict_by_group, record_groups, table_to_fasta
from protloc.output import PROB_COLUMNS, csv_text
from protloc.sequences import (
    MAX_LENGTH,
    MAX_RECORDS,
    MAX_TOTAL_RESIDUES,
    MIN_LENGTH,
    parse_bytes,
    parse_text,
)
from protloc.trust import class_reliability

PARSED = "batch_parsed"

st.title("Batch prediction")
st.markdown(
    f"Upload a FASTA file (plain text or `.gz`, **up to {settings.MAX_UPLOAD_MB} MB**) or a CSV/TSV "
    "table (columns `id`, `sequence`, optional `group`), or paste either. Each record's organism "
    "group: `group=negative` (or `positive`, `archaea`, `any`) in its FASTA header, the table's "
    "`group` column, else the batch default below. "
    f"The app predicts **up to {settings.APP_BATCH_LIMIT:,} sequences per batch** (the command line "
    f"`protloc predict` takes up to {MAX_RECORDS:,}) of {MIN_LENGTH}–{MAX_LENGTH:,} residues "
    f"each, at most {MAX_TOTAL_RESIDUES:,} residues in all. Every record is checked first; "
    "records that cannot be predicted are listed with the reason and kept in the downloads, "
    "never dropped."
)

model = selected_model()
if model is None:
    no_model_message()
    st.stop()

tab_file, tab_paste = st.tabs(["Upload a FASTA file", "Paste FASTA"])
with tab_file:
    upload = st.file_uploader(
        "FASTA file",
        type=list(settings.FASTA_UPLOAD_TYPES),
        key="batch_file",
        help=f"At most {settings.MAX_UPLOAD_MB} MB; gzip-compressed files are fine.",
    )
with tab_paste:
    pasted = st.text_area(
        "FASTA text",
        key="batch_text",
        height=160,
        placeholder=">protein_1\nMKKTAIAIAV…\n>protein_2\nMSTNPKPQR…",
    )

group = st.selectbox(
    "Organism group for records that do not name one",
    list(GROUP_NAMES),
    index=list(GROUP_NAMES).index("unknown"),
    format_func=GROUP_NAMES.get,
    key="batch_group",
)

if upload is not None:
    data, name = upload.getvalue(), upload.name
elif pasted.strip():
    data, name = pasted.encode("utf-8"), "pasted text"
else:
    data, name = b"", ""
if upload is not None and not data.strip():
    st.error(f"The uploaded file {plain(name)} is empty ({len(data):,} bytes): there is nothing "
             "to predict. Choose a FASTA file or a table with sequences.", icon=":material/error:")
elif upload is None and pasted and not pasted.strip():
    st.error("The pasted text holds only spaces or blank lines: there is nothing to predict.",
             icon=":material/error:")


def read_records(data: bytes, name: str) -> list:
    """FASTA (plain or gzip) or a CSV/TSV table with id, sequence and group columns."""
    if upload is not None:
        settings.check_upload_name(name, settings.FASTA_UPLOAD_TYPES)
    is_table = name.lower().endswith((".csv", ".tsv"))
    if not is_table and not data.startswith(b"\x1f\x8b"):
        head = data[:4096].decode("utf-8", "ignore")
        is_table = looks_like_table(head)
    if not is_table:
        return parse_bytes(data, name=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name} is not UTF-8 text: a table must be plain CSV or TSV.") from exc
    return parse_text(table_to_fasta(text))


records = None
if data.strip():
    signature = hashlib.sha1(data).hexdigest() + name
    parsed = st.session_state.get(PARSED)
    if not parsed or parsed[0] != signature:
        try:
            parsed = (signature, read_records(data, name), None)
        except UserError as exc:
            parsed = (signature, None, str(exc))
        st.session_state[PARSED] = parsed
    _, records, problem = parsed
    if problem:
        st.error(f"{plain(name)} cannot be read:", icon=":material/error:")
        st.text(problem)
        records = None

if records is not None:
    n_error = sum(r.status == "error" for r in records)
    n_warn = sum(r.status == "warning" for r in records)
    st.markdown(
        f"**{plain(name)}**: {len(records):,} records — {len(records) - n_error - n_warn:,} fine, "
        f"{n_warn:,} cleaned up or flagged (warning), **{n_error:,} cannot be predicted** (error)."
    )
    if len(records) > settings.APP_BATCH_LIMIT:
        st.error(
            f"This input holds {len(records):,} sequences; the app predicts at most "
            f"{settings.APP_BATCH_LIMIT:,} per batch. Split the file, or use the command line: "
            "`protloc predict -f FILE -o results/`.",
            icon=":material/error:",
        )
        records = None
    else:
        flagged = [r for r in records if r.status != "ok"]
        if flagged:
            with st.expander(
                f"Validation messages for {len(flagged):,} record(s)", expanded=n_error > 0
            ):
                for r in flagged:
                    text = f"**{plain(r.id)}** (record {r.index + 1}): " + plain(" ".join(r.messages))
                    (st.error if r.status == "error" else st.warning)(text)

groups: list[str] = []
if records is not None:
    groups, group_problems = record_groups(records, group)
    for problem in group_problems:
        st.warning(plain(problem), icon=":material/warning:")
    named = {g: groups.count(g) for g in dict.fromkeys(groups)}
    st.caption("Organism groups: " + ", ".join(f"{GROUP_NAMES[g]} {n:,}" for g, n in named.items()))

if records is not None:
    to_predict = sum(r.ok for r in records)
    clicked = st.button(
        f"Predict {to_predict:,} sequence(s)",
        type="primary",
        disabled=to_predict == 0,
        key="batch_predict",
    )
    if to_predict == 0:
        st.error(
            "None of the records can be predicted; see the messages above.", icon=":material/error:"
        )
    if clicked:
        bar = st.progress(0.0, text="Loading the model…")
        try:
            predictor = load_predictor(model)
            bar.progress(0.0, text=f"0 of {to_predict:,} sequences predicted")

            def progress(done: int, total: int) -> None:
                bar.progress(
                    done / max(total, 1), text=f"{done:,} of {total:,} sequences predicted"
                )

            predictions = predict_by_group(predictor, records, groups, attention=True,
                                           progress=progress)
        except UserError as exc:
            st.error("The model could not run:", icon=":material/error:")
            st.text(str(exc))
        except Exception as exc:  # never a traceback
            st.error("The prediction failed unexpectedly:", icon=":material/error:")
            st.text(f"{type(exc).__name__}: {exc}")
        else:
            failed = len(records) - to_predict
            bar.progress(1.0, text=f"Done: {to_predict:,} of {len(records):,} records predicted"
                         + (f"; {failed:,} could not be (listed below, with why)" if failed else ""))
            store(BATCH, Result(list(records), predictions, model.name, group, name, groups=groups,
                                model_id=predictor.name))

result = stored(BATCH)
if result is None:
    st.stop()

st.divider()
st.header("Results")
st.caption("Results for: " + plain(result.label()))
st.button("Clear results", key="clear_batch", on_click=clear, args=(BATCH,))


def full_table() -> pd.DataFrame:
    table = result.table().copy()
    table.insert(1, "Status", [r.status for r in result.records])
    table.insert(2, "Length", [len(r.sequence) if r.ok else None for r in result.records])
    table.insert(0, "#", range(1, len(table) + 1))
    table["HeldoutRight"] = heldout_right(table)
    return table


def heldout_right(table: pd.DataFrame) -> list[float | None]:
    """Per record: how often the set's held-out calls of its class, nearest its confidence,
    were right (protloc.trust.class_reliability); empty for errors or another set's result."""
    if result.model != model.name:
        return [None] * len(table)
    found = [
        class_reliability(model, loc, conf) if isinstance(loc, str) else None
        for loc, conf in zip(table["Localization"], table["Confidence"])
    ]
    return [None if r is None else r.accuracy for r in found]


table = result.memo("full_table", full_table)
errors = table[table["Status"] == "error"]
m1, m2, m3 = st.columns(3)
m1.metric("Predicted", f"{int((table['Status'] != 'error').sum()):,}")
m2.metric("With warnings", f"{int((table['Warnings'].fillna('') != '').sum()):,}")
m3.metric("Not predicted (errors)", f"{len(errors):,}")

chart_col, filter_col = st.columns([3, 2], gap="large")
with chart_col:
    plot(
        result.memo(
            "counts",
            lambda: class_count_bars(
                table["Localization"].where(table["Localization"].notna(), None).tolist()
            ),
        ),
        key="batch_counts",
        name=("predicted_classes", result.source),
    )
with filter_col:
    st.markdown("**Filter and sort the table**")
    classes = st.multiselect(
        "Predicted class", list(CLASSES), default=list(CLASSES), key="batch_classes"
    )
    min_conf = st.slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05, key="batch_min_conf")
    only_flagged = st.checkbox("Only records with warnings or errors", key="batch_flagged")
    sort = st.selectbox(
        "Sort by",
        [
            "input order",
            "confidence (high first)",
            "confidence (low first)",
            "fold spread (high first)",
            "class",
            "ID",
        ],
        key="batch_sort",
    )

view = table
keep = view["Localization"].isin(classes) & (view["Confidence"].fillna(0) >= min_conf)
if len(classes) == len(CLASSES) and min_conf == 0:
    keep |= view["Status"] == "error"  # errors have no class: shown unless filtered by class
if only_flagged:
    keep &= (view["Status"] != "ok") | (view["Warnings"].fillna("") != "")
view = view[keep]
order = {
    "confidence (high first)": ("Confidence", False),
    "confidence (low first)": ("Confidence", True),
    "fold spread (high first)": ("FoldSpread", False),
    "class": ("Localization", True),
    "ID": ("ID", True),
}
if sort in order:
    column, ascending = order[sort]
    view = view.sort_values(column, ascending=ascending, na_position="last", kind="stable")

st.markdown(
    f"Showing **{len(view):,}** of {len(table):,} records (click a column header to sort too)."
)
st.dataframe(
    view,
    hide_index=True,
    key="batch_table",
    column_order=[
        "#",
        "ID",
        "Status",
        "Localization",
        "Confidence",
        "HeldoutRight",
        "FoldSpread",
        "Length",
        "Warnings",
        "Error",
        "Group",
        "Model",
        *PROB_COLUMNS,
    ],
    column_config={
        "Confidence": st.column_config.ProgressColumn(
            "Confidence", min_value=0.0, max_value=1.0, format="percent"
        ),
        "HeldoutRight": st.column_config.NumberColumn(
            "Held-out right", format="percent",
            help="Of this model's 100 held-out calls of the same class nearest this confidence "
                 "(all of them for a rarer class), the share that were right: a class's calls "
                 "can be right more or less often than the confidence says.",
        ),
        "FoldSpread": st.column_config.NumberColumn("Fold spread", format="%.3f"),
        "Warnings": st.column_config.TextColumn("Warnings", width="large"),
        "Error": st.column_config.TextColumn("Error", width="large"),
    },
)
if len(errors):
    with st.expander(f"{len(errors):,} record(s) not predicted, and why", expanded=True):
        for _, row in errors.iterrows():
            st.error(f"**{plain(row['ID'])}** (record {row['#']}) could not be predicted:",
                     icon=":material/error:")
            st.text(row["Error"])

st.markdown("#### Downloads")
downloads(
    result,
    lambda: [
        (
            "Predicted classes",
            class_count_bars(
                table["Localization"].where(table["Localization"].notna(), None).tolist()
            ),
        )
    ],
    "protloc_batch",
    key="batch",
)
st.download_button(
    "Filtered table (CSV)",
    csv_text(view.drop(columns=["#"])),
    "protloc_batch_filtered.csv",
    "text/csv",
    key="batch_filtered_csv",
    icon=":material/download:",
)
st.page_link(
    "pages/explorer.py",
    label="Explore the attention of any protein in this batch",
    icon=":material/insights:",
)
