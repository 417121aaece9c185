"""Deduplicate entries by sequence, settle label conflicts, apply the length policy.

Rules (also written into every datasheet, see :data:`POLICY_TEXT`):

* Entries are grouped by exact sequence (upper-case letters; '*', '^', whitespace removed).
* Evidence: entries with one mappable label, a multi-label or an unmapped localization.
  DeepSecE non-effectors carry no localization and are logged and ignored.
* The strongest evidence tier present decides (:data:`sources.PRIORITY`): if any of its entries
  is multi-labelled or unmappable, or its entries disagree, the protein is dropped; otherwise
  its label is the protein's label. Weaker entries that disagree are logged as overridden and
  noted in the protein's flags.
* The group comes from the strongest entry that states one (conflicting known groups: the
  strongest wins, flagged). LocTree3 bacterial entries may get a group from their Swiss-Prot
  species mnemonic when other sources tie that species to exactly one group.
* Length policy: 40..5000 residues, and at most 10% unknown residues (X), except that benchmark
  proteins are always kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from . import sources as S
from .sources import Entry

MIN_LENGTH = 40
MAX_LENGTH = 5000
MAX_X_FRACTION = 0.10

POLICY_TEXT = f"""\
- **Labels**: each source's spelling is mapped to the 6 classes by `protloc.classes.canonical_label`.
  Entries with several locations (dual labels such as `OuterMembrane,Extracellular`, or a protein
  listed under several locations in Gneg/Gpos-mPLoc) are never mapped. Localizations outside the
  6 classes (LocTree3/Gneg-mPLoc *fimbrium*, *flagellum*) are not mapped. DeepSecE effectors
  (T1SE-T6SE) are Extracellular; DeepSecE non-effectors carry no localization and are dropped.
- **Evidence priority** (strongest first): DeepLocPro benchmark > Gneg-/Gpos-mPLoc > PSORTb >
  LocTree3 > DeepSecE.
- **Deduplication**: entries are grouped by identical sequence. The strongest tier present
  decides the label; if any entry of that tier is multi-labelled/unmappable or the tier disagrees
  with itself, the protein is dropped (`multi_label`, `unmapped_label`, `label_conflict`).
  Weaker entries that disagree are overridden (logged as `overridden_by_stronger_source`,
  flagged `conflict=`); weaker entries that agree are merged (logged as `duplicate_sequence`,
  flagged `also=`). The protein's `source`/`source_id` is the first entry of the strongest tier.
- **Organism group**: benchmark and mPLoc groups as given; LocTree3 archaeal file = archaea;
  DeepSecE = negative (Gram-negative secretion systems); PSORTb only where the label implies it
  (Outer membrane, Periplasmic = negative), else unknown (PSORTb pools groups). LocTree3 bacterial
  entries get a group from their species mnemonic (e.g. `_ECOLI`) when proteins of that species
  with a known group (benchmark, mPLoc, PSORTb OM/periplasm, identical sequences) all agree
  (flag `group_from_species`). Otherwise `unknown`.
- **Length policy**: keep {MIN_LENGTH}..{MAX_LENGTH} residues with at most {MAX_X_FRACTION:.0%} X;
  DeepLocPro benchmark proteins are always kept (they run from 9 to 4,558 residues).
- **Partition anchors**: benchmark proteins, and any protein whose UniProt accession is one of
  DeepLocPro's 11,906, keep DeepLocPro's GraphPart partition.
"""


@dataclass
class Protein:
    """One deduplicated protein (one sequence) before partitioning."""

    id: str
    source: str
    source_id: str
    sequence: str
    label: str
    group: str
    in_benchmark: bool
    entries: list[Entry]
    flags: list[str] = field(default_factory=list)
    anchor: int | None = None  # DeepLocPro partition, if any entry's accession is a DLP accession
    dlp_accession: str | None = None

    @property
    def priority(self) -> int:
        return min(e.priority for e in self.entries if e.label == self.label)


@dataclass
class Removal:
    id: str
    source: str
    source_id: str
    reason: str
    detail: str = ""


def seq_hash(seq: str) -> str:
    return hashlib.sha1(seq.encode()).hexdigest()


def entry_id(e: Entry) -> str:
    """Dataset id for an entry: UniProt accession / Swiss-Prot entry name as is, else prefixed."""
    if e.source in (S.BENCHMARK, S.GNEG_MPLOC, S.GPOS_MPLOC):
        return e.source_id
    if e.source == S.PSORTB:
        return e.source_id if S.is_uniprot_accession(e.source_id) else f"psortb_gi{e.source_id}"
    if e.source == S.LOCTREE3:
        return e.source_id
    if e.source == S.DEEPSECE:
        return "deepsece_" + e.source_id.replace(":", "_")
    return f"{e.source}_{e.source_id}"


def _sort_key(e: Entry) -> tuple:
    return (e.priority, S.SOURCES.index(e.source), e.source_id, e.raw_label)


def merge_entries(
    entries: list[Entry],
    dlp_partitions: dict[str, int] | None = None,
) -> tuple[list[Protein], list[Removal]]:
    """Deduplicate by sequence and settle labels. Returns (proteins sorted by id, removals)."""
    dlp_partitions = dlp_partitions or {}
    removals: list[Removal] = []
    by_seq: dict[str, list[Entry]] = {}
    for e in entries:
        if not e.sequence:
            removals.append(Removal(entry_id(e), e.source, e.source_id, "empty_sequence"))
            continue
        if e.status == S.NOT_LOCALIZATION:
            removals.append(Removal(entry_id(e), e.source, e.source_id, "not_localization", e.detail))
            continue
        by_seq.setdefault(e.sequence, []).append(e)

    proteins: list[Protein] = []
    for seq in sorted(by_seq, key=seq_hash):
        group_entries = sorted(by_seq[seq], key=_sort_key)
        top_tier = group_entries[0].priority
        top = [e for e in group_entries if e.priority == top_tier]
        rest = [e for e in group_entries if e.priority != top_tier]
        primary = top[0]
        pid = entry_id(primary)

        bad = [e for e in top if e.status != S.OK]
        labels = sorted({e.label for e in top if e.status == S.OK})
        if bad or len(labels) != 1:
            if bad:
                reason = bad[0].status
                detail = "; ".join(sorted({f"{e.source}:{e.raw_label}" for e in top}))
            else:
                reason = "label_conflict"
                detail = "same-tier sources disagree: " + "; ".join(
                    sorted({f"{e.source}:{e.label}" for e in top}))
            for e in group_entries:
                removals.append(Removal(entry_id(e), e.source, e.source_id, reason, detail))
            continue
        label = labels[0]

        anchors = sorted({(dlp_partitions[e.accession], e.accession) for e in group_entries
                          if e.accession and e.accession in dlp_partitions})
        anchor = None
        dlp_acc = None
        bench_anchor = [(p_, a) for p_, a in anchors
                        if any(e.source == S.BENCHMARK and e.accession == a for e in group_entries)]
        if bench_anchor:  # a benchmark protein always keeps its own partition
            anchors = bench_anchor
        if len({p for p, _ in anchors}) > 1:
            detail = "identical sequence under DeepLocPro accessions in different partitions: " + ", ".join(
                f"{a}:{p}" for p, a in anchors)
            for e in group_entries:
                removals.append(Removal(entry_id(e), e.source, e.source_id, "dlp_partition_conflict", detail))
            continue
        if anchors:
            anchor, dlp_acc = anchors[0]
        flags: list[str] = list(primary.flags)
        also = sorted({e.source for e in group_entries[1:] if e.label == label and e.source != primary.source})
        if also:
            flags.append("also=" + ",".join(also))
        conflicts = sorted({f"{e.source}:{e.label or e.raw_label}" for e in rest if e.label != label})
        if conflicts:
            flags.append("conflict=" + ",".join(c.replace(" ", "_") for c in conflicts))
        for e in group_entries[1:]:
            if e.label == label:
                removals.append(Removal(entry_id(e), e.source, e.source_id, "duplicate_sequence", f"merged into {pid}"))
            else:
                removals.append(Removal(entry_id(e), e.source, e.source_id, "overridden_by_stronger_source",
                                        f"{e.raw_label} -> kept {label} from {primary.source} ({pid})"))

        known = [(e.group, e.source) for e in group_entries if e.group != "unknown"]
        group = known[0][0] if known else "unknown"
        if len({g for g, _ in known}) > 1:
            flags.append("group_conflict=" + ",".join(sorted({f"{s}:{g}" for g, s in known})))

        in_bench = any(e.source == S.BENCHMARK for e in group_entries)
        if any(c not in "ACDEFGHIKLMNPQRSTVWY" for c in seq):
            flags.append("nonstandard_residues")
        proteins.append(Protein(pid, primary.source, primary.source_id, seq, label, group, in_bench,
                                group_entries, flags, anchor, dlp_acc))

    _infer_species_groups(proteins)
    _make_ids_unique(proteins)
    proteins.sort(key=lambda p: p.id)
    return proteins, removals


def _infer_species_groups(proteins: list[Protein]) -> None:
    """Give unknown-group proteins with a LocTree3 entry the group of their species mnemonic,
    where the proteins of that species whose group is stated by another source all agree."""
    votes: dict[str, set[str]] = {}
    for p in proteins:
        if p.group == "unknown":
            continue
        stated = [e for e in p.entries if e.group != "unknown"]
        if not stated:
            continue
        for e in p.entries:
            if e.source == S.LOCTREE3 and e.extra.get("species"):
                votes.setdefault(e.extra["species"], set()).add(p.group)
    for p in proteins:
        if p.group != "unknown":
            continue
        for e in p.entries:
            sp = e.extra.get("species") if e.source == S.LOCTREE3 else None
            if sp and len(votes.get(sp, ())) == 1:
                p.group = next(iter(votes[sp]))
                p.flags.append("group_from_species")
                break


def _make_ids_unique(proteins: list[Protein]) -> None:
    """Two sequences can share an accession (sequence versions across sources): suffix .2, .3."""
    seen: dict[str, int] = {}
    for p in sorted(proteins, key=lambda p: (p.priority, p.id, seq_hash(p.sequence))):
        n = seen.get(p.id, 0) + 1
        seen[p.id] = n
        if n > 1:
            p.flags.append(f"id_suffixed_from={p.id}")
            p.id = f"{p.id}.{n}"


def apply_length_policy(
    proteins: list[Protein],
    min_length: int = MIN_LENGTH,
    max_length: int = MAX_LENGTH,
    max_x_fraction: float = MAX_X_FRACTION,
) -> tuple[list[Protein], list[Removal]]:
    """Keep min..max residues with at most ``max_x_fraction`` X; benchmark proteins are exempt."""
    kept, removed = [], []
    for p in proteins:
        n = len(p.sequence)
        x = p.sequence.count("X") / n if n else 1.0
        if not p.in_benchmark and (n < min_length or n > max_length):
            removed.append(Removal(p.id, p.source, p.source_id, "length_policy",
                                   f"length {n} outside {min_length}..{max_length}"))
        elif not p.in_benchmark and x > max_x_fraction:
            removed.append(Removal(p.id, p.source, p.source_id, "too_many_unknown_residues", f"{x:.0%} X"))
        else:
            kept.append(p)
    return kept, removed
