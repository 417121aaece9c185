"""Parsers for every data source of the training set.

Each parser turns one source's text into :class:`Entry` records: one record per protein entry
of the source, with its raw label, the canonical label (or why there is none), the organism
group where the source states it, and the UniProt accession where the source gives one.
Parsers take text (so tests can use small inline fixtures); ``load_*`` functions read the files
of a data folder laid out like ``$PROTLOC_DATA``. Label spellings are mapped only through
:func:`protloc.classes.canonical_label`.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..classes import canonical_label
from ..errors import UserError

# --- source names and evidence priority (lower = stronger evidence) -----------------------

BENCHMARK = "deeplocpro_benchmark"
GNEG_MPLOC = "gneg_mploc"
GPOS_MPLOC = "gpos_mploc"
PSORTB = "psortb"
LOCTREE3 = "loctree3"
DEEPSECE = "deepsece"

#: All sources, strongest evidence first. Label conflicts are settled by this priority.
SOURCES: tuple[str, ...] = (BENCHMARK, GNEG_MPLOC, GPOS_MPLOC, PSORTB, LOCTREE3, DEEPSECE)

#: Evidence tier per source (equal tiers are peers: their disagreements drop the protein).
PRIORITY: dict[str, int] = {
    BENCHMARK: 0,  # DeepLocPro curation (experimental Swiss-Prot annotation, post-2010)
    GNEG_MPLOC: 1,  # Gneg-/Gpos-mPLoc: Swiss-Prot entries with experimental annotation (2008-10)
    GPOS_MPLOC: 1,
    PSORTB: 2,  # PSORTb 3.0 SCL-BLAST DB: experimentally localized, but pooled across groups
    LOCTREE3: 3,  # LocTree3 Swiss-Prot 2013_11 set: mostly IEA-derived labels
    DEEPSECE: 4,  # secreted effectors: "Extracellular" by secretion-system type, not by assay
}

#: Names accepted by ``--sources``; aliases expand to several sources.
SOURCE_ALIASES: dict[str, tuple[str, ...]] = {
    "deeplocpro": (BENCHMARK,),
    "benchmark": (BENCHMARK,),
    "mploc": (GNEG_MPLOC, GPOS_MPLOC),
    "all": SOURCES,
    **{s: (s,) for s in SOURCES},
}

# Entry statuses
OK = "ok"  # one mappable label
MULTI = "multi_label"  # several locations (dual label): never mapped
UNMAPPED = "unmapped_label"  # a localization outside the 6 classes (fimbrium, flagellum)
NOT_LOCALIZATION = "not_localization"  # the label is no localization at all (DeepSecE Non-effector)

_UNIPROT_ACC = re.compile(
    r"^(?:[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})$"
)


def is_uniprot_accession(text: str) -> bool:
    return bool(_UNIPROT_ACC.match(text))


def resolve_sources(names: Iterable[str] | None) -> tuple[str, ...]:
    """Expand ``--sources`` names and aliases into source names, in :data:`SOURCES` order."""
    if not names:
        return SOURCES
    chosen: set[str] = set()
    for raw in names:
        for name in re.split(r"[,\s]+", raw.strip()):
            if not name:
                continue
            key = name.lower()
            if key not in SOURCE_ALIASES:
                raise UserError(
                    f"unknown source {name!r}: choose from {', '.join(sorted(SOURCE_ALIASES))}."
                )
            chosen.update(SOURCE_ALIASES[key])
    return tuple(s for s in SOURCES if s in chosen)


@dataclass
class Entry:
    """One protein entry of one source."""

    source: str
    source_id: str
    sequence: str  # upper-case letters only (non-letters such as '^' or '*' removed)
    raw_label: str
    label: str | None  # canonical class, None unless status == OK
    status: str = OK
    group: str = "unknown"  # negative | positive | archaea | unknown, as the source states it
    accession: str | None = None  # UniProt accession, where the source gives one
    flags: tuple[str, ...] = ()
    detail: str = ""  # why the label is not usable (for the removal log)
    extra: dict = field(default_factory=dict)  # source-specific (e.g. LocTree species mnemonic)

    @property
    def priority(self) -> int:
        return PRIORITY[self.source]


def clean_sequence(raw: str) -> str:
    """Upper-case and keep letters only (drops whitespace, '*', '-', '^' and similar artefacts)."""
    return re.sub(r"[^A-Z]", "", raw.upper())


def iter_fasta(text: str) -> Iterator[tuple[str, str]]:
    """(header without '>', raw sequence) pairs from FASTA text with any line wrapping."""
    header: str | None = None
    chunks: list[str] = []
    for line in text.splitlines():
        if line.startswith(">"):
            if header is not None:
                yield header, "".join(chunks)
            header, chunks = line[1:].rstrip("\r\n"), []
        elif header is not None:
            chunks.append(line.strip())
    if header is not None:
        yield header, "".join(chunks)


def _label_entry(source: str, source_id: str, seq: str, raw_label: str, **kw) -> Entry:
    """An Entry whose status follows from mapping ``raw_label`` (multi-labels are never mapped)."""
    if "," in raw_label or ";" in raw_label:
        return Entry(source, source_id, seq, raw_label, None, MULTI,
                     detail=f"several locations: {raw_label}", **kw)
    label = canonical_label(raw_label)
    if label is None:
        return Entry(source, source_id, seq, raw_label, None, UNMAPPED,
                     detail=f"location {raw_label!r} is not one of the 6 classes", **kw)
    return Entry(source, source_id, seq, raw_label, label, OK, **kw)


# --- DeepLocPro benchmark -------------------------------------------------------------------


def parse_benchmark(text: str) -> list[Entry]:
    """``>ACC|Location|group`` (DeepLocPro's benchmarking_dataset.fasta)."""
    from ..reference import parse_benchmark_fasta

    return [
        Entry(BENCHMARK, p.accession, clean_sequence(p.sequence), p.raw_label, p.label, OK,
              group=p.group, accession=p.accession)
        for p in parse_benchmark_fasta(text)
    ]


# --- Gneg-mPLoc / Gpos-mPLoc ----------------------------------------------------------------


def _merge_multilocated(entries: list[Entry], source: str) -> list[Entry]:
    """mPLoc lists a multi-located protein once per location: merge them into one MULTI entry."""
    by_acc: dict[str, list[Entry]] = {}
    for e in entries:
        by_acc.setdefault(e.source_id, []).append(e)
    out = []
    for acc, group in by_acc.items():
        raw = sorted({e.raw_label for e in group})
        seqs = {e.sequence for e in group}
        first = group[0]
        if len(seqs) > 1:
            raise ValueError(f"{source}: accession {acc} has several different sequences")
        if len(raw) == 1:
            out.append(first)
        else:
            out.append(Entry(source, acc, first.sequence, ",".join(raw), None, MULTI,
                             group=first.group, accession=first.accession,
                             detail=f"multi-located in {source}: {'; '.join(raw)}"))
    return out


def parse_gneg_mploc(fasta_text: str, labels_tsv: str) -> list[Entry]:
    """Gneg-mPLoc: label-less FASTA (``>ACC``) plus the derived per-record label table.

    The table (``record_index, accession, gneg_mploc_location_inferred_from_block_order, ...``)
    must list the FASTA records in order; accessions are checked against the FASTA.
    """
    records = list(iter_fasta(fasta_text))
    rows = list(csv.DictReader(io.StringIO(labels_tsv), delimiter="\t"))
    if len(rows) != len(records):
        raise ValueError(f"gneg_mploc: {len(records)} FASTA records but {len(rows)} label rows")
    entries = []
    for row in rows:
        i = int(row["record_index"])
        header, seq = records[i]
        acc = header.split()[0]
        if acc != row["accession"]:
            raise ValueError(f"gneg_mploc: record {i} is {acc} in the FASTA, {row['accession']} in the labels")
        raw = row["gneg_mploc_location_inferred_from_block_order"].strip()
        entries.append(_label_entry(GNEG_MPLOC, acc, clean_sequence(seq), raw,
                                    group="negative", accession=acc))
    return _merge_multilocated(entries, GNEG_MPLOC)


_GPOS_CLASSES = {"1": "Cell membrane", "2": "Cell wall", "3": "Cytoplasm", "4": "Extracellular"}


def parse_gpos_mploc(csv_text: str) -> list[Entry]:
    """Gpos-mPLoc: ``class(1-4),Fold<class>,>ACC,SEQUENCE`` without a header line."""
    entries = []
    for row in csv.reader(io.StringIO(csv_text)):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 4:
            raise ValueError(f"gpos_mploc: expected 4 columns, got {len(row)}: {row[:3]}")
        cls, _fold, acc, seq = (x.strip() for x in row)
        acc = acc.lstrip(">").strip()
        if cls not in _GPOS_CLASSES:
            raise ValueError(f"gpos_mploc: unknown class {cls!r} for {acc}")
        entries.append(_label_entry(GPOS_MPLOC, acc, clean_sequence(seq), _GPOS_CLASSES[cls],
                                    group="positive", accession=acc))
    return _merge_multilocated(entries, GPOS_MPLOC)


# --- PSORTb 3.0 SCL-BLAST databases -----------------------------------------------------------

#: The four PSORTb FASTA files, relative to the ``sclblast`` folder, in a fixed order.
PSORTB_FILES: tuple[str, ...] = (
    "gramneg/sclblast",
    "grampos/sclblast",
    "archaea/sclblast",
    "archaea/sclblast+swissprot+some_manual",
)
#: Only these labels imply an organism group in PSORTb (the files pool groups otherwise).
PSORTB_GROUP_BY_LABEL = {"Outer membrane": "negative", "Periplasmic": "negative"}

_PSORTB_HEADER = re.compile(r"^\s*(?P<id>[^\s\[]+)\s*\[(?P<loc>[^\]]*)\](?:\s*\[(?P<sub>[^\]]*)\])?\s*(?P<rest>.*)$")


def parse_psortb(text: str, file_name: str) -> list[Entry]:
    """``>ID [Localization] [optional sub-location] description``.

    Sub-locations are also written ``[Cytoplasmic\\GasVesicle]``. Dual labels (``A,B``) are kept
    as MULTI entries. Group: negative for Outer membrane / Periplasmic, else unknown (the file a
    protein sits in does not tell its group; see SOURCE.md).
    """
    out = []
    for header, seq in iter_fasta(text):
        m = _PSORTB_HEADER.match(header)
        if not m:
            raise ValueError(f"psortb {file_name}: cannot parse header {header[:80]!r}")
        pid = m.group("id").strip()
        loc = m.group("loc").strip()
        subs = []
        if "\\" in loc:
            loc, sub = loc.split("\\", 1)
            subs.append(sub.strip())
        if m.group("sub"):
            subs.append(m.group("sub").strip())
        flags = [f"psortb_file={file_name.split('/')[0]}"]
        flags += [f"sublocation={s}" for s in subs if s and s != loc]
        acc = pid if is_uniprot_accession(pid) else None
        e = _label_entry(PSORTB, pid, clean_sequence(seq), loc, accession=acc, flags=tuple(flags))
        if e.label is not None:
            e.group = PSORTB_GROUP_BY_LABEL.get(e.label, "unknown")
        out.append(e)
    return out


# --- LocTree3 Swiss-Prot 2013_11 ----------------------------------------------------------------

_EXPERIMENTAL_GO = {"EXP", "IDA", "IPI", "IMP", "IGI", "IEP"}


def parse_loctree3(text: str, kingdom: str) -> list[Entry]:
    """``>ENTRY_NAME#class#GO terms (evidence)``; kingdom 'bact' or 'arch' (the file)."""
    if kingdom not in ("bact", "arch"):
        raise ValueError(f"loctree3 kingdom must be bact or arch, not {kingdom!r}")
    out = []
    for header, seq in iter_fasta(text):
        parts = header.split("#")
        if len(parts) < 2:
            raise ValueError(f"loctree3: cannot parse header {header[:80]!r}")
        name, raw = parts[0].strip(), parts[1].strip()
        go = parts[2] if len(parts) > 2 else ""
        codes = set(re.findall(r"\(([A-Z]{2,3})\)", go))
        evidence = "experimental" if codes & _EXPERIMENTAL_GO else "non_experimental"
        e = _label_entry(LOCTREE3, name, clean_sequence(seq), raw,
                         group="archaea" if kingdom == "arch" else "unknown",
                         flags=(f"go_evidence={evidence}",))
        e.extra["species"] = name.rsplit("_", 1)[1] if "_" in name else ""
        out.append(e)
    return out


# --- DeepSecE secreted effectors ----------------------------------------------------------------

_DEEPSECE_TYPES = {"T1SE", "T2SE", "T3SE", "T4SE", "T6SE"}


def parse_deepsece(text: str, split: str) -> list[Entry]:
    """``>T3SE-12`` / ``>Non-effector-7``: effectors are Extracellular (Gram-negative secretion
    systems; DeepLocPro also maps host locations to Extracellular); non-effectors carry no
    localization and are kept as NOT_LOCALIZATION entries."""
    out = []
    for header, seq in iter_fasta(text):
        name = header.split()[0]
        kind = name.rsplit("-", 1)[0]
        sid = f"{split}:{name}"
        if kind in _DEEPSECE_TYPES:
            out.append(Entry(DEEPSECE, sid, clean_sequence(seq), kind, "Extracellular", OK,
                             group="negative", flags=(f"effector={kind}",)))
        elif kind.lower().startswith("non-effector"):
            out.append(Entry(DEEPSECE, sid, clean_sequence(seq), kind, None, NOT_LOCALIZATION,
                             group="negative",
                             detail="DeepSecE non-effector: not a localization label"))
        else:
            raise ValueError(f"deepsece: unknown record type {name!r}")
    return out


# --- loading from a data folder -----------------------------------------------------------------


@dataclass
class LoadedSource:
    name: str
    entries: list[Entry]
    files: list[tuple[str, Path]]  # (label shown in the datasheet, path) of every file read
    note: str = ""


def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise UserError(f"{what} not found at {str(path)!r} (is --data-dir / PROTLOC_DATA right?).")
    return path


def load_benchmark_source(data_dir: Path) -> LoadedSource:
    p = _need(data_dir / "deeplocpro" / "benchmarking_dataset.fasta", "DeepLocPro benchmark FASTA")
    return LoadedSource(BENCHMARK, parse_benchmark(p.read_text()), [("deeplocpro/benchmarking_dataset.fasta", p)])


def load_gneg_mploc(data_dir: Path) -> LoadedSource:
    d = data_dir / "extra" / "gneg_mploc_mpsmvrbrl"
    fa = _need(d / "Gram-negative", "Gneg-mPLoc FASTA")
    tsv = _need(d / "Gram-negative.labels.tsv", "Gneg-mPLoc label table")
    return LoadedSource(GNEG_MPLOC, parse_gneg_mploc(fa.read_text(), tsv.read_text()),
                        [("extra/gneg_mploc_mpsmvrbrl/Gram-negative", fa),
                         ("extra/gneg_mploc_mpsmvrbrl/Gram-negative.labels.tsv", tsv)])


def load_gpos_mploc(data_dir: Path) -> LoadedSource:
    p = _need(data_dir / "extra" / "gpos_mploc_ruchapatil" / "g_data.csv", "Gpos-mPLoc CSV")
    return LoadedSource(GPOS_MPLOC, parse_gpos_mploc(p.read_text()),
                        [("extra/gpos_mploc_ruchapatil/g_data.csv", p)])


def _psortb_dir_from_deb(deb: Path, cache_dir: Path) -> Path:
    """Extract a psortb .deb (``dpkg-deb -x``) into the cache; return its sclblast folder."""
    import hashlib

    if shutil.which("dpkg-deb") is None:
        raise UserError("dpkg-deb is needed to unpack the psortb package (apt-get install dpkg).")
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()[:16]
    target = cache_dir / f"psortb-deb-{digest}"
    sclblast = target / "usr" / "lib" / "psort" / "conf" / "analysis" / "sclblast"
    if not sclblast.is_dir():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix="psortb-extract-"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True, capture_output=True)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    if not sclblast.is_dir():
        raise UserError(f"{deb} holds no usr/lib/psort/conf/analysis/sclblast folder.")
    return sclblast


def fetch_psortb_deb(cache_dir: Path) -> Path:
    """``apt-get download psortb`` into the cache (Debian/Ubuntu only); returns the .deb path."""
    debs = sorted(cache_dir.glob("psortb_*.deb"))
    if debs:
        return debs[-1]
    if shutil.which("apt-get") is None:
        raise UserError(
            "PSORTb database not found and apt-get is unavailable: put the sclblast files in "
            "DATA/extra/psortb_sclblast/ or pass --psortb-deb path/to/psortb_*.deb."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["apt-get", "download", "psortb"], cwd=cache_dir, capture_output=True,
                         text=True, check=False)
    debs = sorted(cache_dir.glob("psortb_*.deb"))
    if res.returncode != 0 or not debs:
        raise UserError(
            "could not obtain the PSORTb database with 'apt-get download psortb' "
            f"({(res.stderr or res.stdout).strip().splitlines()[-1:] or ['no output']}); "
            "pass --psortb-deb or put the files in DATA/extra/psortb_sclblast/."
        )
    return debs[-1]


def locate_psortb(data_dir: Path, cache_dir: Path, deb: Path | None = None,
                  fetch: bool = True) -> tuple[Path, str]:
    """The PSORTb sclblast folder and a note on where it came from.

    Order: ``--psortb-deb`` if given; else ``DATA/extra/psortb_sclblast/``; else (when ``fetch``)
    the Debian package ``psortb`` via ``apt-get download``.
    """
    if deb is not None:
        if not Path(deb).is_file():
            raise UserError(f"--psortb-deb {str(deb)!r} is not a file.")
        return _psortb_dir_from_deb(Path(deb), cache_dir), f"extracted from {Path(deb).name}"
    local = data_dir / "extra" / "psortb_sclblast"
    if local.is_dir():
        return local, "extra/psortb_sclblast/"
    if not fetch:
        raise UserError(f"PSORTb database not found at {str(local)!r}; pass --psortb-deb or allow fetching.")
    deb_path = fetch_psortb_deb(cache_dir)
    return _psortb_dir_from_deb(deb_path, cache_dir), f"Debian package {deb_path.name} (apt-get download psortb)"


def load_psortb(data_dir: Path, cache_dir: Path, deb: Path | None = None, fetch: bool = True) -> LoadedSource:
    folder, note = locate_psortb(data_dir, cache_dir, deb, fetch)
    entries: list[Entry] = []
    files = []
    for rel in PSORTB_FILES:
        p = _need(folder / rel, f"PSORTb file {rel}")
        entries += parse_psortb(p.read_text(errors="replace"), rel)
        files.append((f"psortb:{rel}", p))
    return LoadedSource(PSORTB, entries, files, note)


def load_loctree3(data_dir: Path) -> LoadedSource:
    d = data_dir / "extra" / "loctree3_sp13_11"
    b = _need(d / "bact.SP13_11.fa", "LocTree3 bacterial set")
    a = _need(d / "arch.SP13_11.fa", "LocTree3 archaeal set")
    return LoadedSource(LOCTREE3, parse_loctree3(b.read_text(), "bact") + parse_loctree3(a.read_text(), "arch"),
                        [("extra/loctree3_sp13_11/bact.SP13_11.fa", b), ("extra/loctree3_sp13_11/arch.SP13_11.fa", a)])


def load_deepsece(data_dir: Path) -> LoadedSource:
    d = data_dir / "extra" / "deepsece"
    tr = _need(d / "Train-2918.fasta", "DeepSecE training set")
    te = _need(d / "Test-260.fasta", "DeepSecE test set")
    return LoadedSource(DEEPSECE, parse_deepsece(tr.read_text(), "Train-2918") + parse_deepsece(te.read_text(), "Test-260"),
                        [("extra/deepsece/Train-2918.fasta", tr), ("extra/deepsece/Test-260.fasta", te)])


def load_sources(data_dir: Path, sources: Iterable[str], cache_dir: Path,
                 psortb_deb: Path | None = None, fetch_psortb: bool = True) -> list[LoadedSource]:
    loaders: dict[str, Callable[[], LoadedSource]] = {
        BENCHMARK: lambda: load_benchmark_source(data_dir),
        GNEG_MPLOC: lambda: load_gneg_mploc(data_dir),
        GPOS_MPLOC: lambda: load_gpos_mploc(data_dir),
        PSORTB: lambda: load_psortb(data_dir, cache_dir, psortb_deb, fetch_psortb),
        LOCTREE3: lambda: load_loctree3(data_dir),
        DEEPSECE: lambda: load_deepsece(data_dir),
    }
    return [loaders[s]() for s in SOURCES if s in set(sources)]


def data_dir_from(arg: str | os.PathLike | None) -> Path:
    from ..reference import resolve_data_dir

    return resolve_data_dir(arg)
