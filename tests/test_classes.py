import numpy as np
import pytest

from protloc.classes import (
    CLASSES,
    COLOURS,
    DEEPLOCPRO_ORDER,
    apply_group_rule,
    canonical_group,
    canonical_label,
    from_deeplocpro_order,
)


def test_six_classes_with_colours():
    assert len(CLASSES) == 6
    assert set(COLOURS) == set(CLASSES)
    assert len(set(COLOURS.values())) == 6


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("CYtoplasmicMembrane", "Cytoplasmic membrane"),  # DeepLocPro, capital Y as released
        ("Cellwall", "Cell wall & surface"),
        ("CellWall", "Cell wall & surface"),
        ("OuterMembrane", "Outer membrane"),
        ("Outermembrane", "Outer membrane"),  # PSORTb typo
        ("CytoplasmicMembrane", "Cytoplasmic membrane"),  # PSORTb
        ("inner membrane", "Cytoplasmic membrane"),  # LocTree3
        ("plasma membrane", "Cytoplasmic membrane"),
        ("secreted", "Extracellular"),
        ("periplasm", "Periplasmic"),
        ("cytoplasm", "Cytoplasmic"),
        ("Cell wall & surface", "Cell wall & surface"),
    ],
)
def test_known_spellings_map(spelling, expected):
    assert canonical_label(spelling) == expected


@pytest.mark.parametrize("label", ["OuterMembrane,Extracellular", "fimbrium", "Non-effector", ""])
def test_dual_and_unmappable_labels_are_not_mapped(label):
    assert canonical_label(label) is None


def test_groups():
    assert canonical_group("Gram-negative") == "negative"
    assert canonical_group("positive") == "positive"
    assert canonical_group("any") == "unknown"
    with pytest.raises(ValueError, match="Unknown organism group"):
        canonical_group("eukaryote")


def test_group_rule_moves_outer_membrane_and_periplasm_to_extracellular():
    probs = np.array([0.1, 0.1, 0.2, 0.3, 0.2, 0.1])
    for group in ("archaea", "positive"):
        out = apply_group_rule(probs, group)
        assert out[CLASSES.index("Outer membrane")] == 0
        assert out[CLASSES.index("Periplasmic")] == 0
        assert out[CLASSES.index("Extracellular")] == pytest.approx(0.7)
        assert out.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(apply_group_rule(probs, "negative"), probs)
    np.testing.assert_array_equal(apply_group_rule(probs, "unknown"), probs)


def test_group_rule_on_a_batch():
    probs = np.tile(np.array([0.0, 0.0, 0.5, 0.5, 0.0, 0.0]), (3, 1))
    out = apply_group_rule(probs, "archaea")
    assert out[:, CLASSES.index("Extracellular")].tolist() == [1.0, 1.0, 1.0]


def test_deeplocpro_column_order():
    dlp = np.eye(6)  # row i: all mass on DeepLocPro column i
    ours = from_deeplocpro_order(dlp)
    for i, name in enumerate(DEEPLOCPRO_ORDER):
        assert CLASSES[int(ours[i].argmax())] == canonical_label(name)
