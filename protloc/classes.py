"""The class vocabulary: the six localizations, organism groups and label spellings of peers.

Every label that enters protloc from outside (DeepLocPro, PSORTb, LocTree3, user files) is
mapped here and nowhere else.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

#: Canonical class names, in the fixed order used for every probability vector.
CLASSES: tuple[str, ...] = (
    "Cytoplasmic",
    "Cytoplasmic membrane",
    "Periplasmic",
    "Outer membrane",
    "Extracellular",
    "Cell wall & surface",
)

#: Column names in prediction tables, DeepLocPro-like (no spaces or ampersands).
COLUMN_NAMES: dict[str, str] = {
    "Cytoplasmic": "Cytoplasmic",
    "Cytoplasmic membrane": "Cytoplasmic Membrane",
    "Periplasmic": "Periplasmic",
    "Outer membrane": "Outer Membrane",
    "Extracellular": "Extracellular",
    "Cell wall & surface": "Cell wall & surface",
}

#: Short labels for narrow plots.
SHORT_NAMES: dict[str, str] = {
    "Cytoplasmic": "CYT",
    "Cytoplasmic membrane": "CMEM",
    "Periplasmic": "PERI",
    "Outer membrane": "OMEM",
    "Extracellular": "EXT",
    "Cell wall & surface": "CW",
}

#: One colour per class (colour-blind safe Okabe-Ito palette).
COLOURS: dict[str, str] = {
    "Cytoplasmic": "#0072B2",
    "Cytoplasmic membrane": "#E69F00",
    "Periplasmic": "#009E73",
    "Outer membrane": "#CC79A7",
    "Extracellular": "#D55E00",
    "Cell wall & surface": "#56B4E9",
}

#: DeepLocPro's own spellings (as released, including the capital Y), in its CSV column order.
DEEPLOCPRO_ORDER: tuple[str, ...] = (
    "Cellwall",
    "Extracellular",
    "Cytoplasmic",
    "CYtoplasmicMembrane",
    "OuterMembrane",
    "Periplasmic",
)

GROUPS: tuple[str, ...] = ("negative", "positive", "archaea", "unknown")

GROUP_NAMES: dict[str, str] = {
    "negative": "Gram-negative",
    "positive": "Gram-positive",
    "archaea": "Archaea",
    "unknown": "Unknown / any",
}

_GROUP_ALIASES: dict[str, str] = {
    "negative": "negative",
    "gramnegative": "negative",
    "gramneg": "negative",
    "gneg": "negative",
    "positive": "positive",
    "grampositive": "positive",
    "grampos": "positive",
    "gpos": "positive",
    "archaea": "archaea",
    "archaeal": "archaea",
    "archaeon": "archaea",
    "any": "unknown",
    "unknown": "unknown",
    "": "unknown",
}


def _squash(text: str) -> str:
    """Lower-case and drop everything but letters, so spellings compare equal."""
    return re.sub(r"[^a-z]", "", text.lower())


# Keys are squashed spellings from DeepLocPro, PSORTb, LocTree3, Gneg/Gpos-mPLoc and our own names.
_LABEL_ALIASES: dict[str, str] = {
    # Cytoplasmic
    "cytoplasmic": "Cytoplasmic",
    "cytoplasm": "Cytoplasmic",
    "cytosol": "Cytoplasmic",
    "nucleoid": "Cytoplasmic",
    # Cytoplasmic membrane
    "cytoplasmicmembrane": "Cytoplasmic membrane",
    "innermembrane": "Cytoplasmic membrane",
    "cellinnermembrane": "Cytoplasmic membrane",
    "plasmamembrane": "Cytoplasmic membrane",
    "cellmembrane": "Cytoplasmic membrane",
    # Periplasmic
    "periplasmic": "Periplasmic",
    "periplasm": "Periplasmic",
    # Outer membrane
    "outermembrane": "Outer membrane",
    "celloutermembrane": "Outer membrane",
    # Extracellular
    "extracellular": "Extracellular",
    "secreted": "Extracellular",
    # Cell wall & surface
    "cellwall": "Cell wall & surface",
    "cellwallsurface": "Cell wall & surface",
    "cellwallandsurface": "Cell wall & surface",
}


def canonical_label(label: str) -> str | None:
    """Map any known spelling of a localization to its canonical class, or None if unknown.

    Dual labels such as ``OuterMembrane,Extracellular`` are deliberately not mapped.
    """
    if "," in label or ";" in label:
        return None
    return _LABEL_ALIASES.get(_squash(label))


#: Organism groups in the order of the model's group input (index 0 = unknown).
GROUPS: tuple[str, ...] = ("unknown", "negative", "positive", "archaea")


def group_index(group: str | None) -> int:
    """Index of an organism group (any accepted spelling) in :data:`GROUPS`."""
    return GROUPS.index(canonical_group(group))


def canonical_group(group: str | None) -> str:
    """Map an organism-group spelling to negative | positive | archaea | unknown."""
    key = _squash(group or "")
    if key not in _GROUP_ALIASES:
        raise ValueError(
            f"Unknown organism group {group!r}: use one of any, negative, positive, archaea."
        )
    return _GROUP_ALIASES[key]


def class_index(label: str) -> int:
    """Index of a canonical class name in :data:`CLASSES`."""
    return CLASSES.index(label)


def from_deeplocpro_order(probs: np.ndarray) -> np.ndarray:
    """Reorder probabilities given in DeepLocPro's column order into :data:`CLASSES` order."""
    probs = np.asarray(probs, dtype=float)
    order = [DEEPLOCPRO_ORDER.index(_deeplocpro_name(c)) for c in CLASSES]
    return probs[..., order]


def _deeplocpro_name(canonical: str) -> str:
    for name in DEEPLOCPRO_ORDER:
        if canonical_label(name) == canonical:
            return name
    raise KeyError(canonical)


def apply_group_rule(probs: np.ndarray, group: str) -> np.ndarray:
    """DeepLocPro's organism-group rule on probabilities in :data:`CLASSES` order.

    Archaea and Gram-positive bacteria have no outer membrane or periplasm, so those
    probabilities are moved to Extracellular. Other groups are returned unchanged (a copy).
    """
    out = np.array(probs, dtype=float, copy=True)
    if canonical_group(group) in ("archaea", "positive"):
        ext = CLASSES.index("Extracellular")
        for name in ("Outer membrane", "Periplasmic"):
            idx = CLASSES.index(name)
            out[..., ext] += out[..., idx]
            out[..., idx] = 0.0
    return out


def apply_group_rules(probs: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """:func:`apply_group_rule` row by row, each row with its own organism group (a copy)."""
    out = np.array(probs, dtype=float, copy=True)
    groups = np.asarray(groups)
    for group in ("positive", "archaea"):
        rows = groups == group
        out[rows] = apply_group_rule(out[rows], group)
    return out


def labels_to_indices(labels: Sequence[str]) -> np.ndarray:
    """Canonical labels to integer indices; raises on any label that is not canonical."""
    return np.array([class_index(label) for label in labels], dtype=np.int64)
