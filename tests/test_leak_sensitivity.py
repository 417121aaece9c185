"""scripts/leak_sensitivity.py reads the protein ids of each pair table of a check report."""

from scripts.leak_sensitivity import SECTIONS, pair_proteins

REPORT = """# Cross-partition check with GraphPart's criterion

| a | b | partitions | identities / columns |
|---|---|---|---|
| P1 | P2 | 0, 1 | 10/30 |

## Project's own criterion from the same hits

| a | b | partitions | identity |
|---|---|---|---|
| Q1 | P2 | 2, 3 | 0.40 |
| Q3 | Q4 | 1, 0 | 0.31 |

## Random cross-partition pairs

| x | y |
"""


def test_each_section_names_only_its_own_pairs():
    (_, *graphpart), (_, *own) = SECTIONS
    assert pair_proteins(REPORT, *graphpart) == {"P1", "P2"}
    assert pair_proteins(REPORT, *own) == {"Q1", "P2", "Q3", "Q4"}
