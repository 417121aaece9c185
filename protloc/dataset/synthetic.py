"""Small synthetic inputs for tests: protein families and a data folder in the real layout."""

from __future__ import annotations

import random
from pathlib import Path

AMINO = "ACDEFGHIKLMNPQRSTVWY"


def random_protein(rng: random.Random, length: int) -> str:
    return "M" + "".join(rng.choice(AMINO) for _ in range(length - 1))


def mutate(rng: random.Random, seq: str, fraction: float) -> str:
    """Substitute ``fraction`` of the positions (never the first) by a different residue."""
    s = list(seq)
    positions = rng.sample(range(1, len(s)), round(fraction * (len(s) - 1)))
    for i in positions:
        s[i] = rng.choice([a for a in AMINO if a != s[i]])
    return "".join(s)


def families(n_families: int, per_family: int, seed: int = 0, length: tuple[int, int] = (120, 220),
             mutation: float = 0.35) -> dict[str, list[str]]:
    """``{family name: [sequences]}``: members are independent mutants of one random ancestor
    (pairwise identity about (1 - mutation)^2, well above 30%); families are unrelated."""
    rng = random.Random(seed)
    out = {}
    for f in range(n_families):
        anc = random_protein(rng, rng.randint(*length))
        out[f"fam{f:02d}"] = [mutate(rng, anc, mutation) for _ in range(per_family)]
    return out


def _fasta(records: list[tuple[str, str]], width: int | None = None) -> str:
    lines = []
    for h, s in records:
        lines.append(f">{h}")
        if width:
            lines += [s[i:i + width] for i in range(0, len(s), width)]
        else:
            lines.append(s)
    return "\n".join(lines) + "\n"


def write_synthetic_data_dir(root: Path, seed: int = 0) -> dict:
    """A tiny data folder laid out like ``$PROTLOC_DATA`` with every source.

    Returns facts the tests check: benchmark ids and partitions, and the expected linker.
    """
    rng = random.Random(seed + 7919)  # a stream independent of the families' ancestors
    fams = families(8, 4, seed=seed)
    names = sorted(fams)
    root = Path(root)
    (root / "deeplocpro" / "deeplocpro_heldout").mkdir(parents=True, exist_ok=True)
    ex = root / "extra"
    for d in ("loctree3_sp13_11", "gneg_mploc_mpsmvrbrl", "gpos_mploc_ruchapatil", "deepsece",
              "psortb_sclblast/gramneg", "psortb_sclblast/grampos", "psortb_sclblast/archaea"):
        (ex / d).mkdir(parents=True, exist_ok=True)

    # Benchmark: first member of families 0-4, in partitions 0..4; family 5's first member too.
    classes = ["Cytoplasmic", "CYtoplasmicMembrane", "Periplasmic", "OuterMembrane", "Extracellular", "Cellwall"]
    bench, bench_part = [], {}
    for i in range(6):
        acc = f"P0B{i:03d}"
        grp = "negative" if i < 4 else "positive"
        bench.append((f"{acc}|{classes[i]}|{grp}", fams[names[i]][0]))
        bench_part[acc] = i % 5
    (root / "deeplocpro" / "benchmarking_dataset.fasta").write_text(_fasta(bench))

    # DLP held-out CSVs: benchmark accessions plus two mPLoc accessions.
    dlp_part = dict(bench_part)
    dlp_part["Q0G001"] = 1  # gneg protein of family 6 -> anchored in partition 1
    dlp_part["Q0P001"] = 2  # gpos protein of family 7 -> anchored in partition 2
    cols = "Cellwall,Extracellular,Cytoplasmic,CYtoplasmicMembrane,OuterMembrane,Periplasmic"
    for t in range(5):
        for v in range(5):
            if v == t:
                continue
            rows = [f",{cols}"]
            for acc in sorted(a for a, p in dlp_part.items() if p == t):
                probs = [rng.random() for _ in range(6)]
                s = sum(probs)
                rows.append(acc + "," + ",".join(f"{x / s:.6f}" for x in probs))
            (root / "deeplocpro" / "deeplocpro_heldout" / f"model_{t}_{v}.csv").write_text("\n".join(rows) + "\n")

    # Gneg-mPLoc: family 6 member 0 (DLP accession), a multi-located protein, a fimbrium one.
    multi = random_protein(rng, 150)
    fimb = random_protein(rng, 160)
    gneg = [("Q0G001", fams[names[6]][0], "Cell inner membrane"), ("Q0G002", multi, "Cytoplasm"),
            ("Q0G002", multi, "Periplasm"), ("Q0G003", fimb, "Fimbrium")]
    (ex / "gneg_mploc_mpsmvrbrl" / "Gram-negative").write_text(_fasta([(a, s) for a, s, _ in gneg], 60))
    tsv = ["record_index\taccession\tgneg_mploc_location_inferred_from_block_order\tdeeplocpro_class"]
    tsv += [f"{i}\t{a}\t{loc}\t" for i, (a, _, loc) in enumerate(gneg)]
    (ex / "gneg_mploc_mpsmvrbrl" / "Gram-negative.labels.tsv").write_text("\n".join(tsv) + "\n")

    # Gpos-mPLoc: family 7 member 0 (DLP accession) as cell wall.
    (ex / "gpos_mploc_ruchapatil" / "g_data.csv").write_text(f"2,Fold2,>Q0P001,{fams[names[7]][0]}\n")

    # PSORTb: second members of families 0-3; an exact duplicate of a benchmark protein with a
    # conflicting label; a dual label; a linker (fused halves of families 0 and 1).
    linker = fams[names[0]][0][:110] + fams[names[1]][0][:110]  # halves of P0B000 and P0B001
    ps_neg = [
        ("9001 [Cytoplasmic] protein", fams[names[0]][1]),
        ("9002 [CytoplasmicMembrane] protein", fams[names[1]][1]),
        ("9003 [Periplasmic] protein", fams[names[2]][1]),
        ("9004 [OuterMembrane,Extracellular] protein", fams[names[3]][1]),
        ("9005 [Cytoplasmic] duplicate of a benchmark protein", fams[names[4]][0]),
        ("9006 [Cytoplasmic] fused protein", linker),
    ]
    (ex / "psortb_sclblast" / "gramneg" / "sclblast").write_text(_fasta(ps_neg, 60))
    (ex / "psortb_sclblast" / "grampos" / "sclblast").write_text(
        _fasta([("9101 [Cellwall] surface protein", fams[names[5]][1])], 60))
    (ex / "psortb_sclblast" / "archaea" / "sclblast").write_text(
        _fasta([("9201 [Cytoplasmic] archaeal protein", random_protein(rng, 140))], 60))
    (ex / "psortb_sclblast" / "archaea" / "sclblast+swissprot+some_manual").write_text(
        _fasta([(" Q0A001 [Extracellular] manual", random_protein(rng, 130))], 60))
    (ex / "psortb_sclblast" / "archaea" / "notes").write_text("synthetic\n")

    # LocTree3: third members of families 2-7, plus unrelated singletons.
    lt = [(f"L{i}_ECOLI#cytoplasm#cytoplasm GO:0005737(IEA); ", fams[names[i]][2]) for i in range(2, 8)]
    lt += [(f"S{i}_BACSU#secreted#extracellular GO:0005576(IDA); ", random_protein(rng, 100 + 10 * i)) for i in range(6)]
    (ex / "loctree3_sp13_11" / "bact.SP13_11.fa").write_text(_fasta(lt))
    (ex / "loctree3_sp13_11" / "arch.SP13_11.fa").write_text(
        _fasta([("A1_HALVD#plasma membrane#membrane GO:0016021(IEA); ", random_protein(rng, 180))]))

    # DeepSecE: effectors and non-effectors.
    (ex / "deepsece" / "Train-2918.fasta").write_text(_fasta(
        [(f"T3SE-{i}", random_protein(rng, 120 + i)) for i in range(3)]
        + [("Non-effector-1", random_protein(rng, 150))], 60))
    (ex / "deepsece" / "Test-260.fasta").write_text(_fasta([("T1SE-1", random_protein(rng, 200))], 60))
    return {"bench_partition": bench_part, "linker": "psortb_gi9006", "families": fams}
